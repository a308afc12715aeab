# Second-moment key statistics C = E[k k^T] for every layer any experiment needs, in one
# pass over the corpus (cached per model, layer, corpus, budget and dtype by `rome stats`).

ST = section("stats")
STATS_DIR = f"{D}/stats"
STATS_CORPUS = ST.get("corpus") or CORPUS
STATS_ARGS = f"--stats-dir {STATS_DIR} --corpus {STATS_CORPUS} --stats-tokens {int(ST.get('tokens', 100000))}"


rule key_statistics:
    input:
        [STATS_CORPUS] if STATS_CORPUS == CORPUS or Path(str(STATS_CORPUS)).exists() else [],
    output:
        f"{STATS_DIR}/manifest.txt",
    params:
        layers=ST.get("layers", "0-17"),
        tokens=int(ST.get("tokens", 100000)),
        dtype=ST.get("dtype", "float32"),
    resources:
        gpu=1,
    shell:
        "rome stats {LM_ARGS} --layers {params.layers} --corpus {STATS_CORPUS}"
        " --tokens {params.tokens} --stats-dtype {params.dtype} --out-dir {STATS_DIR} > {output}"
        + prov("key_statistics", layers=ST.get("layers"), tokens=ST.get("tokens"), dtype=ST.get("dtype"))
