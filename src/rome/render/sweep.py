"""Fig. 5: ROME edited at each layer x four token choices, from cached sweep files only.

Reads ``<sweep>/<token>/layer-NN/case-*.json`` (written by :mod:`rome.editing.sweep`),
averages each metric over records per (token, layer) with a 95% band
(1.96·std/√N, population std: :mod:`rome.results.stats_util`), and draws four panels: efficacy, generalization, specificity, score.
Never loads a model.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from atomicio import atomic_write_json, load_json

from ..results.layout import MissingResultError
from ..results.stats_util import mean_ci95
from .style import CATEGORY_COLOURS, save_figure, styled

TOKENS = ("first_subject", "last_subject", "first_subsequent", "last")
TOKEN_LABELS = {"first_subject": "first subject token", "last_subject": "last subject token",
                "first_subsequent": "first subsequent token", "last": "last token"}
METRICS = ("efficacy", "generalization", "specificity", "score")


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and the 95% half-width (:func:`rome.results.stats_util.mean_ci95`: population std)."""
    m, half, _ = mean_ci95(values)
    return m, half


def aggregate(sweep_dir: str | os.PathLike) -> dict:
    """``{token: {layer: {metric: {mean, ci95, n}}}}`` plus ``pre`` (unedited means)."""
    root = Path(sweep_dir)
    if not root.is_dir():
        raise MissingResultError(f"sweep folder {root} does not exist (run `rome sweep` first)")
    out: dict = {"tokens": {}, "pre": {}}
    for token in TOKENS:
        for layer_dir in sorted((root / token).glob("layer-*")):
            layer = int(re.sub(r"\D", "", layer_dir.name))
            rows = [load_json(p) for p in sorted(layer_dir.glob("case-*.json"))]
            rows = [r for r in rows if "skipped" not in r]
            if rows:
                out["tokens"].setdefault(token, {})[layer] = {
                    m: dict(zip(("mean", "ci95"), mean_ci([r[m] for r in rows])), n=len(rows)) for m in METRICS
                }
    pre = [load_json(p) for p in sorted((root / "pre").glob("case-*.json"))]
    if pre:
        out["pre"] = {m: dict(zip(("mean", "ci95"), mean_ci([r[m] for r in pre])), n=len(pre)) for m in METRICS}
    if not out["tokens"]:
        raise MissingResultError(f"no sweep results under {root}")
    return out


@styled
def render_fig5(sweep_dir: str | os.PathLike, stem: str | os.PathLike, title: str | None = None) -> list[Path]:
    """Draw Fig. 5 (PDF + PNG at ``stem``) and write ``stem.json`` with the aggregates."""
    import matplotlib.pyplot as plt

    agg = aggregate(sweep_dir)
    fig, axes = plt.subplots(1, 4, figsize=(12, 2.8), sharey=True)
    colours = {"first_subject": CATEGORY_COLOURS["first_subject"], "last_subject": CATEGORY_COLOURS["last_subject"],
               "first_subsequent": CATEGORY_COLOURS["first_subsequent"], "last": CATEGORY_COLOURS["last"]}
    for ax, metric in zip(axes, METRICS):
        for token, per_layer in agg["tokens"].items():
            layers = sorted(per_layer)
            m = [per_layer[l][metric]["mean"] for l in layers]
            c = [per_layer[l][metric]["ci95"] for l in layers]
            ax.plot(layers, m, color=colours[token], label=TOKEN_LABELS[token], marker=".", lw=1.2)
            ax.fill_between(layers, [a - b for a, b in zip(m, c)], [a + b for a, b in zip(m, c)],
                            color=colours[token], alpha=0.2, lw=0)
        if agg["pre"]:
            ax.axhline(agg["pre"][metric]["mean"], color="#7f7f7f", ls="--", lw=0.8, label="unedited")
        ax.set_title(metric)
        ax.set_xlabel("edited layer")
        ax.set_ylim(-0.02, 1.02)
    axes[0].set_ylabel("share of prompts")
    # one legend for the row, below the axes, so it never covers a curve
    handles, labels = axes[-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=len(labels), frameon=False)
    n = max(v[METRICS[0]]["n"] for per in agg["tokens"].values() for v in per.values())
    fig.suptitle(title or f"ROME at each layer and token (N = {n} records)", y=1.02)
    stem = Path(stem)
    atomic_write_json(stem.with_suffix(".json"), agg)
    return save_figure(fig, stem)
