# ROME's layer x token sweep (Fig. 5), hyper-network training (KE, MEND and their -CF /
# -zsRE variants), and the FT / FT+L / AttnEdit sweeps (Figs. 17, 18, 23, 24).

SW = section("sweep")
HN = section("hypernets")
BS = section("baseline_sweeps")
TRAIN_DATA = {
    "plain": lambda: dict(flag=f"--corpus {CORPUS}", files=[CORPUS]),
    "cf": lambda: dict(flag=f"--records {DS}/counterfact_train.json --exclude-split {DS}/split.json",
                       files=[f"{DS}/counterfact_train.json", f"{DS}/split.json"]),
    "zsre": lambda: dict(flag=f"--records {zsre_file('train')}", files=[zsre_file("train")]),
}


rule rome_sweep:
    input:
        records=f"{DS}/counterfact_eval.json",
        stats=f"{STATS_DIR}/manifest.txt",
    output:
        f"{D}/sweep.done",
    params:
        n=int(SW.get("n_records", 4)),
        layers=SW.get("layers", "0-17"),
    resources:
        gpu=1,
    shell:
        "rome sweep {LM_ARGS} --records {input.records} --n-records {params.n} --layers {params.layers}"
        " {STATS_ARGS} --templates-dir {D}/templates --out-dir {D}/sweep > {output}"
        + prov("rome_sweep", sweep=SW, stats=ST)


rule fig5:
    input:
        f"{D}/sweep.done",
    output:
        f"{FIG}/fig5.pdf",
        f"{FIG}/fig5.png",
    shell:
        "rome render-sweep --sweep-dir {D}/sweep --out {FIG}/fig5 --title '{MODEL}' > /dev/null" + prov("fig5")


rule train_hypernet:
    input:
        lambda w: TRAIN_DATA[w.variant]()["files"],
    output:
        f"{HYPERNET_DIR}/{{method}}-{{variant}}.done",
    params:
        data=lambda w: TRAIN_DATA[w.variant]()["flag"],
        steps=int(HN.get("steps", 100)),
        batch=int(HN.get("batch_size", 4)),
    wildcard_constraints:
        method="ke|mend",
        variant="plain|cf|zsre",
    resources:
        gpu=1,
    shell:
        "rome train --method {wildcards.method} --variant {wildcards.variant} {LM_ARGS} {params.data}"
        " --steps {params.steps} --batch-size {params.batch} --seed {SEED} --out-dir {HYPERNET_DIR}"
        " --no-progress > {output}" + prov("train_hypernet", hypernets=HN)


rule baseline_sweep:
    input:
        records=f"{DS}/counterfact_eval.json",
    output:
        f"{D}/baseline_sweeps/{{method}}.done",
    params:
        n=int(BS.get("n_records", 4)),
        layers=lambda w: f"--layers {BS.get('ft_layers', '0-17:6')}" if w.method in ("ft", "ft-l") else "",
        eps=lambda w: "--epsilons " + ",".join(
            (["none"] if w.method == "ft" else []) + [str(e) for e in BS.get("epsilons", [1e-3])]
        ) if w.method != "ft" else "",
    wildcard_constraints:
        method="ft|ft-l|attn",
    resources:
        gpu=1,
    shell:
        "rome baseline-sweep --method {wildcards.method} {LM_ARGS} --records {input.records}"
        " --n-records {params.n} {params.layers} {params.eps} --out-dir {D}/baseline_sweeps/{wildcards.method}"
        " --no-progress > {output}" + prov("baseline_sweep", baseline_sweeps=BS)


rule render_baselines:
    input:
        ft=f"{D}/baseline_sweeps/ft.done",
        ftl=f"{D}/baseline_sweeps/ft-l.done",
        attn=f"{D}/baseline_sweeps/attn.done",
        rome=f"{D}/eval/counterfact/rome.done",
    output:
        directory(f"{FIG}/baselines"),
    shell:
        "rome render-baselines --sweep-dir {D}/baseline_sweeps --rome-dir {D}/eval/counterfact/rome"
        " --out-dir {output} --title '{MODEL}' > /dev/null" + prov("render_baselines")


def editing_targets():
    t = []
    if int(SW.get("n_records", 0)) > 0:
        t += list(rules.fig5.output)
    if int(BS.get("n_records", 0)) > 0:
        t.append(f"{FIG}/baselines")
    return t
