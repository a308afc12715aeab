# Sequential editing (the ROME paper's successors: MEMIT, r-ROME, AlphaEdit): for each method of
# sequential.methods one seeded stream of sequential.n_edits COUNTERFACT eval edits in batches of
# sequential.batch_size (or the method's sequential.batch_size_by_method), never undone, measured
# and checkpointed every sequential.eval_every edits (`rome sequential`, resumable); then the
# figures against the number of edits and the mass-editing table beside the published values
# (`rome render-sequential`). docs/sequential.md.

SQ = section("sequential")


def seq_batch(method):
    """The method's edits per editor call: sequential.batch_size_by_method, else sequential.batch_size."""
    return SQ["batch_size_by_method"].get(method, SQ["batch_size"])


for _m in SQ["batch_size_by_method"]:
    if _m not in SQ["methods"]:
        raise WorkflowError(f"config key sequential.batch_size_by_method.{_m}: {_m!r} is not one of "
                            f"sequential.methods {SQ['methods']}")
for _key, _b in [("batch_size", SQ["batch_size"]),
                 *((f"batch_size_by_method.{m}", b) for m, b in SQ["batch_size_by_method"].items())]:
    if SQ["eval_every"] % _b:
        raise WorkflowError(f"config key sequential.eval_every: {SQ['eval_every']} is not a multiple of "
                            f"sequential.{_key} {_b} (checkpoints fall between batches)")


def seq_prov(method):
    """params.prov of one method's stream: its own batch size, not the other methods' overrides
    (changing MEMIT's batch must not rerun ROME's stream), and not snapshot_every (it changes no
    result, only how much a stopped run redoes)."""
    settings = {k: v for k, v in SQ.items() if k not in ("methods", "batch_size_by_method", "snapshot_every")}
    return prov(seed=SEED, model=MODEL, sequential={**settings, "batch_size": seq_batch(method)},
                stats_tokens=ST["tokens"], device=DEVICE, dtype=DTYPE)


rule sequential_edit:
    input:
        records=f"{DS}/counterfact_eval.json",
        stats=f"{STATS_DIR}/manifest.txt",
        corpus=CORPUS,  # held-out perplexity sample (what the statistics did not read)
    output:
        f"{D}/sequential/{{method}}.done",
    params:
        **model_params(),
        **stats_params(),
        n=SQ["n_edits"],
        batch=lambda w: seq_batch(w.method),
        every=SQ["eval_every"],
        schedule=SQ["eval_schedule"],
        probes=SQ["probe_records"],
        generation_tokens=SQ["generation_tokens"],
        ppl_tokens=SQ["ppl_tokens"],
        entropy=SQ["disabling_entropy"],
        norm_factor=SQ["disabling_norm_factor"],
        seed=SEED,
        snapshot=SQ["snapshot_every"],
        templates=f"{D}/templates",
        out_dir=f"{D}/sequential",
        prov=lambda w: seq_prov(w.method),
        prov_dir=PROV,
    threads: 1
    log:
        log_of("sequential_edit", "method"),
    benchmark:
        bench_of("sequential_edit", "method")
    resources:
        **res("model"),
    shell:
        shell_cmd(
            "sequential_edit",
            "rome sequential --method {wildcards.method}",
            LM,
            "--records {input.records:q} --n-edits {params.n} --batch-size {params.batch} --eval-every"
            " {params.every} --eval-schedule {params.schedule} --probe-records {params.probes} --generation-tokens {params.generation_tokens}"
            " --ppl-corpus {input.corpus:q} --ppl-tokens {params.ppl_tokens} --disabling-entropy {params.entropy}"
            " --disabling-norm-factor {params.norm_factor} --seed {params.seed} --snapshot-every {params.snapshot}",
            STATS,
            "--templates-dir {params.templates:q} --out-dir {params.out_dir:q} --no-progress"
            " --stdout-file {output:q} 2> {log:q}",
        )


SEQ_TABLE = expand(f"{FIG}/sequential-table.{{ext}}", ext=["md", "csv", "tex"])


rule render_sequential:
    input:
        expand(f"{D}/sequential/{{method}}.done", method=SQ["methods"]),
    output:
        report(_fig("sequential-metrics"), caption=f"{REPORT}/sequential.rst", category="sequential"),
        report(_fig("sequential-perplexity"), caption=f"{REPORT}/sequential.rst", category="sequential"),
        report(SEQ_TABLE, caption=f"{REPORT}/sequential.rst", category="sequential"),
        # every checkpoint's numbers; `rome render-sequential --from-table` redraws from it alone
        report(f"{FIG}/sequential-checkpoints.csv", caption=f"{REPORT}/sequential.rst", category="sequential"),
    params:
        seq_dir=f"{D}/sequential",
        methods=SQ["methods"],
        model=MODEL,
        out_dir=FIG,
        prov=prov(methods=SQ["methods"]),
        prov_dir=PROV,
    log:
        log_of("render_sequential"),
    benchmark:
        bench_of("render_sequential")
    resources:
        **res("render"),
    shell:
        shell_cmd(
            "render_sequential",
            "rome render-sequential --seq-dir {params.seq_dir:q} --methods {params.methods:q} --model"
            " {params.model:q} --out-dir {params.out_dir:q} > {log:q} 2>&1",
        )


localrules:
    render_sequential,


def sequential_targets():
    return list(rules.render_sequential.output) if SQ["methods"] else []
