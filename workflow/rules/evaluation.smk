# Editing evaluation: every configured method on COUNTERFACT's eval split and on zsRE,
# one result file per (method, record) (resumable), summaries, Tables 1 and 4 (and 5/6 from
# the runs named in evaluation.compare_runs), the text figures and the human-evaluation kit.

EV = section("evaluation")
ED = section("editing")
CF_METHODS = ["none"] + list(ED["methods"])
ZSRE_METHODS = ["none"] + list(ED["zsre_methods"])


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
        **model_params(),
        **stats_params(),
        limit=EV["n_records"],
        generation_tokens=EV["generation_tokens"],
        strict=("--match-slack {} --nkl-direction {} --nkl-reduction {}".format(
            EV["generation_match_slack"], EV["nkl_direction"], EV["nkl_reduction"]) if EV["strict_metrics"] else "--no-strict"),
        seed=SEED,
        out_dir=f"{D}/eval/counterfact",
        reference_dir=f"{DS}/reference",
        templates=f"{D}/templates",
        hypernet_dir=HYPERNET_DIR,
        prov=prov(seed=SEED, model=MODEL, n_records=EV["n_records"], generation_tokens=EV["generation_tokens"], stats_tokens=ST["tokens"],
                  strict_metrics=EV["strict_metrics"], generation_match_slack=EV["generation_match_slack"],
                  nkl_direction=EV["nkl_direction"], nkl_reduction=EV["nkl_reduction"],
                  device=DEVICE, dtype=DTYPE),
        prov_dir=PROV,
    threads: 1
    log:
        log_of("evaluate_counterfact", "method"),
    benchmark:
        bench_of("evaluate_counterfact", "method")
    resources:
        **res("model"),
    shell:
        shell_cmd(
            "evaluate_counterfact",
            "rome evaluate --method {wildcards.method}",
            LM,
            "--dataset counterfact --records {input.records:q} --out-dir {params.out_dir:q} --limit"
            " {params.limit} --generation-tokens {params.generation_tokens} --seed {params.seed}"
            " --reference-dir {params.reference_dir:q} {params.strict}",
            STATS,
            "--templates-dir {params.templates:q} --hypernet-dir {params.hypernet_dir:q} --no-progress"
            " --stdout-file {output:q} 2> {log:q}",
        )


rule evaluate_zsre:
    input:
        records=f"{DS}/zsre_eval.json",
        stats=f"{STATS_DIR}/manifest.txt",
        hypernet=lambda w: hypernet_input(w.method),
    output:
        f"{D}/eval/zsre/{{method}}.done",
    params:
        **model_params(),
        **stats_params(),
        limit=EV["zsre_records"],
        seed=SEED,
        out_dir=f"{D}/eval/zsre",
        templates=f"{D}/templates",
        hypernet_dir=HYPERNET_DIR,
        prov=prov(seed=SEED, model=MODEL, zsre_records=EV["zsre_records"], stats_tokens=ST["tokens"], device=DEVICE, dtype=DTYPE),
        prov_dir=PROV,
    threads: 1
    log:
        log_of("evaluate_zsre", "method"),
    benchmark:
        bench_of("evaluate_zsre", "method")
    resources:
        **res("model"),
    shell:
        shell_cmd(
            "evaluate_zsre",
            "rome evaluate --method {wildcards.method}",
            LM,
            "--dataset zsre --records {input.records:q} --out-dir {params.out_dir:q} --limit"
            " {params.limit} --seed {params.seed}",
            STATS,
            "--templates-dir {params.templates:q} --hypernet-dir {params.hypernet_dir:q} --no-progress"
            " --stdout-file {output:q} 2> {log:q}",
        )


def eval_methods(dataset):
    """The configured methods of one dataset's evaluation, the unedited model first."""
    return CF_METHODS if dataset == "counterfact" else ZSRE_METHODS


rule summarize:
    input:
        lambda w: expand(f"{D}/eval/{w.dataset}/{{method}}.done", method=eval_methods(w.dataset)),
    output:
        f"{D}/eval/{{dataset}}-summary.json",
    wildcard_constraints:
        dataset="counterfact|zsre",
    params:
        eval_dir=lambda w: f"{D}/eval/{w.dataset}",
        # the configured methods, in the configured order (a folder left by another configuration
        # never becomes a row)
        methods=lambda w: ",".join(eval_methods(w.dataset)),
        prov=prov(),
        prov_dir=PROV,
    log:
        log_of("summarize", "dataset"),
    benchmark:
        bench_of("summarize", "dataset")
    resources:
        **res("data"),
    shell:
        shell_cmd(
            "summarize",
            "rome summarize --eval-dir {params.eval_dir:q} --methods {params.methods:q} --out {output:q} > {log:q} 2>&1",
        )


def other_summaries(dataset):
    """Tables 5/6: the summaries of the runs named in evaluation.compare_runs that exist when
    the DAG is planned (others are left out with a warning, as Figs. 8/9 do)."""
    found = []
    for entry in EV["compare_runs"]:
        path = entry.get(dataset)
        if not path:
            continue
        if Path(path).is_file():
            found.append(path)
        else:
            print(f"warning: evaluation.compare_runs: {path} does not exist yet (run the configuration of "
                  f"{entry['name']!r} first); Table {5 if dataset == 'counterfact' else 6} leaves it out",
                  file=sys.stderr)
    return found


TABLES = {  # table -> (dataset, summaries, paper item)
    "table4": ("counterfact", [f"{D}/eval/counterfact-summary.json"]),
    # Table 4's metrics beside the strict ones (docs/evaluation.md): same summary, N and intervals
    "table4-strict": ("counterfact", [f"{D}/eval/counterfact-summary.json"]),
    "table1": ("zsre", [f"{D}/eval/zsre-summary.json"]),
    "table5": ("counterfact", other_summaries("counterfact")),
    "table6": ("zsre", other_summaries("zsre")),
}


rule render_table:
    input:
        lambda w: TABLES[w.table][1],
    output:
        report(expand(f"{FIG}/{{{{table}}}}.{{ext}}", ext=["md", "csv", "tex"]), caption=f"{REPORT}/table.rst",
               category="evaluation"),
    wildcard_constraints:
        table="table1|table4|table5|table6|table4-strict",
    params:
        out_dir=FIG,
        zsre_train=ZSRE_TRAIN_NOTE,
        prov=prov(),
        prov_dir=PROV,
    log:
        log_of("render_table", "table"),
    benchmark:
        bench_of("render_table", "table")
    resources:
        **res("render"),
    shell:
        shell_cmd(
            "render_table",
            "rome render-tables --table {wildcards.table} --summary {input:q} --out-dir"
            " {params.out_dir:q} > {log:q} 2>&1",
        )


def text_case_ids(n):
    """Configured records, or the first n that every method has results for."""
    ids = EV["text_records"]
    return ["--case-ids", *map(str, ids[:n])] if ids else ["--first", str(n)]


TEXT_FIGURES = {
    "fig06": dict(methods=[m for m in CF_METHODS if m in ("none", "ft", "ft-l", "ke", "mend", "rome")], n=1),
    "fig19": dict(methods=CF_METHODS, n=4),
    "fig25": dict(methods=[m for m in CF_METHODS if m in ("attn", "rome")], n=1),
}


rule text_figure:
    input:
        summary=f"{D}/eval/counterfact-summary.json",
    output:
        report(expand(f"{FIG}/{{{{figure}}}}.{{ext}}", ext=["md", "pdf", "png"]), caption=f"{REPORT}/text_figure.rst",
               category="evaluation"),
    params:
        methods=lambda w: TEXT_FIGURES[w.figure]["methods"],
        ids=lambda w: text_case_ids(TEXT_FIGURES[w.figure]["n"]),
        eval_dir=f"{D}/eval/counterfact",
        out_dir=FIG,
        prov=lambda w: prov(methods=TEXT_FIGURES[w.figure]["methods"], text_records=EV["text_records"]),
        prov_dir=PROV,
    wildcard_constraints:
        figure="fig06|fig19|fig25",
    log:
        log_of("text_figure", "figure"),
    benchmark:
        bench_of("text_figure", "figure")
    resources:
        **res("render"),
    shell:
        shell_cmd(
            "text_figure",
            "rome render-text --figure {wildcards.figure} --eval-dir {params.eval_dir:q} --methods"
            " {params.methods:q} {params.ids:q} --out-dir {params.out_dir:q} > {log:q} 2>&1",
        )


HUMAN_EVAL = f"{FIG}/human-eval"


rule human_eval_kit:
    input:
        summary=f"{D}/eval/counterfact-summary.json",
    output:
        report(f"{HUMAN_EVAL}/sheets.html", caption=f"{REPORT}/fig27.rst", category="evaluation"),
        report(f"{HUMAN_EVAL}/instructions.html", caption=f"{REPORT}/fig30.rst", category="evaluation"),
        report(_fig("human-eval/fig26_human_eval"), caption=f"{REPORT}/fig26.rst", category="evaluation"),
        f"{HUMAN_EVAL}/sheets.csv",
        f"{HUMAN_EVAL}/answer_key.csv",
        f"{HUMAN_EVAL}/ratings_template.csv",
    params:
        n=min(EV["n_records"], 15),
        seed=SEED,
        eval_dir=f"{D}/eval/counterfact",
        out_dir=HUMAN_EVAL,
        prov=prov(seed=SEED, n=min(EV["n_records"], 15)),
        prov_dir=PROV,
    log:
        log_of("human_eval_kit"),
    benchmark:
        bench_of("human_eval_kit")
    resources:
        **res("render"),
    shell:
        shell_cmd(
            "human_eval_kit",
            "rome human-eval --action export --eval-dir {params.eval_dir:q} --first {params.n} --methods"
            " rome ft-l none --seed {params.seed} --out-dir {params.out_dir:q} > {log:q} 2>&1 && rome"
            " human-eval --action render --out-dir {params.out_dir:q} >> {log:q} 2>&1",
        )


def evaluation_targets():
    t = expand(f"{FIG}/{{table}}.{{ext}}", table=["table4", "table1"], ext=["md", "csv", "tex"])
    if EV["strict_metrics"]:
        t += expand(f"{FIG}/table4-strict.{{ext}}", ext=["md", "csv", "tex"])
    for table in ("table5", "table6"):
        if TABLES[table][1]:
            t += expand(f"{FIG}/{table}.{{ext}}", ext=["md", "csv", "tex"])
    for figure, spec in TEXT_FIGURES.items():
        if len(spec["methods"]) >= 2:
            t += expand(f"{FIG}/{figure}.{{ext}}", ext=["md", "pdf", "png"])
    if {"rome", "ft-l"} <= set(CF_METHODS):
        t += list(rules.human_eval_kit.output)
    return t
