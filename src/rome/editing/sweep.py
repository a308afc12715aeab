"""ROME at every layer x four token choices on COUNTERFACT records (paper Fig. 5).

For each (token choice, layer, record) the sweep edits the model with ROME at that layer
and token, scores the record, restores the weights bit for bit and writes one JSON file
``<out>/<token>/layer-NN/case-<id>.json``. Each file stores the cache key of what made it
(:mod:`rome.results.cache_key`: model and weights fingerprint, ROME hyper-parameters, statistics
settings and corpus checksum, code version) and its record's checksum; a rerun reuses only
files whose key matches (an interrupted sweep resumes; a changed setting recomputes). The
unedited model's scores go to ``<out>/pre/case-<id>.json``.

Per-record metrics (the paper's metric definitions, section 3.4, as shares of prompts, in [0, 1]):
efficacy = P(new) > P(true) on the rewrite prompt; generalization = the same over the
paraphrase prompts; specificity = P(true) > P(new) over the neighborhood prompts;
score = harmonic mean of the three. P = exp(−mean token NLL) of ``" " + target``.
"""
from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from atomicio import atomic_write_json, sha256_file
from counterfact.errors import DataError
from counterfact.records import check_record_ids
from counterfact.records import load_records as load_counterfact

from ..model.queries import score_pairs
from ..model.record_prompts import EDIT_FIELDS, check_records
from ..model.runtime import check_finite
from ..model.tokens import SubjectNotFoundError
from ..results.cache_key import CacheKey, ReuseCounts, json_checksum, make_key, reuse_json
from ..results.layout import sweep_file as result_path
from ..results.layout import sweep_pre_file as pre_path
from ..results.stats_util import harmonic_mean
from .base import EditRequest, EditRequestError
from .rome import TOKEN_CHOICES, ROMEEditor

METRICS = ("efficacy", "generalization", "specificity", "score")


class RecordError(DataError):
    """A COUNTERFACT record without a field the sweep needs (names the file, record and field)."""


NEEDED_FIELDS = (*EDIT_FIELDS, "paraphrase_prompts", "neighborhood_prompts")


def load_records(path: str | os.PathLike, n: int | None = None, case_ids: Sequence[int] | None = None) -> list[dict]:
    """The first ``n`` records of a COUNTERFACT JSON list (or those with ``case_ids``, in that
    order: :func:`select_records`), checked for the fields the sweep needs.

    Reading is :func:`counterfact.records.load_records` (a missing file, invalid JSON or a
    non-list raise its :class:`~counterfact.errors.DataError`); a record that would be
    misread or lacks a needed field (:func:`rome.model.record_prompts.check_records`) raises
    :class:`RecordError` (a ``DataError`` too), naming the file, record and field.
    """
    data = check_record_ids(load_counterfact(path), path)
    if case_ids is not None:
        records = select_records(data, case_ids, path)
    else:
        records = data[:n] if n is not None else data
    try:
        check_records(records, path, needs=NEEDED_FIELDS)
    except DataError as exc:
        raise RecordError(path, exc.reason, index=exc.index, field=exc.field) from None
    return records


def select_records(records: Sequence[dict], case_ids: Sequence[int], path: str | os.PathLike) -> list[dict]:
    """The records with these ``case_id`` values, in that order; :class:`RecordError` naming
    the first id the file lacks."""
    by_id = {r["case_id"]: r for r in records}
    missing = [c for c in case_ids if c not in by_id]
    if missing:
        raise RecordError(path, f"no record with case_id {missing[0]} ({len(missing)} selected ids missing)",
                          field="case_id")
    return [by_id[c] for c in case_ids]


def reuse_other(path: Path, reuse_dir: str | os.PathLike | None, out_dir: str | os.PathLike, key: CacheKey,
                item_sha: str) -> dict | None:
    """The same item's file under ``reuse_dir`` (another sweep's folder) when it was made under
    ``key`` for this record: copied to ``path`` and returned; else None. A file whose key
    matches is what this run would write, so copying it changes no result."""
    if reuse_dir is None:
        return None
    other = Path(reuse_dir) / path.relative_to(out_dir)
    doc = reuse_json(other, key, item_sha, ReuseCounts(), lambda _msg: None)
    if doc is not None:
        atomic_write_json(path, doc)
    return doc


def score_record(lm, record: Mapping[str, Any]) -> dict:
    """Efficacy, generalization, specificity and score of the model's current weights."""
    rw = record["requested_rewrite"]
    new, true = rw["target_new"]["str"], rw["target_true"]["str"]
    rewrite = [rw["prompt"].replace("{}", rw["subject"])]
    para, neigh = list(record["paraphrase_prompts"]), list(record["neighborhood_prompts"])
    scores = score_pairs(lm, rewrite + para + neigh, new, true)
    r, p, n = scores[:1], scores[1:1 + len(para)], scores[1 + len(para):]
    out: dict[str, Any] = {
        "efficacy": sum(s.p_new > s.p_true for s in r) / len(r),
        "generalization": sum(s.p_new > s.p_true for s in p) / max(1, len(p)),
        "specificity": sum(s.p_true > s.p_new for s in n) / max(1, len(n)),
        "p_rewrite": [[s.p_new, s.p_true] for s in r],
        "p_paraphrase": [[s.p_new, s.p_true] for s in p],
        "p_neighborhood": [[s.p_new, s.p_true] for s in n],
    }
    out["score"] = harmonic_mean([out["efficacy"], out["generalization"], out["specificity"]])
    return out


def score_with_delta(lm, layer: int, delta_w: torch.Tensor, record: Mapping[str, Any]) -> dict:
    """:func:`score_record` with ``delta_w`` added to ``layer``'s edited weight, which is then
    put back bit for bit (also when scoring fails)."""
    weight = lm.spec.edit_weight(lm.model, layer)
    saved = weight.detach().clone()
    with torch.no_grad():
        lm.spec.as_out_in(weight).add_(delta_w.to(weight.dtype))
    try:
        return score_record(lm, record)
    finally:
        with torch.no_grad():
            weight.copy_(saved)


def sweep_key(lm, editor: ROMEEditor) -> CacheKey:
    """Key of every sweep file (layer and token are in the file's path, the record's checksum in the file)."""
    hp = {k: v for k, v in dict(editor.hparams).items() if k not in ("layer", "token")}
    provider = editor.stats_provider
    st = getattr(provider, "settings", None)
    stats = None
    if st is not None:
        from dataclasses import asdict

        from .statistics import corpus_fingerprint

        stats = {**{k: v for k, v in asdict(st).items() if k != "corpus"}, "corpus": corpus_fingerprint(st.corpus)}
    templates = {"context_templates": sha256_file(editor.templates_path(lm))}
    return make_key("sweep", lm, {"hparams": hp, "statistics": stats}, templates, hp.get("context_seed"))


def _stderr(msg: str) -> None:
    import sys

    print(f"rome sweep: {msg}", file=sys.stderr)


def sweep_one(lm, editor: ROMEEditor, record: Mapping[str, Any], layer: int, token: str, out_dir,
              key: CacheKey | None = None, counts: ReuseCounts | None = None,
              reuse_dir: str | os.PathLike | None = None) -> dict:
    """Edit at (layer, token), score, restore; write and return the result (reused when cached
    under ``key``, here or under ``reuse_dir``: :func:`reuse_other`)."""
    path = result_path(out_dir, token, layer, record["case_id"])
    key = key or sweep_key(lm, editor)
    counts = counts if counts is not None else ReuseCounts()
    item_sha = json_checksum(record)
    if not path.exists():  # another sweep's file made under this key: copied, counted as reused
        copied = reuse_other(path, reuse_dir, out_dir, key, item_sha)
        if copied is not None:
            counts.add("ok")
            return copied
    cached = reuse_json(path, key, item_sha, counts, _stderr)
    if cached is not None:
        return cached
    stamp = {"cache_key": key.to_json(), "item_sha256": item_sha}
    request = EditRequest.from_record(record)
    hp = editor.hparams.with_changes(layer=layer, token=token)
    one = ROMEEditor(hp, editor.stats_provider, editor.templates_dir)
    t0 = time.time()
    base = {"case_id": record["case_id"], "layer": layer, "token": token}
    try:
        result = one.apply(lm, [request])
    except (EditRequestError, SubjectNotFoundError) as err:  # e.g. no token after the subject
        out = dict(base, skipped=str(err), **stamp)
        atomic_write_json(path, out)
        return out
    try:
        scores = score_record(lm, record)
    finally:
        result.restore(lm.model)
    info = result.info["requests"][0]
    out = dict(base, **scores, delta_w_norm=info["delta_w_norm"], steps=info["steps"],
               final_loss=info["loss"][-1], seconds=round(time.time() - t0, 2), **stamp)
    check_finite(scores, f"record {record['case_id']} (layer {layer}, token {token})")
    atomic_write_json(path, out)
    return out


def run_sweep(
    lm, editor: ROMEEditor, records: Sequence[Mapping[str, Any]], layers: Sequence[int],
    tokens: Sequence[str] = TOKEN_CHOICES, *, out_dir: str | os.PathLike, progress: bool = True,
    reuse_dir: str | os.PathLike | None = None,
) -> int:
    """Run (or resume) the whole sweep; return the number of result files present. Files of
    ``reuse_dir`` (another sweep's ``out_dir``) made under the same key are copied, not recomputed."""
    bad = [t for t in tokens if t not in TOKEN_CHOICES]
    if bad:
        raise ValueError(f"unknown token choices {bad}; expected some of {TOKEN_CHOICES}")
    key = sweep_key(lm, editor)
    pre_counts, counts = ReuseCounts(), ReuseCounts()
    for r in records:
        path = pre_path(out_dir, r["case_id"])
        if not path.exists() and reuse_other(path, reuse_dir, out_dir, key, json_checksum(r)) is not None:
            pre_counts.add("ok")  # copied from the other sweep
            continue
        if reuse_json(path, key, json_checksum(r), pre_counts, _stderr) is None:
            scores = check_finite(score_record(lm, r), f"record {r['case_id']} (unedited)")
            atomic_write_json(path, dict(case_id=r["case_id"], **scores, cache_key=key.to_json(),
                                         item_sha256=json_checksum(r)))
    jobs = [(t, l, r) for t in tokens for l in layers for r in records]
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(jobs), desc="ROME sweep")
    for t, l, r in jobs:
        sweep_one(lm, editor, r, l, t, out_dir, key, counts, reuse_dir)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    _stderr(counts.line(f"{len(jobs)} (token, layer, record) results"))
    return len(jobs)
