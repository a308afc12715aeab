"""Batch tracing over known facts: one result file per fact and kind, keyed, resumable, atomic.

Layout: ``<out>/<kind>/<known_id>.npz`` for kinds hidden/mlp/attn,
``<out>/severed/<known_id>.npz`` for the severed-path curves, and ``<out>/manifest.json``
listing the facts, kinds and key of the last run with the size and sha256 of every file.

Every file stores the cache key of what produced it (``meta.cache_key``, see
:mod:`rome.results.cache_key`: model and weights fingerprint, trace settings, noise statistics,
facts file, seed, code version) and the checksum of its own fact record. A rerun reuses a
file only when both match; a file made under other settings is recomputed (or, with
``refuse_stale``, the run stops), and an unreadable file is reported with its path and
recomputed. So an interrupted run continues where it stopped, and a changed setting
retraces exactly the facts whose files it would change.
"""
from __future__ import annotations

import json
import sys
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from tqdm.auto import tqdm

from atomicio import atomic_write_bytes, atomic_write_json, sha256_text

# Reading/validating known_1000.json-format files belongs to the dataset package; re-exported
# here for the tracing CLIs (a bad file raises counterfact.errors.DataError naming file, record, field).
from counterfact.known_facts import load_known_facts

from ..model.runtime import check_finite
from ..results.cache_key import (
    CacheKey,
    ReuseCounts,
    array_checksum,
    cache_status,
    item_record,
    make_key,
)
from .noise import EmbeddingStats
from .prepare import TraceSettings, prepare
from .restore import KINDS
from .trace import TraceResult, _result, severed_scores, trace_prepared

__all__ = ["load_known_facts", "result_path", "trace_facts", "trace_key", "manifest_path", "read_stored_key"]

# what an unreadable cached file raises when read
CORRUPT_ERRORS = (zipfile.BadZipFile, ValueError, KeyError, OSError, EOFError, TypeError)


from ..results.traces import result_path  # noqa: E402 (the file layout lives with the file format)


def manifest_path(out_dir: str | Path) -> Path:
    return Path(out_dir) / "manifest.json"


def fact_checksum(rec: Mapping) -> str:
    """sha256 of the parts of a known-facts record that a trace reads."""
    return sha256_text(json.dumps([rec.get("known_id"), rec.get("prompt"), rec.get("subject"),
                                   rec.get("attribute"), rec.get("relation_id")], ensure_ascii=False))


def trace_key(lm, settings: TraceSettings, stats: EmbeddingStats | None, engine: str = "fast",
              inputs: Mapping | None = None, engine_options: Mapping | None = None) -> CacheKey:
    """The cache key of per-fact traces made with these settings (see :mod:`rome.results.cache_key`)."""
    noise = None if stats is None else array_checksum(stats.sigma, stats.n_tokens, stats.mean, stats.cov)
    s = dict(settings.to_json(), engine=engine, engine_options=dict(engine_options or {}))
    seed = s.pop("seed")
    return make_key("trace", lm, s, {"noise_statistics": noise, **dict(inputs or {})}, seed)


def read_stored_key(path: str | Path) -> tuple[dict | None, str | None]:
    """(cache key, fact checksum) stored in a per-fact file; raises one of CORRUPT_ERRORS if unreadable."""
    res = TraceResult.load(path)
    return res.meta.get("cache_key"), res.meta.get("fact_sha256")


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr)


def _status(path: Path, key: CacheKey, fact_sha: str, refuse_stale: bool, report: Callable[[str], None]):
    """'missing' | 'ok' | 'stale' | 'corrupted' (and the reason) for one cached file."""
    return cache_status(path, key, fact_sha, read_stored_key, CORRUPT_ERRORS, report, prog="rome trace-batch: ",
                        refuse_stale=refuse_stale)


def trace_facts(
    lm, facts: Sequence[Mapping], out_dir: str | Path, settings: TraceSettings, stats: EmbeddingStats | None,
    kinds: Iterable[str] = KINDS, severed: bool = True, engine: str = "fast", progress: bool = True,
    inputs: Mapping | None = None, refuse_stale: bool = False, report: Callable[[str], None] = _stderr,
    reuse_dir: str | Path | None = None, **engine_options,
) -> dict:
    """Trace each fact (expected answer = its attribute) into per-fact files; returns counts.

    ``inputs``: checksums of input files to put in the key (the CLI passes the facts file's).
    ``reuse_dir``: another batch's ``out_dir``; its per-fact files made under the same key
    for the same fact are copied instead of traced (:func:`copy_matching`).
    Counts are per fact: ``reused`` (every file valid), ``computed`` (no file yet),
    ``recomputed`` (some file made under other settings or unreadable); ``traced`` is
    computed + recomputed.
    """
    kinds = list(kinds)
    out_dir = Path(out_dir)
    key = trace_key(lm, settings, stats, engine, inputs, engine_options)
    counts = ReuseCounts()
    wanted = kinds + (["severed"] if severed else [])
    for rec in tqdm(facts, disable=not progress, desc="facts"):
        kid = rec["known_id"]
        fact_sha = fact_checksum(rec)
        status = {k: _status(result_path(out_dir, k, kid), key, fact_sha, refuse_stale, report) for k in wanted}
        if reuse_dir is not None:
            for k in [k for k, (st, _) in status.items() if st != "ok"]:
                if copy_matching(result_path(reuse_dir, k, kid), result_path(out_dir, k, kid), key, fact_sha):
                    status[k] = ("ok", None)
        redo = [k for k, (st, _) in status.items() if st != "ok"]
        states = {st for st, _ in status.values()}
        if not redo:
            counts.add("ok")
            continue
        worst = next(st for st in ("stale", "corrupted", "missing") if st in states)
        counts.add(worst, next((why for st, why in status.values() if st == "stale"), None))
        todo = [k for k in kinds if k in redo]
        prep = prepare(lm, rec["prompt"], rec["subject"], settings, stats, expected=rec["attribute"])
        meta = {"known_id": kid, "relation_id": rec.get("relation_id"), "attribute": rec["attribute"],
                "cache_key": key.to_json(), "fact_sha256": fact_sha}
        if todo:
            res = trace_prepared(prep, todo, engine, **engine_options)
            check_finite({"scores": res.scores, "clean": res.clean, "corrupted": res.corrupted}, f"fact {kid}")
            res.subject = rec["subject"]
            res.meta.update(meta)
            for k in todo:
                single = _copy_with(res, {k: res.scores[k]})
                single.save(result_path(out_dir, k, kid))
        if "severed" in redo:
            eng, curves = severed_scores(prep, prep.enc.last_subject, engine, **engine_options)
            sev = _result(prep, prep.enc.text, rec["subject"], eng.corrupted_score(), engine)
            sev.meta.update(meta, severed_token=prep.enc.last_subject)
            for label, values in curves.items():
                sev.scores[label] = values[None, :]
            check_finite({"scores": sev.scores, "corrupted": sev.corrupted}, f"fact {kid} (severed)")
            sev.save(result_path(out_dir, "severed", kid))
    write_manifest(out_dir, key, [rec["known_id"] for rec in facts], kinds, severed)
    out = counts.as_json()
    out["traced"] = counts.computed + counts.recomputed
    return out


def copy_matching(source: Path, dest: Path, key: CacheKey, fact_sha: str) -> bool:
    """Copy ``source`` to ``dest`` (atomically, byte for byte) when it was made under ``key``
    for this fact; True when copied. A file whose key matches is what this run would write."""
    status, _ = cache_status(source, key, fact_sha, read_stored_key, CORRUPT_ERRORS, lambda _msg: None)
    if status != "ok":
        return False
    atomic_write_bytes(dest, source.read_bytes())
    return True


def write_manifest(out_dir: Path, key: CacheKey, known_ids: Sequence, kinds: Sequence[str], severed: bool) -> Path:
    """The facts and kinds of this run, its key, and each per-fact file's size and sha256."""
    items = {}
    for k in list(kinds) + (["severed"] if severed else []):
        for kid in known_ids:
            p = result_path(out_dir, k, kid)
            items[p.relative_to(out_dir).as_posix()] = item_record(p)
    return atomic_write_json(manifest_path(out_dir), {
        "producer": "rome trace-batch", "cache_key": key.to_json(), "known_ids": list(known_ids),
        "kinds": list(kinds), "severed": bool(severed), "items": items,
    })


def _copy_with(res, scores):
    import copy
    out = copy.copy(res)
    out.scores = scores
    out.meta = dict(res.meta)
    return out
