# The HTML index of every figure and table with its provenance (input checksums, rule
# parameters, package version: what `snakemake --report` does not show), and the audit.
# Both only read files: they run on the submitting machine, never as cluster jobs.

localrules: report, audit, all


rule report:
    input:
        final_targets(),
    output:
        f"{FIG}/index.html",
    params:
        figures=FIG,
        provenance=PROV,
        title=f"ROME replication: {RUN} ({MODEL})",
    log:
        log_of("report"),
    benchmark:
        bench_of("report")
    resources:
        **res("render"),
    shell:
        "rome report --figures {params.figures:q} --provenance {params.provenance:q} --out {output:q}"
        " --title {params.title:q} > {log:q} 2>&1"


rule audit:
    params:
        provenance=PROV,
    log:
        log_of("audit"),
    shell:
        "rome audit --dir {params.provenance:q} 2>&1 | tee {log:q}"

# Seconds-long steps (rendering, summaries, dataset bookkeeping) and the downloads (compute
# nodes often have no network) run where Snakemake runs, not as cluster jobs.
localrules:
    pararel_download,
    upstream_file,
    zsre_split,
    counterfact_validate,
    counterfact_stats,
    counterfact_split,
    zsre_convert,
    tables_2_3,
    fig21_counterfact_record,
    fig22_zsre_record,
    trace_summary,
    render_tracing_main,
    render_fig1,
    render_fig11,
    render_fig12,
    render_tracing_variant,
    render_saliency,
    render_tracing_compare,
    fig5,
    render_baselines,
    summarize,
    render_table,
    text_figure,
    human_eval_kit,
