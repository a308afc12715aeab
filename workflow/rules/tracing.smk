# Causal tracing over the model's known facts (Figs. 1-3, 7, 10-15). Per-fact result files
# live under data/runs/<run>/tracing/<variant>/ (resumable); each batch ends in a .done file.

TR = section("tracing")
TRACE_VARIANTS = {"main": dict(noise=TR.get("noise", "s3"), extra=0, n=TR.get("n_facts", 100), severed=True)}
for _rule in TR.get("noise_variants", []) or []:
    # file-name safe: "u0.5" -> "noise-u0p5" (a dot would read as a file suffix)
    TRACE_VARIANTS[f"noise-{str(_rule).replace('.', 'p')}"] = dict(noise=_rule, extra=0, n=TR.get("variant_facts", 20), severed=False)
if int(TR.get("variant_facts", 0)) > 0:
    TRACE_VARIANTS["extra1"] = dict(noise=TR.get("noise", "s3"), extra=1, n=TR.get("variant_facts", 20), severed=False)
TRACE_KINDS = ",".join(TR.get("kinds", ["hidden", "mlp", "attn"]))
EXAMPLES = ",".join(str(x) for x in TR.get("examples", []))


rule trace_batch:
    input:
        facts=known_facts_file(),
    output:
        f"{D}/tracing/{{variant}}.done",
    params:
        v=lambda w: TRACE_VARIANTS[w.variant],
        severed=lambda w: "" if TRACE_VARIANTS[w.variant]["severed"] else "--no-severed",
    resources:
        gpu=1,
    shell:
        "rome trace-batch {LM_ARGS} --facts {input.facts} --limit {params.v[n]} --kinds {TRACE_KINDS}"
        " --noise {params.v[noise]} --extra-tokens {params.v[extra]} --samples {TR[samples]}"
        " --window {TR[window]} --seed {SEED} --known-facts {input.facts} --stats-dir {D}/tracing/noise"
        " {params.severed} --out-dir {D}/tracing/{wildcards.variant} > {output}"
        + prov("trace_batch", tracing=TR)


rule trace_summary:
    input:
        f"{D}/tracing/{{variant}}.done",
    output:
        summary=f"{D}/tracing/{{variant}}-summary/summary.json",
    params:
        all_facts="" if TR.get("only_correct", True) else "--all-facts",
    shell:
        "rome trace-summary --results {D}/tracing/{wildcards.variant} --out-dir {D}/tracing/{wildcards.variant}-summary"
        " --model {MODEL} {params.all_facts} > /dev/null" + prov("trace_summary")


def _fig(stem):
    return [f"{FIG}/{stem}.pdf", f"{FIG}/{stem}.png"]


rule render_tracing_main:
    input:
        summary=f"{D}/tracing/main-summary/summary.json",
        done=f"{D}/tracing/main.done",
    output:
        _fig("fig2-aie-heatmaps") + _fig("fig7-aie-lines") + _fig("fig3-severed"),
    shell:
        "rome render-tracing --summary-dir {D}/tracing/main-summary --results {D}/tracing/main"
        " --examples '{EXAMPLES}' --out-dir {FIG} --prefix fig --title '{MODEL}' > /dev/null"
        + prov("render_tracing_main", examples=EXAMPLES)


rule render_tracing_variant:
    input:
        summary=f"{D}/tracing/{{variant}}-summary/summary.json",
    output:
        _fig("fig{number}-{variant}-2-aie-heatmaps") + _fig("fig{number}-{variant}-7-aie-lines"),
    wildcard_constraints:
        number="13|15",
    shell:
        "rome render-tracing --summary-dir {D}/tracing/{wildcards.variant}-summary"
        " --out-dir {FIG} --prefix fig{wildcards.number}-{wildcards.variant}- --title '{MODEL} ({wildcards.variant})'"
        " > /dev/null" + prov("render_tracing_variant")


def tracing_targets():
    t = list(rules.render_tracing_main.output)
    for variant in TRACE_VARIANTS:
        if variant == "main":
            continue
        number = 15 if variant.startswith("extra") else 13
        t += _fig(f"fig{number}-{variant}-2-aie-heatmaps") + _fig(f"fig{number}-{variant}-7-aie-lines")
    return t
