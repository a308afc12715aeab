"""FT / FT+L / AttnEdit sweeps (Figs. 17, 18, 23): one cached JSON per (setting, record).

A *setting* is a method (``ft``, ``ft-l``, ``attn``) with its hparams, of which the swept
ones are the ``layer`` and the L-infinity bound ``epsilon`` (``null`` = unconstrained).
For each setting and COUNTERFACT record (the released file's schema) the record's rewrite is applied, the
teacher-forced NLLs of ``target_new`` and ``target_true`` are measured on the rewrite,
paraphrase and neighborhood prompts, the weights are restored, and one file is written:

    {"case_id", "method", "setting": {...}, "pre": {...}, "post": {
        "rewrite_prompts_probs": [{"target_new": nll, "target_true": nll}, ...],
        "paraphrase_prompts_probs": [...], "neighborhood_prompts_probs": [...]},
     "edit": {"steps_run", "final_loss", "max_abs_delta", "seconds"}}

(``pre`` has the same three lists for the unedited model.) Files are named by
``stable_key`` of the model, setting and record, so an interrupted sweep resumes.
Scores (ES/PS/NS and magnitudes) are computed from these files by
:mod:`rome.render.baselines`.
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from atomicio import atomic_write_json, safe_child, stable_key
from counterfact.errors import BadInputError
from counterfact.records import check_record_ids
from counterfact.records import load_records as load_counterfact

from ..model.record_prompts import record_prompts as all_record_prompts
from ..model.runtime import check_finite
from ..model.scoring import score_targets
from .attn_edit import make_attn_edit
from .base import EditRequest
from .ft import make_ft

SWEEP_METHODS = ("ft", "ft-l", "attn")
PROMPT_KINDS = ("rewrite_prompts", "paraphrase_prompts", "neighborhood_prompts")


class SweepRecordError(BadInputError, ValueError):
    pass


def settings_grid(method: str, base: Mapping[str, Any], layers: Iterable[int] | None,
                  epsilons: Iterable[float | None] | None) -> list[dict]:
    """Every (layer, epsilon) combination of ``method`` on top of its ``base`` hparams."""
    if method not in SWEEP_METHODS:
        raise ValueError(f"unknown sweep method {method!r}; expected one of {SWEEP_METHODS}")
    layers = [int(base["layer"])] if layers is None else [int(l) for l in layers]
    epsilons = [base.get("epsilon")] if epsilons is None else list(epsilons)
    return [dict(base, method=method, layer=l, epsilon=None if e is None else float(e))
            for l in layers for e in epsilons]


def editor_for(setting: Mapping[str, Any]):
    hp = {k: v for k, v in setting.items() if k != "method"}
    if setting["method"] == "attn":
        return make_attn_edit(hp, name="attn")
    return make_ft(hp, name=setting["method"])


def record_prompts(record: Mapping[str, Any]) -> dict[str, list[str]]:
    """The prompts of each kind of :data:`PROMPT_KINDS` (the rewrite prompt filled with its subject).

    The record is read by :func:`rome.model.record_prompts.record_prompts` (its ``RecordError``
    names the record and field of a malformed record).
    """
    prompts = all_record_prompts(record)
    return {kind: prompts[kind] for kind in PROMPT_KINDS}


def measure(lm, record: Mapping[str, Any]) -> dict[str, list[dict[str, float]]]:
    """NLLs of ``target_new`` and ``target_true`` after every prompt of the record."""
    req = EditRequest.from_record(record)
    if req.target_true is None:
        raise SweepRecordError(f"record {record.get('case_id', '?')}: needs requested_rewrite.target_true")
    prompts = record_prompts(record)
    pairs = [(p, " " + t) for kind in PROMPT_KINDS for p in prompts[kind] for t in (req.target_new, req.target_true)]
    scores = score_targets(lm, pairs)
    out, k = {}, 0
    for kind in PROMPT_KINDS:
        rows = []
        for _ in prompts[kind]:
            rows.append({"target_new": scores[k].nll, "target_true": scores[k + 1].nll})
            k += 2
        out[f"{kind}_probs"] = rows
    return out


def result_path(out_dir: str | Path, model_name: str, setting: Mapping[str, Any], record: Mapping) -> Path:
    key = stable_key(model_name, dict(setting), record.get("case_id"), record["requested_rewrite"])
    cid = record.get("case_id")
    folder = safe_child(out_dir, setting["method"], "sweep method")
    return safe_child(folder, cid, f"record {cid!r}: field case_id", prefix="case", suffix=f"-{key}.json")


def run_sweep(lm, records: Sequence[Mapping[str, Any]], settings: Sequence[Mapping[str, Any]],
              out_dir: str | Path, progress: bool = True) -> list[Path]:
    """Run every (setting, record) not already cached; returns all result paths."""
    import sys

    from tqdm.auto import tqdm

    from ..results.cache_key import ReuseCounts, json_checksum, make_key, reuse_json

    def report(msg: str) -> None:
        print(f"rome baseline-sweep: {msg}", file=sys.stderr)

    pre_cache: dict[Any, dict] = {}
    paths = []
    counts = ReuseCounts()
    keys = [make_key("baseline-sweep", lm, dict(s), {}, s.get("seed")) for s in settings]
    jobs = [(i, s, r) for i, s in enumerate(settings) for r in records]
    for i, setting, record in tqdm(jobs, desc="baseline sweep", disable=not progress):
        path = result_path(out_dir, lm.name, setting, record)
        paths.append(path)
        key = keys[i]
        item_sha = json_checksum(record)
        if reuse_json(path, key, item_sha, counts, report) is not None:
            continue
        cid = record.get("case_id")
        if cid not in pre_cache:
            pre_cache[cid] = measure(lm, record)
        editor = editor_for(setting)
        t0 = time.time()
        result = editor.apply(lm, [EditRequest.from_record(record)])
        seconds = time.time() - t0
        try:
            post = measure(lm, record)
        finally:
            result.restore(lm.model)
        check_finite({"pre": pre_cache[cid], "post": post}, f"record {cid} ({setting['method']}, layer "
                                                             f"{setting.get('layer')})")
        atomic_write_json(path, {
            "case_id": cid, "method": setting["method"], "model": lm.name, "setting": dict(setting),
            "pre": pre_cache[cid], "post": post,
            "edit": {"steps_run": result.info["steps_run"], "final_loss": result.info["final_loss"],
                     "max_abs_delta": result.info["max_abs_delta"], "seconds": round(seconds, 3)},
            "cache_key": key.to_json(), "item_sha256": item_sha,
        })
    report(counts.line(f"{len(jobs)} (setting, record) results"))
    return paths


def load_records(path: str | Path, n: int | None = None, case_ids: Sequence[int] | None = None) -> list[dict]:
    """COUNTERFACT records of ``path`` (via :func:`counterfact.records.load_records`, whose
    :class:`counterfact.errors.DataError` names the file for a missing/invalid file), keeping
    only ``case_ids`` when given, then the first ``n``."""
    data = check_record_ids(load_counterfact(path), path)
    if case_ids is not None:
        wanted = set(case_ids)
        data = [r for r in data if isinstance(r, Mapping) and r.get("case_id") in wanted]
    return data[:n] if n is not None else data
