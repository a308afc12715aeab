# Localization vs editing (Hase et al., NeurIPS 2023; google/belief-localization): on the
# same facts, the MLP tracing effect at the last subject token of layer l against ROME's
# rewrite score when editing layer l, for every configured layer (docs/evaluation.md).
#
# The facts are the first localization.n_facts known facts joined to their COUNTERFACT
# records (rome localization-facts). Their MLP traces (rome trace-batch, the settings of the
# main tracing run, MLP only, no severed paths) and their ROME edits at the last subject
# token (rome sweep) go to folders of their own; files of the main trace and of the Fig. 5
# sweep made under the same cache key are copied from there, not recomputed (--reuse-dir),
# so traced facts are never traced twice. The analysis and the figure only read files.

from rome.model.architectures import parse_layers

localrules: localization_facts, localization_analysis, render_localization

LOC = section("localization")
LOC_DIR = f"{D}/localization"
LOC_LAYERS = ",".join(str(layer) for layer in parse_layers(LOC["layers"])) if LOC["n_facts"] > 0 else ""
LOC_STEM = f"{FIG}/localization-vs-editing"


rule localization_facts:
    input:
        known=known_facts_file(),
        records=f"{DS}/counterfact_eval.json",
    output:
        f"{LOC_DIR}/facts.json",
    params:
        n=LOC["n_facts"],
        prov=prov(n_facts=LOC["n_facts"]),
        prov_dir=PROV,
    log:
        log_of("localization_facts"),
    benchmark:
        bench_of("localization_facts")
    resources:
        **res("data"),
    shell:
        shell_cmd(
            "localization_facts",
            "rome localization-facts --known-facts {input.known:q} --records {input.records:q} --n-facts {params.n}"
            " --out {output:q} > {log:q} 2>&1",
        )


rule localization_trace:
    input:
        facts=known_facts_file(),
        selection=f"{LOC_DIR}/facts.json",
        corpus=CORPUS,
        # the main trace first (when this run makes it), so its files are copied, not retraced
        reuse=[f"{D}/tracing/main.done"] if "tracing" in STAGES else [],
    output:
        f"{LOC_DIR}/traces.done",
    params:
        **model_params(),
        noise=TR["noise"],
        samples=TR["samples"],
        window=TR["window"],
        seed=SEED,
        severed_noise=TR["severed_noise"],
        noise_dir=f"{D}/tracing/noise",
        reuse_dir=f"{D}/tracing/main",
        out_dir=f"{LOC_DIR}/traces",
        prov=prov(seed=SEED, model=MODEL, noise=TR["noise"], samples=TR["samples"], window=TR["window"],
                  n_facts=LOC["n_facts"], device=DEVICE, dtype=DTYPE),
        prov_dir=PROV,
    threads: 1
    log:
        log_of("localization_trace"),
    benchmark:
        bench_of("localization_trace")
    resources:
        **res("model"),
    shell:
        shell_cmd(
            "localization_trace",
            "rome trace-batch",
            LM,
            "--facts {input.facts:q} --known-ids-from {input.selection:q} --kinds mlp --no-severed"
            " --noise {params.noise:q} --extra-tokens 0 --samples {params.samples} --window {params.window}"
            " --seed {params.seed} --known-facts {input.facts:q} --stats-dir {params.noise_dir:q}"
            " --corpus {input.corpus:q} --severed-noise {params.severed_noise:q} --reuse-dir {params.reuse_dir:q}"
            " --out-dir {params.out_dir:q} --no-progress --stdout-file {output:q} 2> {log:q}",
        )


rule localization_sweep:
    input:
        records=f"{DS}/counterfact_eval.json",
        selection=f"{LOC_DIR}/facts.json",
        stats=f"{STATS_DIR}/manifest.txt",
        # the Fig. 5 sweep first (when this run makes it), so its files are copied, not recomputed
        reuse=[f"{D}/sweep.done"] if "editing" in STAGES and SW["n_records"] > 0 else [],
    output:
        f"{LOC_DIR}/sweep.done",
    params:
        **model_params(),
        **stats_params(),
        layers=LOC_LAYERS,
        templates=f"{D}/templates",
        reuse_dir=f"{D}/sweep",
        out_dir=f"{LOC_DIR}/sweep",
        prov=prov(model=MODEL, n_facts=LOC["n_facts"], layers=LOC["layers"], stats_tokens=ST["tokens"],
                  device=DEVICE, dtype=DTYPE),
        prov_dir=PROV,
    threads: 1
    log:
        log_of("localization_sweep"),
    benchmark:
        bench_of("localization_sweep")
    resources:
        **res("model"),
    shell:
        shell_cmd(
            "localization_sweep",
            "rome sweep",
            LM,
            "--records {input.records:q} --case-ids-from {input.selection:q} --layers {params.layers:q}"
            " --tokens last_subject",
            STATS,
            "--templates-dir {params.templates:q} --reuse-dir {params.reuse_dir:q} --out-dir {params.out_dir:q}"
            " --stdout-file {output:q} 2> {log:q}",
        )


rule localization_analysis:
    input:
        selection=f"{LOC_DIR}/facts.json",
        traces=f"{LOC_DIR}/traces.done",
        sweep=f"{LOC_DIR}/sweep.done",
    output:
        f"{LOC_DIR}/analysis.json",
    params:
        traces=f"{LOC_DIR}/traces",
        sweep=f"{LOC_DIR}/sweep",
        layers=LOC_LAYERS,
        prov=prov(layers=LOC["layers"]),
        prov_dir=PROV,
    log:
        log_of("localization_analysis"),
    benchmark:
        bench_of("localization_analysis")
    resources:
        **res("data"),
    shell:
        shell_cmd(
            "localization_analysis",
            "rome localization --facts {input.selection:q} --traces {params.traces:q} --sweep-dir {params.sweep:q}"
            " --layers {params.layers:q} --out {output:q} > {log:q} 2>&1",
        )


rule render_localization:
    input:
        f"{LOC_DIR}/analysis.json",
    output:
        report([f"{LOC_STEM}.pdf", f"{LOC_STEM}.png"], caption=f"{REPORT}/localization.rst", category="localization"),
        report([f"{LOC_STEM}.md", f"{LOC_STEM}.csv"], caption=f"{REPORT}/localization.rst", category="localization"),
    params:
        stem=LOC_STEM,
        title=MODEL,
        prov=prov(),
        prov_dir=PROV,
    log:
        log_of("render_localization"),
    benchmark:
        bench_of("render_localization")
    resources:
        **res("render"),
    shell:
        shell_cmd(
            "render_localization",
            "rome render-localization --analysis {input:q} --out {params.stem:q} --title {params.title:q}"
            " > {log:q} 2>&1",
        )


def localization_targets():
    return list(rules.render_localization.output) if LOC["n_facts"] > 0 else []
