"""Causal trace of one prompt: the public entry point (paper section 2.1, Fig. 1).

``trace_prompt`` returns a :class:`TraceResult` with, per kind, a [tokens × layers] grid
of restored scores, plus the clean and corrupted scores; ``severed_trace`` gives the
Fig. 3 / Fig. 14 curves. Results save to and load from ``.npz`` (no pickles).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..results.traces import TraceResult
from .engine_fast import FastEngine
from .engine_reference import ReferenceEngine
from .noise import EmbeddingStats
from .prepare import PreparedPrompt, TraceSettings, prepare, with_noise_draw
from .restore import KINDS, kind_restorations, severed_restorations

ENGINES = {"fast": FastEngine, "reference": ReferenceEngine}


def make_engine(prep: PreparedPrompt, engine: str = "fast", **options):
    try:
        cls = ENGINES[engine]
    except KeyError:
        raise ValueError(f"unknown engine {engine!r}; expected one of {sorted(ENGINES)}") from None
    return cls(prep, **options)


def _result(prep: PreparedPrompt, prompt: str, subject: str, corrupted: float, engine: str) -> TraceResult:
    tok = prep.lm.tokenizer
    return TraceResult(
        prompt=prep.enc.text, subject=subject, tokens=prep.tokens,
        subject_range=(prep.enc.subject_start, prep.enc.subject_end),
        corrupt_range=(prep.corrupt_positions[0], prep.corrupt_positions[-1] + 1),
        answer=tok.decode([prep.answer_id]), answer_id=prep.answer_id, clean=prep.clean_prob,
        corrupted=corrupted, settings=prep.settings.to_json(), noise_nu=float(prep.noise_nu()),
        model=prep.lm.name, engine=engine,
        meta={"clean_argmax_id": prep.clean_argmax, "correct": prep.clean_argmax == prep.answer_id,
              **({"noise_stats": prep.stats.to_json()} if prep.stats is not None else {})},
    )


def trace_prepared(prep: PreparedPrompt, kinds: Sequence[str] = KINDS, engine: str = "fast",
                   progress: bool = False, **engine_options) -> TraceResult:
    eng = make_engine(prep, engine, **engine_options)
    result = _result(prep, prep.enc.text, "", eng.corrupted_score(), engine)
    T, L = prep.n_tokens, prep.n_layers
    flat, where = [], []
    for kind in kinds:
        grid = kind_restorations(kind, T, L, prep.settings.window)
        for i in range(T):
            for l in range(L):
                flat.append(grid[i][l])
                where.append((kind, i, l))
    values = eng.scores(flat, progress=progress)
    for kind in kinds:
        result.scores[kind] = np.zeros((T, L))
    for (kind, i, l), v in zip(where, values):
        result.scores[kind][i, l] = v
    return result


def trace_prompt(
    lm, prompt: str, subject: str, kinds: Sequence[str] = KINDS, settings: TraceSettings | None = None,
    stats: EmbeddingStats | None = None, expected: str | None = None, engine: str = "fast",
    progress: bool = False, **engine_options,
) -> TraceResult:
    """Causal trace of ``prompt`` (a template with ``{}`` or a text containing ``subject``)."""
    prep = prepare(lm, prompt, subject, settings, stats, expected)
    result = trace_prepared(prep, kinds, engine, progress, **engine_options)
    result.subject = subject
    return result


SEVERED_LABELS = (("single", None), ("attn_severed", "attn"), ("mlp_severed", "mlp"))


def severed_scores(prep: PreparedPrompt, token: int, engine: str = "fast", eng=None,
                   **engine_options) -> tuple[FastEngine | ReferenceEngine, dict[str, np.ndarray]]:
    """Fig. 3 curves at ``token``: h_token^(l) restored for each l alone, with the token's
    attention or MLP outputs frozen at all layers. Returns the engine of the prompt's own
    noise (its corrupted score is the one reported) and ``{label: [L] scores}``.

    ``prep.settings.severed_noise``: ``same`` freezes the states of the corrupted run under
    the same noise as the patched pass (the paper's description); ``official`` reproduces
    ``trace_with_repatch``: one noise stream drawn twice, the frozen states come from the
    first draw's corrupted run and the patched pass runs with the second draw (the plain
    ``single`` curve and the corrupted score use the first draw, as there).
    """
    eng = eng or make_engine(prep, engine, **engine_options)
    L = prep.n_layers
    out = {"single": eng.scores(severed_restorations(token, L, None))}
    sev_eng = eng
    if prep.settings.severed_noise == "official":
        sev_eng = make_engine(with_noise_draw(prep, 1), engine, frozen_states=eng.corrupted_states(),
                              **engine_options)
    for label, cut in SEVERED_LABELS[1:]:
        out[label] = sev_eng.scores(severed_restorations(token, L, cut))
    return eng, out


def severed_trace(
    lm, prompt: str, subject: str, settings: TraceSettings | None = None, stats: EmbeddingStats | None = None,
    expected: str | None = None, token: int | None = None, engine: str = "fast", **engine_options,
) -> TraceResult:
    """Fig. 3: restore h_token^(l) for each l alone, with attention severed, with MLP severed.

    ``token`` defaults to the last subject token. Scores are [1, L] grids under the kinds
    ``single``, ``attn_severed`` and ``mlp_severed`` (see :func:`severed_scores`).
    """
    prep = prepare(lm, prompt, subject, settings, stats, expected)
    tok = prep.enc.last_subject if token is None else token
    eng, curves = severed_scores(prep, tok, engine, **engine_options)
    result = _result(prep, prep.enc.text, subject, eng.corrupted_score(), engine)
    result.meta["severed_token"] = int(tok)
    for label, values in curves.items():
        result.scores[label] = values[None, :]
    return result
