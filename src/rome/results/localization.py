"""Localization vs editing (Hase et al., NeurIPS 2023, "Does Localization Inform Editing?").

On the same facts, set each fact's causal-tracing effect of the MLP at layer l against
ROME's rewrite score when editing layer l, for every layer, and ask how much of the
variance of edit success the tracing effect explains beside the layer itself. Files only:
this module reads the per-fact trace files (:mod:`rome.results.traces`, written by
``rome trace-batch``) and the per-(record, layer) sweep files (:func:`rome.results.layout.sweep_file`,
written by ``rome sweep``); it loads no model and no torch.

Definitions, from the official code (google/belief-localization, commit 0886d8d):

* **The facts.** Known facts (``known_1000.json`` format) joined to the COUNTERFACT record
  they were selected from: the first record with the same ``(subject, relation_id)`` — the
  pair :func:`counterfact.known_facts.select_known_facts` tries once, with its first record —
  whose ``target_true`` is the fact's ``attribute`` (:func:`select_facts`). Hase et al. trace
  the COUNTERFACT rewrite prompts themselves (``experiments/tracing.py``,
  ``load_counterfact_dataset``) and keep only facts the model completes correctly
  (``correctness_filter``); the known facts are that filter here.
* **Tracing effect** (``third_party/data-analysis.ipynb``, cells "Postprocess tracing data"
  and "Join tracing and editing results"): with the MLP trace of a fact (``kind="mlp"``, the
  tracing window of the run), ``restore_effect = restored − corrupted``,
  ``corruption_effect = corrupted − high`` where ``high = max(clean, largest restored score
  of the trace)`` (``experiments/causal_trace.py``, ``calculate_hidden_flow``: ``high_score``),
  and per layer

  - ``last_subject`` (their ``subj_effect_fraction``): ``restore_effect / |corruption_effect|``
    at the last subject token (not clipped), the effect the issue asks for;
  - ``max_token`` (their ``max_fraction_restored``, the regressor of their R² cell): the
    largest over tokens from the subject's first of ``max(0, restore_effect / |corruption_effect|)``.

* **Edit success: rewrite score** (``experiments/evaluate.py``, ``make_editing_results_df``):
  ``max(2e-8, 1 − (1 − p_post) / (1 − p_pre))`` with ``p`` the probability of
  ``target_new`` on the rewrite prompt before (``p_pre``) and after (``p_post``) the edit.
* **Regressions** (notebook cell "R2 values for each method"): ordinary least squares of the
  rewrite score on the edit layer as a factor (``R²_layer``), on the tracing effect
  (``R²_trace``), and on their full interaction ``factor(layer) * effect`` (``R²_both``);
  ``ΔR² = R²_both − R²_layer`` is what the tracing effect adds to the layer (the two stacked
  bars of their Fig. 5) and its F test (``anova(model_both, model_layer)``) gives the p value.
  ``R²_layer`` is the share of variance explained by the layer alone. Per layer: Spearman's
  ρ (average ranks for ties, as R's ``cor(method="spearman")``), Pearson's r and the R² of
  the one-variable regression within the layer (= r²).

Differences forced by the package's files (docs/evaluation.md lists them): the trace
scores the first token of the answer (ROME's trace), not the whole answer; the sweep's
probabilities are ``exp(−mean token NLL)`` of the target (ROME's scoring), Hase et al.'s
``exp(−summed NLL)``; the two agree for one-token targets.
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from atomicio import load_json
from counterfact.errors import BadInputError

from .layout import sweep_file, sweep_pre_file
from .traces import TraceResult, result_path

EFFECTS = ("last_subject", "max_token")
Numbers = Sequence[float] | np.ndarray
REWRITE_FLOOR = 2e-8  # evaluate.py: recovered_prop = np.max([2e-8, recovered_prop])
TOKEN = "last_subject"  # Hase et al.'s fact_token "subject_last": ROME's own choice


class LocalizationInputError(BadInputError, ValueError):
    """A fact without a trace or sweep file, or a file that cannot be used (one line naming it)."""


# -- the facts: known facts joined to their COUNTERFACT records ------------------------------

def select_facts(known: Sequence[Mapping], records: Sequence[Mapping], n: int,
                 known_path: str | os.PathLike = "<known facts>",
                 records_path: str | os.PathLike = "<records>") -> dict:
    """The first ``n`` known facts (in ``known_id`` order) that have a COUNTERFACT record.

    A fact's record is the first with its ``(subject, relation_id)`` whose ``target_true``
    is the fact's ``attribute`` (module docstring). Facts without one are listed under
    ``unmatched`` with the reason (the released GPT-2 XL set holds facts that are not in a
    given COUNTERFACT build). Fewer than ``n`` matches raise :class:`LocalizationInputError`.
    """
    first: dict[tuple[str, str], Mapping] = {}
    for rec in records:
        rw = rec["requested_rewrite"]
        first.setdefault((rw["subject"], rw["relation_id"]), rec)
    facts: list[dict] = []
    unmatched: list[dict] = []
    for fact in sorted(known, key=lambda f: f["known_id"]):
        if len(facts) >= n:
            break
        match = first.get((fact["subject"], fact["relation_id"]))
        if match is None:
            unmatched.append({"known_id": fact["known_id"], "reason": "no record with this subject and relation"})
            continue
        rec = match
        true = rec["requested_rewrite"]["target_true"]["str"]
        if true != fact["attribute"]:
            unmatched.append({"known_id": fact["known_id"],
                              "reason": f"record {rec['case_id']}'s target_true {true!r} is not {fact['attribute']!r}"})
            continue
        facts.append({"known_id": fact["known_id"], "case_id": rec["case_id"], "subject": fact["subject"],
                      "relation_id": fact["relation_id"], "attribute": fact["attribute"]})
    if len(facts) < n:
        raise LocalizationInputError(
            f"{known_path}: only {len(facts)} of its {len(known)} known facts have a COUNTERFACT record in "
            f"{records_path} ({len(unmatched)} without); localization.n_facts asks for {n}")
    return {"known_facts": Path(known_path).name, "records": Path(records_path).name, "n_facts": n,
            "facts": facts, "unmatched": unmatched}


def read_selection(path: str | os.PathLike) -> list[dict]:
    """The ``facts`` of a file written by :func:`select_facts` (``rome localization-facts``),
    each with integer ``known_id`` and ``case_id``; :class:`LocalizationInputError` otherwise."""
    try:
        doc = load_json(path)
    except (OSError, ValueError) as err:
        raise LocalizationInputError(f"{path}: cannot read the selected facts ({err})") from None
    facts = doc.get("facts") if isinstance(doc, dict) else None
    if not isinstance(facts, list) or not facts:
        raise LocalizationInputError(f"{path}: expected an object with a non-empty list 'facts'")
    for i, f in enumerate(facts):
        for field in ("known_id", "case_id"):
            if not isinstance(f, dict) or not isinstance(f.get(field), int) or isinstance(f.get(field), bool):
                raise LocalizationInputError(f"{path}, fact {i}, field '{field}': must be an integer")
    return facts


# -- statistics (hand-checked in tests/results/test_localization.py) -----------------------

def average_ranks(values: Numbers) -> np.ndarray:
    """1-based ranks, ties sharing the mean of the ranks they span (R's ``rank``, ``ties="average"``)."""
    x = np.asarray(values, dtype=float)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and x[order[j + 1]] == x[order[i]]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def pearson(x: Numbers, y: Numbers) -> float | None:
    """Pearson's r; ``None`` when fewer than two pairs or either variable is constant."""
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(a) < 2:
        return None
    da, db = a - a.mean(), b - b.mean()
    den = math.sqrt(float(da @ da) * float(db @ db))
    return None if den == 0 else float(da @ db) / den


def spearman(x: Numbers, y: Numbers) -> float | None:
    """Spearman's ρ: Pearson's r of the average ranks (so ties are handled as R does)."""
    if len(x) < 2:
        return None
    return pearson(average_ranks(x), average_ranks(y))


def ols(y: Sequence[float], X: np.ndarray) -> tuple[float | None, float, int]:
    """``(R², residual sum of squares, rank of X)`` of least squares; R² = 1 − SSE/SST with
    SST about the mean (every design here spans the constant); ``None`` when SST is 0."""
    yy = np.asarray(y, dtype=float)
    coef, *_ = np.linalg.lstsq(X, yy, rcond=None)
    resid = yy - X @ coef
    sse = float(resid @ resid)
    sst = float(((yy - yy.mean()) ** 2).sum())
    rank = int(np.linalg.matrix_rank(X))
    return (None if sst == 0 else 1.0 - sse / sst), sse, rank


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz's method)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        for num in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def f_sf(f: float, d1: float, d2: float) -> float:
    """P(F > f) for an F(d1, d2) variable: I_{d2/(d2 + d1 f)}(d2/2, d1/2)."""
    if f <= 0:
        return 1.0
    if math.isinf(f):
        return 0.0
    return betainc(d2 / 2, d1 / 2, d2 / (d2 + d1 * f))


def regressions(layers: Sequence[int], effect: Sequence[float], score: Sequence[float]) -> dict:
    """R² of score ~ factor(layer), ~ effect, ~ factor(layer) * effect, ΔR² and its F test."""
    lay = np.asarray(layers)
    x = np.asarray(effect, dtype=float)
    levels = sorted(set(lay.tolist()))
    onehot = np.stack([(lay == lv).astype(float) for lv in levels], axis=1)
    r2_layer, sse_layer, rank_layer = ols(score, onehot)
    r2_trace, _, _ = ols(score, np.stack([np.ones(len(x)), x], axis=1))
    r2_both, sse_both, rank_both = ols(score, np.concatenate([onehot, onehot * x[:, None]], axis=1))
    df1, df2 = rank_both - rank_layer, len(x) - rank_both
    f = p = None
    if df1 > 0 and df2 > 0:
        if sse_both > 0:
            f = ((sse_layer - sse_both) / df1) / (sse_both / df2)
            p = f_sf(max(f, 0.0), df1, df2)
        elif sse_layer > 0:
            f, p = math.inf, 0.0
    added = None if r2_both is None or r2_layer is None else r2_both - r2_layer
    return {"n": len(x), "r2_layer": r2_layer, "r2_trace": r2_trace, "r2_both": r2_both, "r2_added": added,
            "f": f, "df1": df1, "df2": df2, "p_value": p,
            "spearman": spearman(x, score), "pearson": pearson(x, score)}


# -- reading the per-item files --------------------------------------------------------------

def trace_effects(res: TraceResult, kind: str = "mlp", where: str = "<trace>") -> dict[str, np.ndarray]:
    """Per layer, the ``last_subject`` and ``max_token`` tracing effects of one fact (module docstring)."""
    if kind not in res.scores:
        raise LocalizationInputError(f"{where}: no {kind} trace in the file (kinds {sorted(res.scores)})")
    grid = np.asarray(res.scores[kind], dtype=float)
    start, end = res.subject_range
    low = float(res.corrupted)
    high = max(float(res.clean), float(grid[start:].max()))
    denom = abs(low - high)
    if denom == 0 or not math.isfinite(denom):
        raise LocalizationInputError(f"{where}: the corrupted score equals the clean one ({low}); "
                                     "the fraction restored is undefined for this fact")
    return {"last_subject": (grid[end - 1] - low) / denom,
            "max_token": np.maximum(0.0, (grid[start:] - low) / denom).max(axis=0)}


def rewrite_score(p_pre: float, p_post: float, where: str = "<sweep>") -> float:
    """``max(2e-8, 1 − (1 − p_post) / (1 − p_pre))``: the share of the possible rise of p(target_new)."""
    if p_pre >= 1:
        raise LocalizationInputError(f"{where}: p(target_new) before the edit is 1; the rewrite score is undefined")
    return max(REWRITE_FLOOR, 1.0 - (1.0 - p_post) / (1.0 - p_pre))


def _p_new(path: Path, what: str) -> float:
    if not path.is_file():
        raise LocalizationInputError(f"{path}: missing ({what}); run `rome sweep` for the selected facts")
    try:
        doc = load_json(path)
        return float(doc["p_rewrite"][0][0])
    except (OSError, ValueError, KeyError, IndexError, TypeError) as err:
        raise LocalizationInputError(f"{path}: no field p_rewrite [[p_new, p_true]] ({type(err).__name__})") from None


def collect(facts: Sequence[Mapping], traces_dir: str | Path, sweep_dir: str | Path,
            layers: Sequence[int], kind: str = "mlp", token: str = TOKEN) -> tuple[list[dict], list[dict]]:
    """One row per (fact, layer): both tracing effects and the rewrite score; and the facts
    whose edit the sweep skipped (``skipped`` in its file: left out, listed with the reason)."""
    rows, excluded = [], []
    for fact in facts:
        kid, cid = fact["known_id"], fact["case_id"]
        tpath = result_path(traces_dir, kind, kid)
        if not tpath.is_file():
            raise LocalizationInputError(f"{tpath}: missing: fact {kid} (case {cid}) has no {kind} trace; "
                                         "run `rome trace-batch` for the selected facts")
        try:
            res = TraceResult.load(tpath)
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise LocalizationInputError(f"{tpath}: unreadable trace ({type(err).__name__})") from None
        eff = trace_effects(res, kind, str(tpath))
        n_layers = len(eff["last_subject"])
        beyond = [lv for lv in layers if lv >= n_layers]
        if beyond:
            raise LocalizationInputError(f"{tpath}: layers {beyond} beyond the trace's {n_layers} layers")
        pre = _p_new(sweep_pre_file(sweep_dir, cid), f"unedited scores of case {cid}")
        fact_rows, skipped = [], None
        for layer in layers:
            spath = sweep_file(sweep_dir, token, layer, cid)
            try:
                doc = load_json(spath) if spath.is_file() else None
            except (OSError, ValueError) as err:
                raise LocalizationInputError(f"{spath}: unreadable sweep file ({type(err).__name__})") from None
            if isinstance(doc, dict) and "skipped" in doc:
                skipped = f"{spath}: {doc['skipped']}"
                break
            post = _p_new(spath, f"case {cid} edited at layer {layer}")
            fact_rows.append({"known_id": kid, "case_id": cid, "layer": int(layer),
                              "last_subject": float(eff["last_subject"][layer]),
                              "max_token": float(eff["max_token"][layer]),
                              "p_pre": pre, "p_post": post, "rewrite_score": rewrite_score(pre, post, str(spath))})
        if skipped:
            excluded.append({"known_id": kid, "case_id": cid, "reason": skipped})
        else:
            rows += fact_rows
    return rows, excluded


def analyse(rows: Sequence[Mapping], layers: Sequence[int]) -> dict:
    """Per effect definition: the pooled regressions and, per layer, n, means, ρ, r and R²."""
    out: dict[str, Any] = {}
    for effect in EFFECTS:
        per_layer = {}
        for layer in layers:
            sub = [r for r in rows if r["layer"] == layer]
            x = [r[effect] for r in sub]
            y = [r["rewrite_score"] for r in sub]
            r = pearson(x, y)
            per_layer[str(layer)] = {
                "n": len(sub), "mean_effect": float(np.mean(x)) if x else None,
                "mean_rewrite_score": float(np.mean(y)) if y else None,
                "spearman": spearman(x, y), "pearson": r, "r2": None if r is None else r * r}
        pooled = regressions([r["layer"] for r in rows], [r[effect] for r in rows],
                             [r["rewrite_score"] for r in rows]) if rows else {}
        out[effect] = {"pooled": pooled, "per_layer": per_layer}
    return out


def run(selection_path: str | os.PathLike, traces_dir: str | Path, sweep_dir: str | Path,
        layers: Sequence[int], kind: str = "mlp") -> dict:
    """The whole analysis document (what ``rome localization`` writes)."""
    facts = read_selection(selection_path)
    rows, excluded = collect(facts, traces_dir, sweep_dir, layers, kind)
    if not rows:
        raise LocalizationInputError(f"{selection_path}: no fact left to analyse ({len(excluded)} edits skipped)")
    return {"producer": "rome localization", "reference": "Hase et al. 2023, google/belief-localization",
            "kind": kind, "token": TOKEN, "layers": [int(v) for v in layers],
            "n_facts": len({r["known_id"] for r in rows}), "excluded": excluded,
            "analysis": analyse(rows, layers), "rows": rows}
