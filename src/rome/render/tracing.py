"""Causal-tracing figures from cached result files only (never loads a model).

Fig. 1/10/11/12: :func:`plot_trace` · Fig. 2/8: :func:`plot_aie_heatmaps` ·
Fig. 3/14: :func:`plot_severed` · Fig. 7/9/13/15: :func:`plot_aie_lines` ·
Fig. 16: :func:`plot_saliency`. Multi-model figures take a list of (label, averages).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .style import CATEGORY_COLOURS, KIND_CMAPS, KIND_LABELS, save_figure, styled

KINDS = ("hidden", "mlp", "attn")
CATEGORY_LABELS = {"first_subject": "first subject token", "middle_subject": "middle subject tokens",
                   "last_subject": "last subject token", "first_subsequent": "first subsequent token",
                   "further": "further tokens", "last": "last token"}


def _token_labels(tokens: Sequence[str], marked: Sequence[int]) -> list[str]:
    """Tick labels of ``tokens`` (newlines shown as \\n), with ``*`` on positions ``marked[0]`` ≤ i < ``marked[1]``."""
    m0, m1 = marked
    return [t.replace("\n", "\\n") + ("*" if m0 <= i < m1 else "") for i, t in enumerate(tokens)]


@styled
def plot_trace(res, stem: str | Path, kinds: Sequence[str] | None = None, title: str | None = None):
    """Heatmaps tokens × layers of p(answer) after restoring each state (Fig. 1)."""
    kinds = [k for k in (kinds or KINDS) if k in res.scores]
    fig, axes = plt.subplots(1, len(kinds), figsize=(3.6 * len(kinds), 0.28 * len(res.tokens) + 1.4), squeeze=False,
                             layout="constrained")
    window = res.settings.get("window")
    for ax, kind in zip(axes[0], kinds):
        grid = res.scores[kind]
        im = ax.pcolormesh(grid, cmap=KIND_CMAPS.get(kind, "Greys"), vmin=res.corrupted)
        ax.invert_yaxis()
        ax.set_yticks(np.arange(len(res.tokens)) + 0.5)
        ax.set_yticklabels(_token_labels(res.tokens, res.corrupt_range))
        ax.set_xticks(np.arange(0, grid.shape[1], max(1, grid.shape[1] // 6)) + 0.5)
        ax.set_xticklabels(np.arange(0, grid.shape[1], max(1, grid.shape[1] // 6)))
        label = KIND_LABELS.get(kind, kind) + (f" (window {window})" if kind != "hidden" and window else "")
        ax.set_title(label)
        ax.set_xlabel("layer" if kind == "hidden" else "centre of restored window (layer)")
        cb = fig.colorbar(im, ax=ax)
        cb.set_label(f"p({res.answer.strip()})")
    fig.suptitle(title or f"{res.prompt!r} → {res.answer.strip()!r}  (* corrupted)", fontsize=9)
    return save_figure(fig, stem)


def _xlabel(kind: str) -> str:
    return "layer" if kind == "hidden" else "centre of restored window (layer)"


def _heatmap_row(fig, axes, avgs: Mapping[str, dict], kinds: Sequence[str]) -> None:
    """One row of AIE heatmaps (6 categories × layers), one axis per kind."""
    for ax, kind in zip(axes, kinds):
        a = avgs[kind]
        im = ax.pcolormesh(np.nan_to_num(a["aie"]), cmap=KIND_CMAPS[kind], vmin=0)
        ax.invert_yaxis()
        ax.set_yticks(np.arange(len(a["categories"])) + 0.5)
        ax.set_yticklabels([CATEGORY_LABELS[c] for c in a["categories"]] if ax is axes[0] else [])
        ax.set_xlabel(_xlabel(kind))
        ax.set_title(f"AIE, {KIND_LABELS[kind]}")
        fig.colorbar(im, ax=ax).set_label("average indirect effect")


def _lines_row(axes, avgs: Mapping[str, dict], kinds: Sequence[str]) -> None:
    """One row of AIE-per-layer line plots (a line per token category, 95% bands), one axis per kind."""
    for ax, kind in zip(axes, kinds):
        a = avgs[kind]
        layers = np.arange(a["aie"].shape[1])
        for c, cat in enumerate(a["categories"]):
            m, ci = a["aie"][c], a["ci95"][c]
            if np.all(np.isnan(m)):
                continue
            ax.plot(layers, m, color=CATEGORY_COLOURS[cat], label=CATEGORY_LABELS[cat], lw=1.3)
            ax.fill_between(layers, m - ci, m + ci, color=CATEGORY_COLOURS[cat], alpha=0.15, lw=0)
        ax.set_xlabel(_xlabel(kind))
        ax.set_ylabel("average indirect effect")
        ax.set_title(KIND_LABELS[kind])


@styled
def plot_aie_heatmaps(avgs: Mapping[str, dict], stem: str | Path, title: str = ""):
    """AIE heatmaps, 6 categories × layers, for hidden / MLP / attention (Fig. 2)."""
    kinds = [k for k in KINDS if k in avgs]
    fig, axes = plt.subplots(1, len(kinds), figsize=(3.8 * len(kinds), 2.6), squeeze=False,
                             layout="constrained")
    _heatmap_row(fig, axes[0], avgs, kinds)
    n = avgs[kinds[0]]["n_kept"]
    fig.suptitle((title + " " if title else "") + f"({n} facts)", fontsize=9)
    return save_figure(fig, stem)


@styled
def plot_aie_lines(avgs: Mapping[str, dict], stem: str | Path, title: str = ""):
    """AIE per layer, one line per token category with 95% bands (Fig. 7; Figs. 13, 15 with other settings)."""
    kinds = [k for k in KINDS if k in avgs]
    fig, axes = plt.subplots(1, len(kinds), figsize=(3.8 * len(kinds), 2.7), squeeze=False, sharey=False,
                             layout="constrained")
    _lines_row(axes[0], avgs, kinds)
    axes[0][-1].legend(loc="upper right", frameon=False)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, stem)


@styled
def plot_models(models: Sequence[tuple[str, Mapping[str, dict]]], stem: str | Path, lines: bool = False):
    """Figs. 8 (heatmaps) / 9 (``lines=True``): one figure, one row per model (label, {kind: averages}).

    Columns are the kinds present in every model's averages; each row is labelled with the
    model and its number of averaged facts. Models may have different numbers of layers.
    """
    if not models:
        raise ValueError("plot_models needs at least one (label, averages) pair")
    kinds = [k for k in KINDS if all(k in avgs for _, avgs in models)]
    if not kinds:
        raise ValueError(f"no kind of {KINDS} is present in the averages of every model: "
                         f"{[(label, sorted(avgs)) for label, avgs in models]}")
    height = 2.7 if lines else 2.6
    fig, axes = plt.subplots(len(models), len(kinds), figsize=(3.8 * len(kinds), height * len(models)),
                             squeeze=False, layout="constrained")
    for r, (row, (label, avgs)) in enumerate(zip(axes, models)):
        if lines:
            _lines_row(row, avgs, kinds)
        else:
            _heatmap_row(fig, row, avgs, kinds)
        n = avgs[kinds[0]].get("n_kept")
        row_label = label + (f" ({n} facts)" if n is not None else "")
        if r > 0:                           # kind titles on the top row only
            for ax in row:
                ax.set_title("")
        row[0].set_ylabel(row_label + ("\naverage indirect effect" if lines else ""), fontweight="bold")
    if lines:
        axes[0][-1].legend(loc="upper right", frameon=False)
    fig.suptitle("average indirect effect by model", fontsize=9)
    return save_figure(fig, stem)


@styled
def plot_severed(sev: Mapping, stem: str | Path, title: str = "", per_fact: bool = False):
    """Bars per layer at the last subject token: single state, attention severed, MLP severed (Fig. 3)."""
    single = np.asarray(sev["single"]).ravel()
    layers = np.arange(len(single))
    w = 0.28
    fig, ax = plt.subplots(figsize=(6.5, 2.6))
    bars = (("single", "effect of a single state", "#7b4ea3"), ("attn_severed", "attention severed", "#d62728"),
            ("mlp_severed", "MLP severed", "#2ca02c"))
    for k, (key, label, colour) in enumerate(bars):
        v = np.asarray(sev[key]).ravel()
        err = np.asarray(sev.get(key + "_ci95", np.zeros_like(v))).ravel() if not per_fact else None
        ax.bar(layers + (k - 1) * w, v, w, color=colour, label=label, yerr=err, error_kw=dict(lw=0.6))
    ax.set_xlabel("layer of the restored hidden state (last subject token)")
    ax.set_ylabel("indirect effect" if per_fact else "average indirect effect")
    ax.legend(frameon=False)
    n = sev.get("n_kept")
    ax.set_title(title + (f" ({n} facts)" if n else ""))
    return save_figure(fig, stem)


SALIENCY_LABELS = {"hidden": "hidden states", "mlp": "MLP outputs", "attn": "attention outputs"}


@styled
def plot_saliency(sal: Mapping, stem: str | Path):
    """Integrated-gradients saliency, tokens × layers for hidden / MLP / attention (Fig. 16)."""
    kinds = [k for k in KINDS if k in sal["scores"]]
    tokens = sal["tokens"]
    fig, axes = plt.subplots(1, len(kinds), figsize=(3.6 * len(kinds), 0.28 * len(tokens) + 1.4), squeeze=False,
                             layout="constrained")
    for c, (ax, kind) in enumerate(zip(axes[0], kinds)):
        im = ax.pcolormesh(np.asarray(sal["scores"][kind]), cmap=KIND_CMAPS[kind], vmin=0)
        ax.invert_yaxis()
        ax.set_yticks(np.arange(len(tokens)) + 0.5)
        ax.set_yticklabels(_token_labels(tokens, sal["subject_range"]) if c == 0 else [])
        ax.set_xlabel("layer")
        ax.set_title(f"IG saliency, {SALIENCY_LABELS[kind]}")
        fig.colorbar(im, ax=ax).set_label("|attribution|")
    fig.suptitle(f"{sal['prompt']!r} → {sal['answer'].strip()!r}  (* subject)", fontsize=9)
    return save_figure(fig, stem)
