# Causal tracing over the model's known facts (Figs. 1-3, 7-16). Per-fact result files
# live under data/runs/<run>/tracing/<variant>/ (resumable); each batch ends in a .done file.
# Individual traces: Figs. 10/14 for tracing.examples, Fig. 1 (the paper's prompt when it is
# traced, else the first example), Fig. 11 (atypical facts, by the rule in
# workflow/scripts/render_traces.py), Fig. 12 (the examples with an extra corrupted token).
# Fig. 16 (integrated-gradients saliency) is one JSON per fact of tracing.saliency_examples;
# Figs. 8/9 put this run's averages beside other runs' (tracing.compare_runs).

TR = section("tracing")
TRACE_VARIANTS = {"main": dict(noise=TR["noise"], extra=0, n=TR["n_facts"], severed=True)}
for _rule in TR["noise_variants"]:
    # file-name safe: "u0.5" -> "noise-u0p5" (a dot would read as a file suffix)
    TRACE_VARIANTS[f"noise-{str(_rule).replace('.', 'p')}"] = dict(noise=_rule, extra=0, n=TR["variant_facts"], severed=False)
if TR["variant_facts"] > 0:
    TRACE_VARIANTS["extra1"] = dict(noise=TR["noise"], extra=1, n=TR["variant_facts"], severed=False)
# individual traces: only facts that are traced
EXAMPLES = [k for k in TR["examples"] if k < TR["n_facts"]]
EXTRA_EXAMPLES = [k for k in TR["examples"] if k < TR["variant_facts"]]
N_ATYPICAL = min(TR["atypical_examples"], TR["n_facts"])
# Fig. 16: known_ids explained by integrated gradients (default: the first two examples)
SALIENCY_EXAMPLES = list(TR["examples"][:2] if TR["saliency_examples"] is None else TR["saliency_examples"])


def compare_runs():
    """Figs. 8/9: [(name, summary dir)] of this run and of each tracing.compare_runs entry.

    Other runs' summaries come from other configurations (other snakemake invocations), so
    they are not produced here: an entry whose summary.json is missing when the DAG is
    planned is left out with a warning, and Figs. 8/9 are planned when at least one other
    run is present (a later invocation, once the other run exists, redraws them).
    """
    found = []
    for entry in TR["compare_runs"]:
        summary = str(entry["summary"]).rstrip("/")
        if Path(summary, "summary.json").is_file():
            found.append((str(entry["name"]), summary))
        else:
            print(f"warning: tracing.compare_runs: {summary}/summary.json does not exist yet (run the "
                  f"configuration of {entry['name']!r} first); Figs. 8/9 leave it out", file=sys.stderr)
    if not found:
        return []
    return [(MODEL, f"{D}/tracing/main-summary")] + found


COMPARE = compare_runs()


def _fig(stem):
    return [f"{FIG}/{stem}.pdf", f"{FIG}/{stem}.png"]


def _report(stem, item, category="tracing"):
    return report(_fig(stem), caption=f"{REPORT}/{item}.rst", category=category)


rule trace_batch:
    input:
        facts=known_facts_file(),
        corpus=CORPUS,  # token-embedding Gaussian of noise rules m and t<d>
    output:
        f"{D}/tracing/{{variant}}.done",
    params:
        **model_params(),
        n=lambda w: TRACE_VARIANTS[w.variant]["n"],
        noise=lambda w: TRACE_VARIANTS[w.variant]["noise"],
        extra=lambda w: TRACE_VARIANTS[w.variant]["extra"],
        severed=lambda w: [] if TRACE_VARIANTS[w.variant]["severed"] else ["--no-severed"],
        kinds=",".join(TR["kinds"]),
        samples=TR["samples"],
        window=TR["window"],
        seed=SEED,
        severed_noise=TR["severed_noise"],
        noise_dir=f"{D}/tracing/noise",
        out_dir=lambda w: f"{D}/tracing/{w.variant}",
        prov=lambda w: prov(seed=SEED, model=MODEL, variant=TRACE_VARIANTS[w.variant], kinds=TR["kinds"], samples=TR["samples"],
                            window=TR["window"], device=DEVICE, dtype=DTYPE),
        prov_dir=PROV,
    wildcard_constraints:
        variant="|".join(re.escape(v) for v in TRACE_VARIANTS),
    threads: 1
    log:
        log_of("trace_batch", "variant"),
    benchmark:
        bench_of("trace_batch", "variant")
    resources:
        **res("model"),
    shell:
        shell_cmd(
            "trace_batch",
            "rome trace-batch",
            LM,
            "--facts {input.facts:q} --limit {params.n} --kinds {params.kinds:q} --noise {params.noise:q}"
            " --extra-tokens {params.extra} --samples {params.samples} --window {params.window} --seed"
            " {params.seed} --known-facts {input.facts:q} --stats-dir {params.noise_dir:q}"
            " --corpus {input.corpus:q} --severed-noise {params.severed_noise:q}"
            " {params.severed:q} --out-dir {params.out_dir:q} --stdout-file {output:q} 2> {log:q}",
        )


rule trace_summary:
    input:
        f"{D}/tracing/{{variant}}.done",
    output:
        summary=f"{D}/tracing/{{variant}}-summary/summary.json",
    params:
        results=lambda w: f"{D}/tracing/{w.variant}",
        out_dir=lambda w: f"{D}/tracing/{w.variant}-summary",
        model=MODEL,
        all_facts=[] if TR["only_correct"] else ["--all-facts"],
        prov=prov(only_correct=TR["only_correct"]),
        prov_dir=PROV,
    log:
        log_of("trace_summary", "variant"),
    benchmark:
        bench_of("trace_summary", "variant")
    resources:
        **res("data"),
    shell:
        shell_cmd(
            "trace_summary",
            "rome trace-summary --results {params.results:q} --out-dir {params.out_dir:q} --model"
            " {params.model:q} {params.all_facts:q} > {log:q} 2>&1",
        )


rule render_tracing_main:
    input:
        summary=f"{D}/tracing/main-summary/summary.json",
        done=f"{D}/tracing/main.done",
    output:
        _report("fig2-aie-heatmaps", "fig02"),
        _report("fig7-aie-lines", "fig07"),
        _report("fig3-severed", "fig03"),
        [_report(f"fig10-trace-{kid}", "fig10") for kid in EXAMPLES],
        [_report(f"fig14-severed-{kid}", "fig14") for kid in EXAMPLES],
    params:
        summary_dir=f"{D}/tracing/main-summary",
        results=f"{D}/tracing/main",
        examples=",".join(map(str, EXAMPLES)),
        out_dir=FIG,
        title=MODEL,
        prov=prov(examples=EXAMPLES),
        prov_dir=PROV,
    log:
        log_of("render_tracing_main"),
    benchmark:
        bench_of("render_tracing_main")
    resources:
        **res("render"),
    shell:
        shell_cmd(
            "render_tracing_main",
            "rome render-tracing --summary-dir {params.summary_dir:q} --results {params.results:q}"
            " --examples {params.examples:q} --out-dir {params.out_dir:q} --prefix fig --title"
            " {params.title:q} > {log:q} 2>&1",
        )


rule render_fig1:
    input:
        facts=known_facts_file(),
        done=f"{D}/tracing/main.done",
    output:
        _report("fig1-trace", "fig01"),
    params:
        figure="fig1",
        results=f"{D}/tracing/main",
        examples=EXAMPLES or [0],
        prov=prov(examples=EXAMPLES),
        prov_dir=PROV,
    log:
        log_of("render_fig1"),
    benchmark:
        bench_of("render_fig1")
    resources:
        **res("render"),
    script:
        "../scripts/render_traces.py"


rule render_fig11:
    input:
        done=f"{D}/tracing/main.done",
    output:
        [_report(f"fig11-atypical-{i}", "fig11") for i in range(1, N_ATYPICAL + 1)],
    params:
        figure="fig11",
        results=f"{D}/tracing/main",
        stem=f"{FIG}/fig11-atypical",
        prov=prov(atypical_examples=N_ATYPICAL),
        prov_dir=PROV,
    log:
        log_of("render_fig11"),
    benchmark:
        bench_of("render_fig11")
    resources:
        **res("render"),
    script:
        "../scripts/render_traces.py"


rule render_fig12:
    input:
        done=f"{D}/tracing/extra1.done",
    output:
        [_report(f"fig12-extra1-trace-{kid}", "fig12") for kid in EXTRA_EXAMPLES],
    params:
        figure="fig12",
        results=f"{D}/tracing/extra1",
        stem=f"{FIG}/fig12-extra1-trace",
        examples=EXTRA_EXAMPLES,
        prov=prov(examples=EXTRA_EXAMPLES),
        prov_dir=PROV,
    log:
        log_of("render_fig12"),
    benchmark:
        bench_of("render_fig12")
    resources:
        **res("render"),
    script:
        "../scripts/render_traces.py"


rule render_tracing_variant:
    input:
        summary=f"{D}/tracing/{{variant}}-summary/summary.json",
    output:
        report(_fig("fig{number}-{variant}-2-aie-heatmaps") + _fig("fig{number}-{variant}-7-aie-lines"),
               caption=f"{REPORT}/tracing_variant.rst", category="tracing"),
    wildcard_constraints:
        number="13|15",
    params:
        summary_dir=lambda w: f"{D}/tracing/{w.variant}-summary",
        out_dir=FIG,
        prefix=lambda w: f"fig{w.number}-{w.variant}-",
        title=lambda w: f"{MODEL} ({w.variant})",
        prov=prov(),
        prov_dir=PROV,
    log:
        log_of("render_tracing_variant", "number", "variant"),
    benchmark:
        bench_of("render_tracing_variant", "number", "variant")
    resources:
        **res("render"),
    shell:
        shell_cmd(
            "render_tracing_variant",
            "rome render-tracing --summary-dir {params.summary_dir:q} --out-dir {params.out_dir:q}"
            " --prefix {params.prefix:q} --title {params.title:q} > {log:q} 2>&1",
        )


rule saliency:
    input:
        facts=known_facts_file(),
    output:
        f"{D}/tracing/saliency/{{kid}}.json",
    wildcard_constraints:
        kid=r"\d+",
    params:
        **model_params(),
        prov=prov(model=MODEL, device=DEVICE, dtype=DTYPE),
        prov_dir=PROV,
    threads: 1
    log:
        log_of("saliency", "kid"),
    benchmark:
        bench_of("saliency", "kid")
    resources:
        **res("model"),
    shell:
        shell_cmd(
            "saliency",
            "rome saliency",
            LM,
            "--facts {input.facts:q} --known-id {wildcards.kid} --out {output:q} > {log:q} 2>&1",
        )


rule render_saliency:
    input:
        f"{D}/tracing/saliency/{{kid}}.json",
    output:
        report(_fig("fig16-saliency-{kid}"), caption=f"{REPORT}/fig16.rst", category="tracing"),
    wildcard_constraints:
        kid=r"\d+",
    params:
        out_dir=FIG,
        prov=prov(),
        prov_dir=PROV,
    log:
        log_of("render_saliency", "kid"),
    benchmark:
        bench_of("render_saliency", "kid")
    resources:
        **res("render"),
    shell:
        shell_cmd(
            "render_saliency",
            "rome render-tracing --saliency {input:q} --out-dir {params.out_dir:q} --prefix fig > {log:q}"
            " 2>&1",
        )


rule render_tracing_compare:
    input:
        [f"{folder}/summary.json" for _, folder in COMPARE],
    output:
        _report("fig8-models-aie-heatmaps", "fig08"),
        _report("fig9-models-aie-lines", "fig09"),
    params:
        compare=[arg for name, folder in COMPARE for arg in ("--compare", f"{name}={folder}")],
        out_dir=FIG,
        prov=prov(compare=COMPARE),
        prov_dir=PROV,
    log:
        log_of("render_tracing_compare"),
    benchmark:
        bench_of("render_tracing_compare")
    resources:
        **res("render"),
    shell:
        shell_cmd(
            "render_tracing_compare",
            "rome render-tracing {params.compare:q} --out-dir {params.out_dir:q} --prefix fig > {log:q}"
            " 2>&1",
        )


def tracing_targets():
    t = list(rules.render_tracing_main.output) + list(rules.render_fig1.output) + list(rules.render_fig11.output)
    if "extra1" in TRACE_VARIANTS:
        t += list(rules.render_fig12.output)
    for kid in SALIENCY_EXAMPLES:
        t += _fig(f"fig16-saliency-{kid}")
    if COMPARE:
        t += list(rules.render_tracing_compare.output)
    for variant in TRACE_VARIANTS:
        if variant == "main":
            continue
        number = 15 if variant.startswith("extra") else 13
        t += _fig(f"fig{number}-{variant}-2-aie-heatmaps") + _fig(f"fig{number}-{variant}-7-aie-lines")
    return t
