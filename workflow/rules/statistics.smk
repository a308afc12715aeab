# Second-moment key statistics C = E[k k^T] for every layer any experiment needs, in one
# pass over the corpus (cached per model, layer, corpus, budget and dtype by `rome stats`).

ST = section("stats")
STATS_DIR = f"{D}/stats"
STATS_CORPUS = ST["corpus"] or CORPUS


def stats_params():
    """params of the rules that read the statistics (ROME computes any missing layer itself)."""
    return dict(stats_dir=STATS_DIR, stats_corpus=STATS_CORPUS, stats_tokens=ST["tokens"])


STATS = "--stats-dir {params.stats_dir:q} --corpus {params.stats_corpus:q} --stats-tokens {params.stats_tokens}"


rule key_statistics:
    input:
        [STATS_CORPUS] if STATS_CORPUS == CORPUS or Path(str(STATS_CORPUS)).exists() else [],
    output:
        f"{STATS_DIR}/manifest.txt",
    params:
        **model_params(),
        layers=ST["layers"],
        tokens=ST["tokens"],
        stats_dtype=ST["dtype"],
        corpus=STATS_CORPUS,
        out_dir=STATS_DIR,
        prov=prov(model=MODEL, layers=ST["layers"], tokens=ST["tokens"], dtype=ST["dtype"], model_dtype=DTYPE, device=DEVICE),
        prov_dir=PROV,
    threads: 1
    log:
        log_of("key_statistics"),
    benchmark:
        bench_of("key_statistics")
    resources:
        **res("model"),
    shell:
        shell_cmd(
            "key_statistics",
            "rome stats --model {params.model:q} --device {params.device:q} {params.models:q}"
            " --dtype {params.dtype:q} --layers {params.layers:q} --corpus {params.corpus:q}"
            " --tokens {params.tokens} --stats-dtype {params.stats_dtype:q} --out-dir {params.out_dir:q}"
            " --stdout-file {output:q} 2> {log:q}",
        )
