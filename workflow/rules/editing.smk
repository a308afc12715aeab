# ROME's layer x token sweep (Fig. 5), hyper-network training (KE, MEND and their -CF /
# -zsRE variants), and the FT / FT+L / AttnEdit sweeps (Figs. 17, 18, 23, 24).

SW = section("sweep")
HN = section("hypernets")
BS = section("baseline_sweeps")


def train_data(variant):
    """(command-line flag, input files) of a hyper-network training variant."""
    if variant == "plain":
        return ["--corpus", CORPUS], [CORPUS]
    if variant == "cf":
        return (["--records", f"{DS}/counterfact_train.json", "--exclude-split", f"{DS}/split.json"],
                [f"{DS}/counterfact_train.json", f"{DS}/split.json"])
    return ["--records", zsre_input("train")], [zsre_input("train")]


rule rome_sweep:
    input:
        records=f"{DS}/counterfact_eval.json",
        stats=f"{STATS_DIR}/manifest.txt",
    output:
        f"{D}/sweep.done",
    params:
        **model_params(),
        **stats_params(),
        n=SW["n_records"],
        layers=SW["layers"],
        templates=f"{D}/templates",
        out_dir=f"{D}/sweep",
        prov=prov(model=MODEL, n_records=SW["n_records"], layers=SW["layers"], stats_tokens=ST["tokens"], device=DEVICE,
                  dtype=DTYPE),
        prov_dir=PROV,
    threads: 1
    log:
        log_of("rome_sweep"),
    benchmark:
        bench_of("rome_sweep")
    resources:
        **res("model"),
    shell:
        shell_cmd(
            "rome_sweep",
            "rome sweep",
            LM,
            "--records {input.records:q} --n-records {params.n} --layers {params.layers:q}",
            STATS,
            "--templates-dir {params.templates:q} --out-dir {params.out_dir:q} --stdout-file {output:q} 2> {log:q}",
        )


rule fig5:
    input:
        f"{D}/sweep.done",
    output:
        report(f"{FIG}/fig5.pdf", caption=f"{REPORT}/fig05.rst", category="editing"),
        report(f"{FIG}/fig5.png", caption=f"{REPORT}/fig05.rst", category="editing"),
    params:
        sweep_dir=f"{D}/sweep",
        stem=f"{FIG}/fig5",
        title=MODEL,
        prov=prov(),
        prov_dir=PROV,
    log:
        log_of("fig5"),
    benchmark:
        bench_of("fig5")
    resources:
        **res("render"),
    shell:
        shell_cmd(
            "fig5",
            "rome render-sweep --sweep-dir {params.sweep_dir:q} --out {params.stem:q} --title"
            " {params.title:q} > {log:q} 2>&1",
        )


rule train_hypernet:
    input:
        lambda w: train_data(w.variant)[1],
    output:
        f"{HYPERNET_DIR}/{{method}}-{{variant}}.done",
    params:
        **model_params(),
        data=lambda w: train_data(w.variant)[0],
        steps=HN["steps"],
        batch=HN["batch_size"],
        seed=SEED,
        out_dir=HYPERNET_DIR,
        prov=prov(seed=SEED, model=MODEL, steps=HN["steps"], batch_size=HN["batch_size"], device=DEVICE, dtype=DTYPE),
        prov_dir=PROV,
    wildcard_constraints:
        method="ke|mend",
        variant="plain|cf|zsre",
    threads: 1
    log:
        log_of("train_hypernet", "method", "variant"),
    benchmark:
        bench_of("train_hypernet", "method", "variant")
    resources:
        **res("model"),
    shell:
        shell_cmd(
            "train_hypernet",
            "rome train --method {wildcards.method} --variant {wildcards.variant}",
            LM,
            "{params.data:q} --steps {params.steps} --batch-size {params.batch} --seed {params.seed}"
            " --out-dir {params.out_dir:q} --no-progress --stdout-file {output:q} 2> {log:q}",
        )


def sweep_epsilons(method):
    """FT+L and AttnEdit sweep the norm bound epsilon; FT has none."""
    if method == "ft":
        return []
    return ["--epsilons", ",".join(str(e) for e in BS["epsilons"])]


rule baseline_sweep:
    input:
        records=f"{DS}/counterfact_eval.json",
    output:
        f"{D}/baseline_sweeps/{{method}}.done",
    params:
        **model_params(),
        n=BS["n_records"],
        layers=lambda w: ["--layers", BS["ft_layers"]] if w.method in ("ft", "ft-l") else [],
        eps=lambda w: sweep_epsilons(w.method),
        out_dir=lambda w: f"{D}/baseline_sweeps/{w.method}",
        prov=lambda w: prov(model=MODEL, n_records=BS["n_records"], ft_layers=BS["ft_layers"], epsilons=BS["epsilons"],
                            device=DEVICE, dtype=DTYPE),
        prov_dir=PROV,
    wildcard_constraints:
        method="ft|ft-l|attn",
    threads: 1
    log:
        log_of("baseline_sweep", "method"),
    benchmark:
        bench_of("baseline_sweep", "method")
    resources:
        **res("model"),
    shell:
        shell_cmd(
            "baseline_sweep",
            "rome baseline-sweep --method {wildcards.method}",
            LM,
            "--records {input.records:q} --n-records {params.n} {params.layers:q} {params.eps:q}"
            " --out-dir {params.out_dir:q} --no-progress --stdout-file {output:q} 2> {log:q}",
        )


BASELINE_FIGS = {"fig17_ft_sweep": "fig17", "fig23_attn_sweep": "fig23", "fig24_boxplots": "fig24"}


rule render_baselines:
    input:
        ft=f"{D}/baseline_sweeps/ft.done",
        ftl=f"{D}/baseline_sweeps/ft-l.done",
        attn=f"{D}/baseline_sweeps/attn.done",
        rome=f"{D}/eval/counterfact/rome.done",
    output:
        [report(_fig(f"baselines/{stem}"), caption=f"{REPORT}/{item}.rst", category="editing")
         for stem, item in BASELINE_FIGS.items()],
    params:
        sweep_dir=f"{D}/baseline_sweeps",
        rome_dir=f"{D}/eval/counterfact/rome",
        out_dir=f"{FIG}/baselines",
        title=MODEL,
        prov=prov(),
        prov_dir=PROV,
    log:
        log_of("render_baselines"),
    benchmark:
        bench_of("render_baselines")
    resources:
        **res("render"),
    shell:
        shell_cmd(
            "render_baselines",
            "rome render-baselines --sweep-dir {params.sweep_dir:q} --rome-dir {params.rome_dir:q}"
            " --out-dir {params.out_dir:q} --title {params.title:q} > {log:q} 2>&1",
        )


def editing_targets():
    t = []
    if SW["n_records"] > 0:
        t += list(rules.fig5.output)
    if BS["n_records"] > 0:
        t += list(rules.render_baselines.output)
    return t
