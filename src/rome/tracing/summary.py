"""The tracing summary (JSON + Markdown): ATE, probabilities, peak AIE per kind, beside the paper."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from atomicio import atomic_write_json, atomic_write_text
from counterfact.errors import read_json

from ..results.cache_key import MissingItemsError, MixedKeysError, check_consistent
from .aggregate import PAPER_GPT2_XL, average_effects, peak, save_average, severed_average
from .batch import CORRUPT_ERRORS, manifest_path, result_path
from .restore import KINDS
from .trace import TraceResult


def _load(path: Path) -> TraceResult:
    try:
        return TraceResult.load(path)
    except CORRUPT_ERRORS as err:
        raise ValueError(f"{path}: unreadable per-fact result ({type(err).__name__}: {str(err)[:120]}); "
                         "rerun rome trace-batch, which recomputes it") from None


def _ids_in(folder: Path) -> list:
    def as_id(stem: str):
        return int(stem) if stem.lstrip("-").isdigit() else stem
    return sorted((as_id(p.stem) for p in folder.glob("*.npz")), key=lambda x: (str(type(x)), x))


def collect_results(results_dir: str | Path, known_ids: Sequence | None = None,
                    kinds: Sequence[str] | None = None) -> tuple[dict[str, list[TraceResult]], dict | None]:
    """Per-fact results of each kind, exactly for the facts asked for, all under one cache key.

    The facts and kinds are ``known_ids``/``kinds`` when given, else those of the folder's
    ``manifest.json`` (written by ``rome trace-batch``), else every file found. A fact
    without a file of some kind is an error naming the ids (a kind is never averaged over
    other facts than its siblings); files made under different keys are refused
    (:class:`~rome.results.cache_key.MixedKeysError` naming the differing setting and files).
    Returns ``({kind: results}, key)``.
    """
    results_dir = Path(results_dir)
    manifest = None
    if manifest_path(results_dir).is_file():
        manifest = read_json(manifest_path(results_dir), "trace-batch manifest")
    if kinds is None:
        if manifest is not None:
            kinds = list(manifest.get("kinds", [])) + (["severed"] if manifest.get("severed") else [])
        else:
            kinds = [k for k in (*KINDS, "severed") if (results_dir / k).is_dir()]
    if known_ids is None:
        if manifest is not None:
            known_ids = list(manifest.get("known_ids", []))
        else:
            known_ids = sorted({i for k in kinds for i in _ids_in(results_dir / k)}, key=lambda x: (str(type(x)), x))
    missing = {k: [i for i in known_ids if not result_path(results_dir, k, i).is_file()] for k in kinds}
    missing = {k: v for k, v in missing.items() if v}
    if missing:
        detail = "; ".join(f"{k}: known_id {', '.join(map(str, v[:20]))}{' ...' if len(v) > 20 else ''}"
                           for k, v in missing.items())
        raise MissingItemsError(f"{results_dir}: per-fact results missing ({detail}); "
                                "run rome trace-batch for these facts")
    out = {k: [_load(result_path(results_dir, k, i)) for i in known_ids] for k in kinds}
    pairs = [(str(result_path(results_dir, k, i)), r.meta.get("cache_key"))
             for k, rs in out.items() for i, r in zip(known_ids, rs)]
    if manifest is not None and manifest.get("cache_key"):
        pairs.insert(0, (str(manifest_path(results_dir)), manifest["cache_key"]))
    key = check_consistent(pairs, f"rome trace-summary {results_dir}")
    return out, key


def summarise(results_dir: str | Path, out_dir: str | Path, model: str = "", only_correct: bool = True,
              known_ids: Sequence | None = None) -> dict:
    """Average every kind of the run under ``results_dir`` (see :func:`collect_results`) into ``out_dir``."""
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    by_kind, key = collect_results(results_dir, known_ids)
    key_model = ((key or {}).get("components") or {}).get("model", {}).get("name")
    if model and key_model and model != key_model:
        raise MixedKeysError(f"{results_dir}: the per-fact files were traced with model {key_model!r}, "
                             f"not {model!r}; rerun rome trace-batch with this model")
    summary: dict[str, Any] = {"model": model or key_model or "", "results_dir": str(results_dir), "kinds": {},
               "paper_gpt2_xl": PAPER_GPT2_XL, "cache_key": (key or {}).get("digest")}
    for kind in KINDS:
        results = by_kind.get(kind)
        if not results:
            continue
        avg = average_effects(results, kind, only_correct)
        save_average(avg, out_dir / f"aie_{kind}.json")
        summary["kinds"][kind] = {"peak": peak(avg), "n_loaded": avg["n_loaded"], "n_kept": avg["n_kept"]}
        summary.update({"clean": avg["clean"], "corrupted": avg["corrupted"], "ate": avg["ate"],
                        "ate_ci95": avg["ate_ci95"], "n_loaded": avg["n_loaded"], "n_kept": avg["n_kept"],
                        "settings": results[0].settings, "noise_nu": results[0].noise_nu})
    sev = by_kind.get("severed")
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
