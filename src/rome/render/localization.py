"""Localization vs editing (Hase et al., NeurIPS 2023): figure and table from the analysis file.

Reads the JSON of ``rome localization`` (:mod:`rome.results.localization`) and draws, in the
style of Hase et al.'s Figs. 1 and 5 (google/belief-localization,
``third_party/data-analysis.ipynb``, cells "FINAL PLOT: score vs. restoration effect by
layer" and "Final R2 plot"): one panel per edited layer with each fact's rewrite score
against its tracing effect at the last subject token, the least-squares line and the
diagonal; and a last panel of stacked R² bars, the edit layer alone and what the tracing
effect adds (``R²_both − R²_layer``), for both tracing-effect definitions. The table
(Markdown and CSV) gives per layer n, means, Spearman's ρ, Pearson's r and R², and the
pooled regressions with the F test. Never loads a model.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

from atomicio import atomic_write_text, load_json
from counterfact.errors import BadInputError
from replkit.tables import csv_text, markdown_table

from .style import save_figure, styled

EFFECT_LABELS = {"last_subject": "last subject token", "max_token": "largest over tokens"}


class AnalysisFileError(BadInputError, ValueError):
    """The analysis file is not one ``rome localization`` wrote (names the file and field)."""


def load_analysis(path: str | os.PathLike) -> dict:
    """The analysis document, checked for the fields the figure and table read."""
    try:
        doc = load_json(path)
    except (OSError, ValueError) as err:
        raise AnalysisFileError(f"{path}: cannot read the analysis ({err})") from None
    if not isinstance(doc, dict):
        raise AnalysisFileError(f"{path}: expected a JSON object")
    for field in ("layers", "rows", "analysis", "n_facts"):
        if field not in doc:
            raise AnalysisFileError(f"{path}, field '{field}': missing (not written by `rome localization`?)")
    for effect in EFFECT_LABELS:
        part = doc["analysis"].get(effect) if isinstance(doc["analysis"], dict) else None
        if not isinstance(part, dict) or "pooled" not in part or "per_layer" not in part:
            raise AnalysisFileError(f"{path}, field 'analysis.{effect}': missing pooled or per_layer")
    return doc


def fmt(value, digits: int = 3) -> str:
    """A number for the table: fixed digits; ``–`` for undefined (None, NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value != 0 and abs(value) < 10 ** -digits:
        return f"{value:.1e}"
    return f"{value:.{digits}f}"


def table_rows(doc: dict) -> tuple[list, list[list], list, list[list]]:
    """(header, rows) per layer and (header, rows) of the pooled regressions."""
    per = doc["analysis"]["last_subject"]["per_layer"]
    per_max = doc["analysis"]["max_token"]["per_layer"]
    h1 = ["edited layer", "n", "tracing effect (last subj.)", "rewrite score", "Spearman ρ", "Pearson r", "R²",
          "ρ (largest over tokens)"]
    r1 = [[layer, per[str(layer)]["n"], fmt(per[str(layer)]["mean_effect"]),
           fmt(per[str(layer)]["mean_rewrite_score"]), fmt(per[str(layer)]["spearman"]),
           fmt(per[str(layer)]["pearson"]), fmt(per[str(layer)]["r2"]), fmt(per_max[str(layer)]["spearman"])]
          for layer in doc["layers"]]
    h2 = ["tracing effect", "N (fact, layer)", "R² layer", "R² tracing effect", "R² layer × effect",
          "ΔR² (effect beside layer)", "F", "p", "Spearman ρ (pooled)"]
    r2 = []
    for effect, label in EFFECT_LABELS.items():
        p = doc["analysis"][effect]["pooled"]
        f_text = "–" if p.get("f") is None else f"{fmt(p['f'], 2)} ({p['df1']}, {p['df2']})"
        r2.append([label, p.get("n"), fmt(p.get("r2_layer")), fmt(p.get("r2_trace")), fmt(p.get("r2_both")),
                   fmt(p.get("r2_added")), f_text, fmt(p.get("p_value")), fmt(p.get("spearman"))])
    return h1, r1, h2, r2


def write_table(doc: dict, stem: str | os.PathLike) -> list[Path]:
    stem = Path(stem)
    h1, r1, h2, r2 = table_rows(doc)
    excluded = doc.get("excluded") or []
    note = (f"{doc['n_facts']} facts; ROME at layers {', '.join(map(str, doc['layers']))} (token: last subject); "
            "tracing effect: restored MLP, fraction of the corruption effect restored (Hase et al. 2023); "
            "rewrite score max(2e-8, 1 − (1 − p_post)/(1 − p_pre)) of p(target_new)."
            + (f" {len(excluded)} facts left out (edit skipped): "
               + ", ".join(str(e['known_id']) for e in excluded) + "." if excluded else ""))
    md = ("# Localization vs editing (Hase et al. 2023)\n\n" + note + "\n\n## Per edited layer\n\n"
          + markdown_table(h1, r1, "r" * len(h1)) + "\n## Rewrite score on layer and tracing effect (OLS)\n\n"
          + markdown_table(h2, r2, "l" + "r" * (len(h2) - 1)))
    csv = csv_text([["part", *h1]] + [["per_layer", *r] for r in r1] + [["pooled", *h2]]
                   + [["pooled", *r] for r in r2])
    return [atomic_write_text(stem.with_suffix(".md"), md), atomic_write_text(stem.with_suffix(".csv"), csv)]


@styled
def draw(doc: dict, stem: str | Path, title: str | None = None) -> list[Path]:
    import matplotlib.pyplot as plt
    import numpy as np

    layers = doc["layers"]
    rows = doc["rows"]
    fig, axes = plt.subplots(1, len(layers) + 1, figsize=(2.0 * (len(layers) + 1) + 0.6, 2.6),
                             gridspec_kw={"width_ratios": [1] * len(layers) + [1.3]})
    per = doc["analysis"]["last_subject"]["per_layer"]
    for ax, layer in zip(axes, layers):
        sub = [r for r in rows if r["layer"] == layer]
        x = np.array([r["last_subject"] for r in sub])
        y = np.array([r["rewrite_score"] for r in sub])
        ax.plot([0, 1], [0, 1], color="#f94343", ls="--", lw=0.8)
        ax.scatter(x, y, s=10, alpha=0.6, color="#1f77b4", lw=0)
        if len(x) >= 2 and np.ptp(x) > 0:
            slope, icept = np.polyfit(x, y, 1)
            xs = np.array([x.min(), x.max()])
            ax.plot(xs, icept + slope * xs, color="#ff7f0e", lw=1.3)
        rho = per[str(layer)]["spearman"]
        ax.set_title(f"layer {layer}\nρ = {'–' if rho is None else f'{rho:.2f}'}")
        ax.set_xlabel("tracing effect")
        ax.set_ylim(-0.03, 1.03)
    axes[0].set_ylabel("rewrite score")
    bar = axes[-1]
    labels = list(EFFECT_LABELS)
    lay = [doc["analysis"][e]["pooled"].get("r2_layer") or 0.0 for e in labels]
    add = [max(0.0, doc["analysis"][e]["pooled"].get("r2_added") or 0.0) for e in labels]
    pos = np.arange(len(labels))
    bar.bar(pos, lay, width=0.5, color="#56b4e9", label="layer")
    bar.bar(pos, add, width=0.5, bottom=lay, color="#e69f00", label="+ tracing effect")
    bar.set_xticks(pos, ["last subj.", "max token"])
    bar.set_ylim(0, 1)
    bar.set_ylabel("R² of rewrite score")
    bar.set_title("variance explained")
    bar.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=1, frameon=False)
    head = f"{title}: t" if title else "T"
    fig.suptitle(f"{head}racing effect vs ROME rewrite score (N = {doc['n_facts']} facts)", y=1.04)
    fig.tight_layout()
    return save_figure(fig, stem)


def render_localization(analysis: str | os.PathLike, stem: str | Path, title: str | None = None) -> list[Path]:
    """Figure (``stem``.pdf/.png) and table (``stem``.md/.csv) of one analysis file."""
    doc = load_analysis(analysis)
    return draw(doc, stem, title) + write_table(doc, stem)

