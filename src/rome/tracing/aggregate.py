"""Average indirect effects (AIE) per token category over many traced facts (Figs. 2, 7, 13, 15).

Only facts the clean model gets right (clean argmax == the expected first token) count;
each fact contributes, per category, the mean indirect effect over its positions of that
category. The 95% interval is 1.96·std/√N (population std, :mod:`rome.results.stats_util`) over the facts
that have the category.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..model.tokens import TOKEN_CATEGORIES
from ..results.stats_util import ci95_half_width
from ..results.traces import TraceResult, load_average, save_average  # noqa: F401 (re-exported)

PAPER_GPT2_XL = {
    "clean": 0.270, "corrupted": 0.0847, "ate": 0.186,
    "hidden": {"aie": 0.087, "category": "last_subject", "layer": 15},
    "mlp": {"aie": 0.066, "category": "last_subject", "layer": 17},
    "attn": {"aie": 0.016, "category": "last_subject", "layer": None,
             "note": "attention peak at the last token around layer 32"},
    "n_layers": 48, "window": 10, "noise": "s3 (nu = 0.1346)", "n_facts": 1000,
}


def load_results(folder: str | Path) -> list[TraceResult]:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no trace results folder {folder}")
    files = sorted(folder.glob("*.npz"), key=lambda p: (len(p.stem), p.stem))
    return [TraceResult.load(p) for p in files]


def category_effects(res: TraceResult, kind: str) -> np.ndarray:
    """[6, L] mean indirect effect per category (NaN where the prompt has no such token)."""
    ie = res.indirect_effect(kind)
    cats = res.categories
    out = np.full((len(TOKEN_CATEGORIES), ie.shape[1]), np.nan)
    for c, name in enumerate(TOKEN_CATEGORIES):
        rows = [i for i, x in enumerate(cats) if x == name]
        if rows:
            out[c] = ie[rows].mean(0)
    return out


def is_correct(res: TraceResult) -> bool:
    return bool(res.meta.get("correct", res.meta.get("clean_argmax_id") == res.answer_id))


def average_effects(results: Iterable[TraceResult], kind: str, only_correct: bool = True) -> dict:
    """AIE [6, L], its 95% half-width, counts and the probability averages for one kind."""
    results = list(results)
    kept = [r for r in results if is_correct(r) or not only_correct]
    if not kept:
        raise ValueError(f"no traced facts to average for kind {kind!r} ({len(results)} loaded, none correct)")
    per_fact = np.stack([category_effects(r, kind) for r in kept])  # [N, 6, L]
    n = np.sum(~np.isnan(per_fact), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nanmean(per_fact, axis=0)
        std = np.nanstd(per_fact, axis=0)
        ci = ci95_half_width(std, np.maximum(n, 1))
    clean = np.array([r.clean for r in kept])
    corrupted = np.array([r.corrupted for r in kept])
    return {
        "kind": kind, "categories": list(TOKEN_CATEGORIES), "aie": mean, "ci95": ci, "n_per_category": n,
        "n_loaded": len(results), "n_kept": len(kept), "clean": float(clean.mean()),
        "corrupted": float(corrupted.mean()), "ate": float((clean - corrupted).mean()),
        "ate_ci95": float(ci95_half_width((clean - corrupted).std(), len(kept))),
        "known_ids": [r.meta.get("known_id") for r in kept],
    }


def peak(avg: dict) -> dict:
    aie = np.nan_to_num(avg["aie"], nan=-np.inf)
    c, l = np.unravel_index(int(np.argmax(aie)), aie.shape)
    return {"aie": float(avg["aie"][c, l]), "category": avg["categories"][c], "layer": int(l),
            "ci95": float(avg["ci95"][c, l])}


def severed_average(results: Iterable[TraceResult], only_correct: bool = True) -> dict:
    """Mean IE per layer at the last subject token: single state, attention severed, MLP severed."""
    kept = [r for r in results if is_correct(r) or not only_correct]
    if not kept:
        raise ValueError("no severed-path results to average")
    out = {"n_kept": len(kept)}
    for label in ("single", "attn_severed", "mlp_severed"):
        ie = np.stack([r.scores[label][0] - r.corrupted for r in kept])
        out[label] = ie.mean(0)
        out[label + "_ci95"] = ci95_half_width(ie.std(0), len(kept))
    return out
