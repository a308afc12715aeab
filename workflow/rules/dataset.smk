# COUNTERFACT from ParaRel, its statistics (Tables 2, 3), splits, zsRE, reference texts
# and the model's known facts. Model-independent artifacts live under data/dataset/seed<N>/.

DSET = section("dataset")
KF = section("known_facts")


rule pararel_download:
    output:
        directory(f"{UPSTREAM_DIR}/pararel"),
    params:
        prov=prov(),
        prov_dir=SHARED_PROV,
    log:
        log_of("pararel_download"),
    benchmark:
        bench_of("pararel_download")
    resources:
        **res("data"),
    shell:
        shell_cmd(
            "pararel_download",
            "counterfact download --dest {output:q} > {log:q} 2>&1",
        )


rule upstream_file:
    output:
        f"{UPSTREAM_DIR}/{{name}}",
    wildcard_constraints:
        name=UPSTREAM_FILES,
    params:
        dest=UPSTREAM_DIR,
        prov=prov(),
        prov_dir=SHARED_PROV,
    log:
        log_of("upstream_file", "name"),
    benchmark:
        bench_of("upstream_file", "name")
    resources:
        **res("data"),
    shell:
        shell_cmd(
            "upstream_file",
            "counterfact fetch {wildcards.name:q} --dest-dir {params.dest:q} > {log:q} 2>&1",
        )


rule zsre_split:
    # No public source of MEND's zsRE training records: when paths.zsre_train has no local
    # copy, a seeded share (dataset.zsre_train_fraction) of the zsRE eval file is held out for
    # hyper-network training and the rest is the evaluation set (disjoint by record).
    input:
        ZSRE_EVAL_SOURCE,
    output:
        train=f"{DS}/zsre_train_split.json",
        eval=f"{DS}/zsre_eval_split.json",
    params:
        fraction=DSET["zsre_train_fraction"],
        seed=SEED,
        prov=prov(seed=SEED, zsre_train_fraction=DSET["zsre_train_fraction"]),
        prov_dir=SHARED_PROV,
    log:
        log_of("zsre_split"),
    benchmark:
        bench_of("zsre_split")
    resources:
        **res("data"),
    script:
        "../scripts/zsre_split.py"


rule counterfact_build:
    input:
        pararel=PARAREL,
        corpus=CORPUS,
    output:
        records=f"{DS}/counterfact.json",
        report=f"{DS}/build_report.json",
    params:
        relations=["--relations", ",".join(DSET["relations"])] if DSET["relations"] else [],
        ambiguous=DSET["ambiguous"],
        neighbour_pool=DSET["neighbour_pool"],
        seed=SEED,
        prov=prov(seed=SEED, relations=DSET["relations"], ambiguous=DSET["ambiguous"],
                  neighbour_pool=DSET["neighbour_pool"]),
        prov_dir=SHARED_PROV,
    log:
        log_of("counterfact_build"),
    benchmark:
        bench_of("counterfact_build")
    resources:
        **res("data"),
    shell:
        shell_cmd(
            "counterfact_build",
            "counterfact build --pararel-dir {input.pararel:q} --corpus {input.corpus:q} --out"
            " {output.records:q} --report {output.report:q} --seed {params.seed} --ambiguous"
            " {params.ambiguous:q} --neighbour-pool {params.neighbour_pool} {params.relations:q} --quiet > {log:q} 2>&1",
        )


rule counterfact_validate:
    input:
        f"{DS}/counterfact.json",
    output:
        f"{DS}/validation.json",
    params:
        prov=prov(),
        prov_dir=SHARED_PROV,
    log:
        log_of("counterfact_validate"),
    benchmark:
        bench_of("counterfact_validate")
    resources:
        **res("data"),
    shell:
        shell_cmd(
            "counterfact_validate",
            "counterfact validate {input:q} --json --stdout-file {output:q} 2> {log:q}",
        )


rule counterfact_stats:
    input:
        f"{DS}/counterfact.json",
    output:
        f"{DS}/stats.json",
    params:
        prov=prov(),
        prov_dir=SHARED_PROV,
    log:
        log_of("counterfact_stats"),
    benchmark:
        bench_of("counterfact_stats")
    resources:
        **res("data"),
    shell:
        shell_cmd(
            "counterfact_stats",
            "counterfact stats {input:q} --json --out {output:q} > {log:q} 2>&1",
        )


rule counterfact_split:
    input:
        f"{DS}/counterfact.json",
    output:
        split=f"{DS}/split.json",
        train=f"{DS}/counterfact_train.json",
        eval=f"{DS}/counterfact_eval.json",
    params:
        fraction=1.0 - DSET["train_fraction"],
        seed=SEED,
        prov=prov(seed=SEED, train_fraction=DSET["train_fraction"]),
        prov_dir=SHARED_PROV,
    log:
        log_of("counterfact_split"),
    benchmark:
        bench_of("counterfact_split")
    resources:
        **res("data"),
    shell:
        shell_cmd(
            "counterfact_split",
            "counterfact split --records {input:q} --out {output.split:q} --eval-fraction"
            " {params.fraction} --seed {params.seed} --train-out {output.train:q} --eval-out"
            " {output.eval:q} > {log:q} 2>&1",
        )


rule reference_texts:
    input:
        records=f"{DS}/counterfact.json",
        corpus=CORPUS,
    output:
        texts=f"{DS}/reference/reference_texts.json",
        vocab=f"{DS}/reference/tfidf_vocab.json",
        idf=f"{DS}/reference/tfidf_idf.npz",
        report=f"{DS}/reference/reference_report.json",
    params:
        match=DSET["reference_match"],
        out_dir=f"{DS}/reference",
        prov=prov(reference_match=DSET["reference_match"]),
        prov_dir=SHARED_PROV,
    log:
        log_of("reference_texts"),
    benchmark:
        bench_of("reference_texts")
    resources:
        **res("data"),
    shell:
        shell_cmd(
            "reference_texts",
            "counterfact reference-texts --records {input.records:q} --corpus {input.corpus:q} --out-dir"
            " {params.out_dir:q} --match {params.match:q} > {log:q} 2>&1",
        )


rule tables_2_3:
    input:
        stats=f"{DS}/stats.json",
        reference=f"{DS}/reference/reference_report.json",
    output:
        report(expand(f"{FIG}/table2.{{ext}}", ext=["md", "csv", "tex"]), caption=f"{REPORT}/table2.rst",
               category="dataset"),
        report(expand(f"{FIG}/table3.{{ext}}", ext=["md", "csv", "tex"]), caption=f"{REPORT}/table3.rst",
               category="dataset"),
    params:
        out_dir=FIG,
        prov=prov(),
        prov_dir=PROV,
    log:
        log_of("tables_2_3"),
    benchmark:
        bench_of("tables_2_3")
    resources:
        **res("render"),
    shell:
        shell_cmd(
            "tables_2_3",
            "counterfact tables --stats {input.stats:q} --reference-report {input.reference:q} --out-dir"
            " {params.out_dir:q} > {log:q} 2>&1",
        )


def zsre_input(part):
    """Raw (MEND-format) zsRE records: a local copy or download, or the two parts of the split."""
    if ZSRE_TRAIN_SPLIT:
        return f"{DS}/zsre_{part}_split.json"
    return ZSRE_EVAL_SOURCE if part == "eval" else ZSRE_TRAIN


rule zsre_convert:
    input:
        lambda w: zsre_input(w.part),
    output:
        f"{DS}/zsre_{{part}}.json",
    wildcard_constraints:
        part="eval|train",
    params:
        prov=prov(),
        prov_dir=SHARED_PROV,
    log:
        log_of("zsre_convert", "part"),
    benchmark:
        bench_of("zsre_convert", "part")
    resources:
        **res("data"),
    shell:
        shell_cmd(
            "zsre_convert",
            "counterfact zsre --input {input:q} --out {output:q} > {log:q} 2>&1",
        )


rule known_facts:
    input:
        f"{DS}/counterfact_eval.json",
    output:
        f"{D}/known_facts.json",
    params:
        limit=KF["max_candidates"],
        model=MODEL,
        device=DEVICE,
        dtype=DTYPE,
        prov=prov(model=MODEL, max_candidates=KF["max_candidates"], device=DEVICE, dtype=DTYPE),
        prov_dir=PROV,
    threads: 1
    log:
        log_of("known_facts"),
    benchmark:
        bench_of("known_facts")
    resources:
        **res("model"),
    shell:
        shell_cmd(
            "known_facts",
            "rome known-facts --records {input:q} --model {params.model:q} --device"
            " {params.device:q} --dtype {params.dtype:q} --out {output:q} --limit {params.limit} --quiet"
            " > {log:q} 2>&1",
        )


def known_facts_file():
    """The model's own known facts, or the released GPT-2 XL set (max_candidates: 0)."""
    if KF["max_candidates"] == 0:
        return KNOWN_RELEASED
    return f"{D}/known_facts.json"


rule fig21_counterfact_record:
    input:
        f"{DS}/counterfact.json",
    output:
        report(expand(f"{FIG}/fig21.{{ext}}", ext=["md", "pdf", "png"]), caption=f"{REPORT}/fig21.rst",
               category="dataset"),
    params:
        out_dir=FIG,
        prov=prov(),
        prov_dir=PROV,
    log:
        log_of("fig21_counterfact_record"),
    benchmark:
        bench_of("fig21_counterfact_record")
    resources:
        **res("render"),
    shell:
        shell_cmd(
            "fig21_counterfact_record",
            "rome render-text --figure fig21 --records {input:q} --case-id 0 --out-dir {params.out_dir:q}"
            " > {log:q} 2>&1",
        )


rule fig22_zsre_record:
    input:
        f"{DS}/zsre_eval.json",
    output:
        report(expand(f"{FIG}/fig22.{{ext}}", ext=["md", "pdf", "png"]), caption=f"{REPORT}/fig22.rst",
               category="dataset"),
    params:
        out_dir=FIG,
        prov=prov(),
        prov_dir=PROV,
    log:
        log_of("fig22_zsre_record"),
    benchmark:
        bench_of("fig22_zsre_record")
    resources:
        **res("render"),
    shell:
        shell_cmd(
            "fig22_zsre_record",
            "rome render-text --figure fig22 --records {input:q} --case-id 0 --out-dir {params.out_dir:q}"
            " > {log:q} 2>&1",
        )


def dataset_targets():
    return [
        f"{DS}/validation.json",
        *rules.tables_2_3.output,
        *rules.fig21_counterfact_record.output,
        *rules.fig22_zsre_record.output,
    ]
