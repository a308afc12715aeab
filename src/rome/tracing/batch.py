"""Batch tracing over known facts: one result file per fact and kind, resumable, atomic.

Layout: ``<out>/<kind>/<known_id>.npz`` for kinds hidden/mlp/attn and
``<out>/severed/<known_id>.npz`` for the severed-path curves. Existing files are skipped,
so an interrupted run continues where it stopped.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping, Sequence

from tqdm.auto import tqdm

# Reading/validating known_1000.json-format files belongs to the dataset package; re-exported
# here for the tracing CLIs (a bad file raises counterfact.errors.DataError naming file, record, field).
from counterfact.known_facts import load_known_facts

from atomicio import safe_child

from ..runtime import check_finite

from .noise import EmbeddingStats
from .prepare import TraceSettings, prepare
from .restore import KINDS, severed_restorations
from .trace import _result, make_engine, trace_prepared

__all__ = ["load_known_facts", "result_path", "trace_facts"]


def result_path(out_dir: str | Path, kind: str, known_id) -> Path:
    """``<out_dir>/<kind>/<known_id>.npz``; ids and kinds must be plain tokens that stay
    inside the folder (else :class:`atomicio.UnsafeNameError` naming the fact)."""
    folder = safe_child(out_dir, kind, "trace kind")
    return safe_child(folder, known_id, f"fact {known_id!r}: field known_id", suffix=".npz")


def trace_facts(
    lm, facts: Sequence[Mapping], out_dir: str | Path, settings: TraceSettings, stats: EmbeddingStats | None,
    kinds: Iterable[str] = KINDS, severed: bool = True, engine: str = "fast", progress: bool = True,
    **engine_options,
) -> dict:
    """Trace each fact (expected answer = its attribute) into per-fact files; returns counts."""
    kinds = list(kinds)
    done = skipped = 0
    for rec in tqdm(facts, disable=not progress, desc="facts"):
        kid = rec["known_id"]
        todo = [k for k in kinds if not result_path(out_dir, k, kid).exists()]
        want_sev = severed and not result_path(out_dir, "severed", kid).exists()
        if not todo and not want_sev:
            skipped += 1
            continue
        prep = prepare(lm, rec["prompt"], rec["subject"], settings, stats, expected=rec["attribute"])
        meta = {"known_id": kid, "relation_id": rec.get("relation_id"), "attribute": rec["attribute"]}
        if todo:
            res = trace_prepared(prep, todo, engine, **engine_options)
            check_finite({"scores": res.scores, "clean": res.clean, "corrupted": res.corrupted}, f"fact {kid}")
            res.subject = rec["subject"]
            res.meta.update(meta)
            for k in todo:
                single = _copy_with(res, {k: res.scores[k]})
                single.save(result_path(out_dir, k, kid))
        if want_sev:
            eng = make_engine(prep, engine, **engine_options)
            sev = _result(prep, prep.enc.text, rec["subject"], eng.corrupted_score(), engine)
            sev.meta.update(meta, severed_token=prep.enc.last_subject)
            for label, cut in (("single", None), ("attn_severed", "attn"), ("mlp_severed", "mlp")):
                sev.scores[label] = eng.scores(severed_restorations(prep.enc.last_subject, prep.n_layers, cut))[None, :]
            check_finite({"scores": sev.scores, "corrupted": sev.corrupted}, f"fact {kid} (severed)")
            sev.save(result_path(out_dir, "severed", kid))
        done += 1
    return {"traced": done, "skipped": skipped}


def _copy_with(res, scores):
    import copy
    out = copy.copy(res)
    out.scores = scores
    out.meta = dict(res.meta)
    return out
