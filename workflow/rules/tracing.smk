# Causal tracing over the model's known facts (Figs. 1-3, 7-16). Per-fact result files
# live under data/runs/<run>/tracing/<variant>/ (resumable); each batch ends in a .done file.
# Fig. 16 (integrated-gradients saliency) is one JSON per fact of tracing.saliency_examples;
# Figs. 8/9 put this run's averages beside other runs' (tracing.compare_runs).
import sys

TR = section("tracing")
TRACE_VARIANTS = {"main": dict(noise=TR.get("noise", "s3"), extra=0, n=TR.get("n_facts", 100), severed=True)}
for _rule in TR.get("noise_variants", []) or []:
    # file-name safe: "u0.5" -> "noise-u0p5" (a dot would read as a file suffix)
    TRACE_VARIANTS[f"noise-{str(_rule).replace('.', 'p')}"] = dict(noise=_rule, extra=0, n=TR.get("variant_facts", 20), severed=False)
if int(TR.get("variant_facts", 0)) > 0:
    TRACE_VARIANTS["extra1"] = dict(noise=TR.get("noise", "s3"), extra=1, n=TR.get("variant_facts", 20), severed=False)
TRACE_KINDS = ",".join(TR.get("kinds", ["hidden", "mlp", "attn"]))
if TR.get("severed_noise", "same") not in ("same", "official"):
    raise ValueError(f"config tracing.severed_noise must be 'same' or 'official', got {TR.get('severed_noise')!r}")
EXAMPLES = ",".join(str(x) for x in TR.get("examples", []))
# Fig. 16: known_ids explained by integrated gradients (default: the first two examples)
_saliency = TR.get("saliency_examples")
SALIENCY_EXAMPLES = [int(x) for x in (list(TR.get("examples", []))[:2] if _saliency is None else _saliency)]


def compare_runs():
    """Figs. 8/9: [(name, summary dir)] of this run and of each tracing.compare_runs entry.

    Other runs' summaries come from other configurations (other snakemake invocations), so
    they are not produced here: an entry whose summary.json is missing when the DAG is
    planned is left out with a warning, and Figs. 8/9 are planned when at least one other
    run is present (a later invocation, once the other run exists, redraws them).
    """
    entries = TR.get("compare_runs") or []
    found = []
    for k, entry in enumerate(entries):
        if not isinstance(entry, dict) or not entry.get("name") or not entry.get("summary"):
            raise ValueError(f"config tracing.compare_runs[{k}]: expected {{name: ..., summary: <trace-summary dir>}}, "
                             f"got {entry!r}")
        if "=" in str(entry["name"]):
            raise ValueError(f"config tracing.compare_runs[{k}].name must not contain '=': {entry['name']!r}")
        summary = str(entry["summary"]).rstrip("/")
        if Path(summary, "summary.json").is_file():
            found.append((str(entry["name"]), summary))
        else:
            print(f"warning: tracing.compare_runs: {summary}/summary.json does not exist yet (run the "
                  f"configuration of {entry['name']!r} first); Figs. 8/9 leave it out", file=sys.stderr)
    if not found:
        return []
    return [(MODEL, f"{D}/tracing/main-summary")] + found


COMPARE = compare_runs()


rule trace_batch:
    input:
        facts=known_facts_file(),
        corpus=CORPUS,  # token-embedding Gaussian of noise rules m and t<d>
    output:
        f"{D}/tracing/{{variant}}.done",
    params:
        v=lambda w: TRACE_VARIANTS[w.variant],
        severed=lambda w: "" if TRACE_VARIANTS[w.variant]["severed"] else "--no-severed",
        severed_noise=TR.get("severed_noise", "same"),
    resources:
        gpu=1,
    shell:
        "rome trace-batch {LM_ARGS} --facts {input.facts} --limit {params.v[n]} --kinds {TRACE_KINDS}"
        " --noise {params.v[noise]} --extra-tokens {params.v[extra]} --samples {TR[samples]}"
        " --window {TR[window]} --seed {SEED} --known-facts {input.facts} --stats-dir {D}/tracing/noise"
        " --corpus {input.corpus} --severed-noise {params.severed_noise}"
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


rule saliency:
    input:
        facts=known_facts_file(),
    output:
        f"{D}/tracing/saliency/{{kid}}.json",
    wildcard_constraints:
        kid=r"\d+",
    resources:
        gpu=1,
    shell:
        "rome saliency {LM_ARGS} --facts {input.facts} --known-id {wildcards.kid} --out {output} > /dev/null"
        + prov("saliency")


rule render_saliency:
    input:
        f"{D}/tracing/saliency/{{kid}}.json",
    output:
        _fig("fig16-saliency-{kid}"),
    wildcard_constraints:
        kid=r"\d+",
    shell:
        "rome render-tracing --saliency {input} --out-dir {FIG} --prefix fig > /dev/null" + prov("render_saliency")


rule render_tracing_compare:
    input:
        [f"{folder}/summary.json" for _, folder in COMPARE],
    output:
        _fig("fig8-models-aie-heatmaps") + _fig("fig9-models-aie-lines"),
    params:
        compare=" ".join("--compare " + shlex.quote(f"{name}={folder}") for name, folder in COMPARE),
    shell:
        "rome render-tracing {params.compare} --out-dir {FIG} --prefix fig > /dev/null"
        + prov("render_tracing_compare", compare=COMPARE)


def tracing_targets():
    t = list(rules.render_tracing_main.output)
    for kid in SALIENCY_EXAMPLES:
        t += _fig(f"fig16-saliency-{kid}")
    if COMPARE:
        t += list(rules.render_tracing_compare.output)
    for variant in TRACE_VARIANTS:
        if variant == "main":
            continue
        number = 15 if variant.startswith("extra") else 13
        t += _fig(f"fig{number}-{variant}-2-aie-heatmaps") + _fig(f"fig{number}-{variant}-7-aie-lines")
    return t
