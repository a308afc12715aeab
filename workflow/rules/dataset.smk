# COUNTERFACT from ParaRel, its statistics (Tables 2, 3), splits, zsRE, reference texts
# and the model's known facts. Model-independent artifacts live under data/dataset/seed<N>/.

DSET = section("dataset")
KF = section("known_facts")


rule pararel_download:
    output:
        directory(f"{UPSTREAM_DIR}/pararel"),
    shell:
        "counterfact download --dest {output}"


rule upstream_file:
    output:
        f"{UPSTREAM_DIR}/{{name}}",
    wildcard_constraints:
        name=UPSTREAM_FILES,
    shell:
        "counterfact fetch {wildcards.name} --dest-dir {UPSTREAM_DIR} > /dev/null"


rule counterfact_build:
    input:
        pararel=PARAREL,
        corpus=CORPUS,
    output:
        records=f"{DS}/counterfact.json",
        report=f"{DS}/build_report.json",
    params:
        relations=(f"--relations {','.join(DSET['relations'])}" if DSET.get("relations") else ""),
        ambiguous=DSET.get("ambiguous", "keep-first"),
    shell:
        "counterfact build --pararel-dir {input.pararel} --corpus {input.corpus} --out {output.records}"
        " --report {output.report} --seed {SEED} --ambiguous {params.ambiguous} {params.relations} --quiet > /dev/null"
        + prov("counterfact_build", relations=DSET.get("relations"))


rule counterfact_validate:
    input:
        f"{DS}/counterfact.json",
    output:
        f"{DS}/validation.json",
    shell:
        "counterfact validate {input} --json > {output}" + prov("counterfact_validate")


rule counterfact_stats:
    input:
        f"{DS}/counterfact.json",
    output:
        f"{DS}/stats.json",
    shell:
        "counterfact stats {input} --json --out {output} > /dev/null" + prov("counterfact_stats")


rule counterfact_split:
    input:
        f"{DS}/counterfact.json",
    output:
        split=f"{DS}/split.json",
        train=f"{DS}/counterfact_train.json",
        eval=f"{DS}/counterfact_eval.json",
    params:
        fraction=1.0 - float(DSET.get("train_fraction", 0.5)),
    shell:
        "counterfact split --records {input} --out {output.split} --eval-fraction {params.fraction}"
        " --seed {SEED} --train-out {output.train} --eval-out {output.eval} > /dev/null"
        + prov("counterfact_split")


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
        match=DSET.get("reference_match", "title+mention"),
    shell:
        "counterfact reference-texts --records {input.records} --corpus {input.corpus}"
        " --out-dir {DS}/reference --match {params.match} > /dev/null" + prov("reference_texts")


rule tables_2_3:
    input:
        stats=f"{DS}/stats.json",
        reference=f"{DS}/reference/reference_report.json",
    output:
        expand(f"{FIG}/{{table}}.{{ext}}", table=["table2", "table3"], ext=["md", "csv", "tex"]),
    shell:
        "counterfact tables --stats {input.stats} --reference-report {input.reference} --out-dir {FIG} > /dev/null"
        + prov("tables_2_3")


rule zsre_convert:
    input:
        lambda w: zsre_file(w.part),
    output:
        f"{DS}/zsre_{{part}}.json",
    wildcard_constraints:
        part="eval|train",
    shell:
        "counterfact zsre --input {input} --out {output} > /dev/null" + prov("zsre_convert")


rule known_facts:
    input:
        f"{DS}/counterfact_eval.json",
    output:
        f"{D}/known_facts.json",
    params:
        limit=int(KF.get("max_candidates", 300)),
    resources:
        gpu=1,
    shell:
        "rome known-facts --records {input} --model {MODEL} --device {DEVICE} --dtype {DTYPE}"
        " --out {output} --limit {params.limit} --quiet" + prov("known_facts", limit=KF.get("max_candidates"))


def known_facts_file():
    """The model's own known facts, or the released GPT-2 XL set (max_candidates: 0)."""
    if int(KF.get("max_candidates", 300)) == 0:
        return KNOWN_RELEASED
    return f"{D}/known_facts.json"


rule fig21_counterfact_record:
    input:
        f"{DS}/counterfact.json",
    output:
        expand(f"{FIG}/fig21.{{ext}}", ext=["md", "pdf", "png"]),
    shell:
        "rome render-text --figure fig21 --records {input} --case-id 0 --out-dir {FIG} > /dev/null"
        + prov("fig21")


rule fig22_zsre_record:
    input:
        f"{DS}/zsre_eval.json",
    output:
        expand(f"{FIG}/fig22.{{ext}}", ext=["md", "pdf", "png"]),
    shell:
        "rome render-text --figure fig22 --records {input} --case-id 0 --out-dir {FIG} > /dev/null"
        + prov("fig22")


def dataset_targets():
    return [
        f"{DS}/validation.json",
        *rules.tables_2_3.output,
        *rules.fig21_counterfact_record.output,
        *rules.fig22_zsre_record.output,
    ]
