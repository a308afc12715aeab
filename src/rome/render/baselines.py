"""Figs. 17/18 (FT, FT+L over layers x epsilon), 23 (AttnEdit over epsilon) and 24 (box plots
of pre-edit, ROME and AttnEdit), from cached per-record result files only.

Per-record files (written by :mod:`rome.editing.baseline_sweep` and by the evaluation
step) hold ``pre`` and/or ``post`` dicts of
``{"rewrite_prompts_probs" | "paraphrase_prompts_probs" | "neighborhood_prompts_probs":
[{"target_new": nll, "target_true": nll}, ...]}``. Per record (the paper's metric definitions, section 3.4, x 100):
ES/PS = share of rewrite/paraphrase prompts with P(new) > P(true), EM/PM = mean of
P(new) - P(true); NS = share of neighborhood prompts with P(true) > P(new), NM = mean of
P(true) - P(new), with P = exp(-NLL).
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from atomicio import load_json

from ..results.prompt_metrics import magnitude, success
from .style import styled

METRICS = ("ES", "PS", "NS", "EM", "PM", "NM")
_KINDS = {"E": "rewrite_prompts_probs", "P": "paraphrase_prompts_probs", "N": "neighborhood_prompts_probs"}


def record_scores(probs: Mapping[str, list[Mapping[str, float]]]) -> dict[str, float]:
    """ES/PS/NS/EM/PM/NM (x 100) of one record's NLL lists; a metric without prompts is NaN."""
    out = {}
    for letter, key in _KINDS.items():
        rows = probs.get(key) or []
        target = "target_true" if letter == "N" else "target_new"
        for kind, value in (("S", success(rows, target)), ("M", magnitude(rows, target))):
            out[f"{letter}{kind}"] = math.nan if value is None else 100.0 * value
    return out


def load_results(folder: str | Path) -> list[dict]:
    """Every per-record JSON under ``folder`` (recursively), sorted by path."""
    out = []
    for path in sorted(Path(folder).rglob("*.json")):
        data = load_json(path)  # a truncated file: CorruptFileError naming the path
        if isinstance(data, dict) and "case_id" in data and ("post" in data or "pre" in data):
            data["_path"] = str(path)
            out.append(data)
    return out


def _mean(xs: Iterable[float]) -> float:
    xs = [x for x in xs if not math.isnan(x)]
    return sum(xs) / len(xs) if xs else math.nan


def summarise_sweep(results: Iterable[Mapping[str, Any]]) -> dict[tuple, dict[str, float]]:
    """Mean post-edit metrics per (method, layer, epsilon)."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in results:
        s = r["setting"]
        groups[(r["method"], int(s["layer"]), s.get("epsilon"))].append(record_scores(r["post"]))
    return {k: {**{m: _mean(v[m] for v in rows) for m in METRICS}, "n": len(rows)} for k, rows in groups.items()}


def _save(fig, stem: str | Path, title: str) -> list[Path]:
    """Give ``fig`` its title, if any, and save it (:func:`rome.render.style.save_figure`)."""
    from .style import save_figure

    if title:
        fig.suptitle(title)
    return save_figure(fig, stem)


def _eps_label(eps) -> str:
    return "unconstrained" if eps is None else f"ε={eps:g}"


@styled
def render_layer_sweep(results: Sequence[Mapping], stem: str | Path, title: str = "") -> list[Path]:
    """Figs. 17/18: scores (top) and magnitudes (bottom) vs layer, one line per (method, epsilon)."""
    import matplotlib.pyplot as plt

    summary = summarise_sweep(r for r in results if r["method"] in ("ft", "ft-l"))
    if not summary:
        raise ValueError("no FT / FT+L sweep results to render")
    fig, axes = plt.subplots(2, 3, figsize=(9, 5), sharex=True)
    lines = sorted({(m, e) for m, _, e in summary}, key=lambda me: (me[0], -1 if me[1] is None else me[1]))
    for col, letter in enumerate("EPN"):
        for row, kind in enumerate("SM"):
            ax = axes[row, col]
            for method, eps in lines:
                pts = sorted((l, v[f"{letter}{kind}"]) for (m, l, e), v in summary.items() if m == method and e == eps)
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3,
                        label=f"{'FT' if eps is None else 'FT+L'} {_eps_label(eps)}")
            ax.set_title({"E": "Efficacy", "P": "Paraphrase", "N": "Neighborhood"}[letter]
                         + (" score" if kind == "S" else " magnitude"))
            if row == 1:
                ax.set_xlabel("edited layer")
    axes[0, 0].legend(loc="best")
    return _save(fig, stem, title)


@styled
def render_epsilon_sweep(results: Sequence[Mapping], stem: str | Path, method: str = "attn",
                         title: str = "") -> list[Path]:
    """Fig. 23: metrics vs epsilon (log scale) for one method (AttnEdit)."""
    import matplotlib.pyplot as plt

    summary = {k: v for k, v in summarise_sweep(r for r in results if r["method"] == method).items()
               if k[2] is not None}
    if not summary:
        raise ValueError(f"no constrained {method} sweep results to render")
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for layer in sorted({l for _, l, _ in summary}):
        pts = sorted((e, v) for (m, l, e), v in summary.items() if l == layer)
        for ax, kind in zip(axes, "SM"):
            for letter, name in zip("EPN", ("efficacy", "paraphrase", "neighborhood")):
                ax.plot([p[0] for p in pts], [p[1][f"{letter}{kind}"] for p in pts], marker="o", ms=3,
                        label=f"{name} (layer {layer})")
    for ax, kind in zip(axes, ("score", "magnitude")):
        ax.set_xscale("log")
        ax.set_xlabel("ε (L∞ bound)")
        ax.set_title(f"AttnEdit {kind}s")
    axes[0].legend(loc="best")
    return _save(fig, stem, title)


@styled
def render_boxplots(groups: Mapping[str, list[dict[str, float]]], stem: str | Path, title: str = "") -> list[Path]:
    """Fig. 24: one panel per metric, one box per group (e.g. pre-edit, ROME, AttnEdit)."""
    import matplotlib.pyplot as plt

    from .style import method_colours

    if not groups:
        raise ValueError("no per-record results for the box plots")
    fig, axes = plt.subplots(1, len(METRICS), figsize=(12, 3))
    names = list(groups)
    colours = method_colours(names)
    for ax, metric in zip(axes, METRICS):
        data = [[r[metric] for r in groups[n] if not math.isnan(r[metric])] for n in names]
        box = ax.boxplot(data, patch_artist=True)
        ax.set_xticks(range(1, len(names) + 1), names, rotation=30)
        for patch, n in zip(box["boxes"], names):
            patch.set_facecolor(colours[n])
        ax.set_title(metric)
    return _save(fig, stem, title)


def boxplot_groups(rome_dir: str | Path | None, attn_dir: str | Path | None,
                   attn_epsilon: float | None = None) -> dict[str, list[dict]]:
    """Per-record metrics of the unedited model (from any file's ``pre``), ROME and AttnEdit.

    AttnEdit files of several sweep settings: ``attn_epsilon`` picks one; without it the
    first file per case (in path order) is used.
    """
    groups: dict[str, list[dict]] = {}
    pre: dict[Any, dict] = {}
    for label, folder in (("ROME", rome_dir), ("AttnEdit", attn_dir)):
        if not folder:
            continue
        results = load_results(folder)
        if label == "AttnEdit":
            if attn_epsilon is not None:
                results = [r for r in results if r.get("setting", {}).get("epsilon") == attn_epsilon]
            seen, kept = set(), []
            for r in results:
                if r["case_id"] not in seen:
                    seen.add(r["case_id"])
                    kept.append(r)
            results = kept
        groups[label] = [record_scores(r["post"]) for r in results if "post" in r]
        for r in results:
            if "pre" in r:
                pre.setdefault(r["case_id"], record_scores(r["pre"]))
    if pre:
        groups = {"none": list(pre.values()), **groups}
    return groups
