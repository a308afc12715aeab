"""The tracing summary (JSON + Markdown): ATE, probabilities, peak AIE per kind, beside the paper."""
from __future__ import annotations

from pathlib import Path

from atomicio import atomic_write_json, atomic_write_text
from .aggregate import PAPER_GPT2_XL, average_effects, load_results, peak, save_average, severed_average
from .restore import KINDS


def summarise(results_dir: str | Path, out_dir: str | Path, model: str = "", only_correct: bool = True) -> dict:
    """Average every kind found under ``results_dir`` and write averages + summary into ``out_dir``."""
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    summary = {"model": model, "results_dir": str(results_dir), "kinds": {}, "paper_gpt2_xl": PAPER_GPT2_XL}
    for kind in KINDS:
        if not (results_dir / kind).is_dir():
            continue
        results = load_results(results_dir / kind)
        if not results:
            continue
        avg = average_effects(results, kind, only_correct)
        save_average(avg, out_dir / f"aie_{kind}.json")
        summary["kinds"][kind] = {"peak": peak(avg), "n_loaded": avg["n_loaded"], "n_kept": avg["n_kept"]}
        summary.update({"clean": avg["clean"], "corrupted": avg["corrupted"], "ate": avg["ate"],
                        "ate_ci95": avg["ate_ci95"], "n_loaded": avg["n_loaded"], "n_kept": avg["n_kept"],
                        "settings": results[0].settings, "noise_nu": results[0].noise_nu})
    if (results_dir / "severed").is_dir():
        sev = load_results(results_dir / "severed")
        if sev:
            avg = severed_average(sev, only_correct)
            save_average(avg, out_dir / "severed.json")
            summary["severed"] = {k: (float(v.max()) if hasattr(v, "max") else v) for k, v in avg.items()
                                  if not k.endswith("ci95")}
    if not summary["kinds"]:
        raise FileNotFoundError(f"no trace results (hidden/mlp/attn folders) under {results_dir}")
    atomic_write_json(out_dir / "summary.json", summary)
    atomic_write_text(out_dir / "summary.md", markdown(summary))
    return summary


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _layer(layer) -> str:
    """", layer N", or nothing where the paper gives no layer."""
    return "" if layer is None else f", layer {layer}"


def markdown(s: dict) -> str:
    p = s["paper_gpt2_xl"]
    lines = [f"# Causal tracing summary: {s.get('model') or 'model'}", "",
             f"Facts traced: {s['n_loaded']}; kept (clean argmax = expected first token): {s['n_kept']}. "
             f"Settings: {s.get('settings')}; noise ν = {s.get('noise_nu', float('nan')):.4g}.", "",
             "| quantity | this run | paper (GPT-2 XL) |", "|---|---|---|",
             f"| clean p | {_pct(s['clean'])} | {_pct(p['clean'])} |",
             f"| corrupted p* | {_pct(s['corrupted'])} | {_pct(p['corrupted'])} |",
             f"| ATE | {_pct(s['ate'])} ± {_pct(s['ate_ci95'])} | {_pct(p['ate'])} |"]
    for kind, info in s["kinds"].items():
        pk, pp = info["peak"], p[kind]
        lines.append(f"| peak AIE {kind} | {_pct(pk['aie'])} ± {_pct(pk['ci95'])} at {pk['category']}, layer {pk['layer']} "
                     f"| {_pct(pp['aie'])} at {pp['category']}{_layer(pp.get('layer'))} |")
    if "severed" in s:
        sv = s["severed"]
        lines.append(f"| severed max IE (single / attn severed / MLP severed) | {_pct(sv['single'])} / "
                     f"{_pct(sv['attn_severed'])} / {_pct(sv['mlp_severed'])} | (Fig. 3) |")
    lines += ["", f"Paper layers are of a {p['n_layers']}-layer model with window {p['window']}; "
              "compare positions relative to depth."]
    return "\n".join(lines) + "\n"
