# Editing evaluation: every configured method on COUNTERFACT's eval split and on zsRE,
# one result file per (method, record) (resumable), summaries, Tables 1 and 4, the text
# figures and the human-evaluation kit.

EV = section("evaluation")
ED = section("editing")
CF_METHODS = ["none"] + list(ED.get("methods", ["rome"]))
ZSRE_METHODS = ["none"] + list(ED.get("zsre_methods", ["rome"]))
GEN_TOKENS = int(EV.get("generation_tokens", 100))


def hypernet_input(method):
    """KE / MEND variants need their trained hyper-network first."""
    base, _, variant = method.partition("-")
    if base in ("ke", "mend"):
        return [f"{HYPERNET_DIR}/{base}-{variant or 'plain'}.done"]
    return []


rule evaluate_counterfact:
    input:
        records=f"{DS}/counterfact_eval.json",
        reference=f"{DS}/reference/reference_texts.json",
        stats=f"{STATS_DIR}/manifest.txt",
        hypernet=lambda w: hypernet_input(w.method),
    output:
        f"{D}/eval/counterfact/{{method}}.done",
    params:
        limit=int(EV.get("n_records", 20)),
    resources:
        gpu=1,
    shell:
        "rome evaluate --method {wildcards.method} {LM_ARGS} --dataset counterfact --records {input.records}"
        " --out-dir {D}/eval/counterfact --limit {params.limit} --generation-tokens {GEN_TOKENS} --seed {SEED}"
        " --reference-dir {DS}/reference {STATS_ARGS} --templates-dir {D}/templates"
        " --hypernet-dir {HYPERNET_DIR} --no-progress > {output}"
        + prov("evaluate_counterfact", evaluation=EV, stats=ST)


rule evaluate_zsre:
    input:
        records=f"{DS}/zsre_eval.json",
        stats=f"{STATS_DIR}/manifest.txt",
        hypernet=lambda w: hypernet_input(w.method),
    output:
        f"{D}/eval/zsre/{{method}}.done",
    params:
        limit=int(EV.get("zsre_records", 50)),
    resources:
        gpu=1,
    shell:
        "rome evaluate --method {wildcards.method} {LM_ARGS} --dataset zsre --records {input.records}"
        " --out-dir {D}/eval/zsre --limit {params.limit} --seed {SEED} {STATS_ARGS} --templates-dir {D}/templates"
        " --hypernet-dir {HYPERNET_DIR} --no-progress > {output}"
        + prov("evaluate_zsre", evaluation=EV, stats=ST)


rule summarize:
    input:
        lambda w: expand(f"{D}/eval/{w.dataset}/{{method}}.done",
                         method=CF_METHODS if w.dataset == "counterfact" else ZSRE_METHODS),
    output:
        f"{D}/eval/{{dataset}}-summary.json",
    shell:
        "rome summarize --eval-dir {D}/eval/{wildcards.dataset} --out {output} > /dev/null" + prov("summarize")


rule table4:
    input:
        f"{D}/eval/counterfact-summary.json",
    output:
        expand(f"{FIG}/table4.{{ext}}", ext=["md", "csv", "tex"]),
    shell:
        "rome render-tables --table table4 --summary {input} --out-dir {FIG} > /dev/null" + prov("table4")


rule table1:
    input:
        f"{D}/eval/zsre-summary.json",
    output:
        expand(f"{FIG}/table1.{{ext}}", ext=["md", "csv", "tex"]),
    shell:
        "rome render-tables --table table1 --summary {input} --out-dir {FIG} > /dev/null" + prov("table1")


def text_case_ids(n):
    """Configured records, or the first n that every method has results for."""
    ids = EV.get("text_records")
    return f"--case-ids {' '.join(map(str, ids[:n]))}" if ids else f"--first {n}"


TEXT_FIGURES = {
    "fig06": dict(methods=[m for m in CF_METHODS if m in ("none", "ft", "ft-l", "ke", "mend", "rome")], n=1),
    "fig19": dict(methods=CF_METHODS, n=4),
    "fig25": dict(methods=[m for m in CF_METHODS if m in ("attn", "rome")], n=1),
}


rule text_figure:
    input:
        summary=f"{D}/eval/counterfact-summary.json",
    output:
        expand(f"{FIG}/{{{{figure}}}}.{{ext}}", ext=["md", "pdf", "png"]),
    params:
        methods=lambda w: " ".join(TEXT_FIGURES[w.figure]["methods"]),
        ids=lambda w: text_case_ids(TEXT_FIGURES[w.figure]["n"]),
    wildcard_constraints:
        figure="fig06|fig19|fig25",
    shell:
        "rome render-text --figure {wildcards.figure} --eval-dir {D}/eval/counterfact --methods {params.methods}"
        " {params.ids} --out-dir {FIG} > /dev/null" + prov("text_figure")


rule human_eval_kit:
    input:
        summary=f"{D}/eval/counterfact-summary.json",
    output:
        directory(f"{FIG}/human-eval"),
    params:
        n=min(int(EV.get("n_records", 20)), 15),
    shell:
        "rome human-eval --action export --eval-dir {D}/eval/counterfact --first {params.n}"
        " --methods rome ft-l none --seed {SEED} --out-dir {output} > /dev/null"
        " && rome human-eval --action render --out-dir {output} > /dev/null" + prov("human_eval_kit")


def evaluation_targets():
    t = list(rules.table4.output) + list(rules.table1.output)
    for figure, spec in TEXT_FIGURES.items():
        if len(spec["methods"]) >= 2:
            t += expand(f"{FIG}/{figure}.{{ext}}", ext=["md", "pdf", "png"])
    if {"rome", "ft-l"} <= set(CF_METHODS):
        t.append(f"{FIG}/human-eval")
    return t
