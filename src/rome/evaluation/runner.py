"""Evaluate one editing method over many records: one result file per (method, record).

Layout under ``out_dir``::

    <method slug>/run.json           settings of the run (model, dataset, generation, ...)
    <method slug>/case_<id>.json     {"case_id", "method", "model", "dataset", "pre", "post", "timing", ...}

Each record: score the unedited model (``pre``), apply the edit through the method's
Editor, score again (``post``), restore the weights and check that every parameter is back
bit for bit (exact comparison for the parameters the edit reports, and a float64
checksum of every parameter to catch edits the result did not report). Files are written
atomically; a rerun skips records whose file exists, so an interrupted run resumes where it
stopped without recomputing anything.

For the unedited method (``none``) ``pre`` and ``post`` are the same evaluation, so it is
computed once (with generation) and stored under both keys. For other methods ``pre``
holds the scores only (no generation) unless ``pre_generation`` is set: the pre-edit GE
and RS rows come from the ``none`` run.
"""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import torch

from counterfact.errors import BadInputError

from atomicio import atomic_write_json, safe_child
from ..runtime import check_finite
from ..editing.base import EditRequest
from .counterfact_eval import GenerationSettings, score_record
from .editors import is_unedited, method_slug
from .zsre_eval import score_zsre_record

DATASETS = ("counterfact", "zsre")


class RestoreError(RuntimeError):
    """An editor's restore did not return the model to its original weights."""


class SettingsMismatchError(BadInputError, RuntimeError):
    """Resuming into a folder whose run.json was written with other settings."""


@dataclass
class EvalSettings:
    dataset: str = "counterfact"
    model: str = ""
    method: str = "none"
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    pre_generation: bool = False
    batch_size: int = 64
    overrides: dict = field(default_factory=dict)
    check_restore: bool = True

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}, got {self.dataset!r}")

    def as_json(self) -> dict:
        d = asdict(self)
        d.pop("check_restore")
        d.pop("batch_size")
        if self.dataset == "zsre":
            d.pop("generation")
            d.pop("pre_generation")
        return d


@dataclass
class RunStats:
    done: int = 0
    skipped: int = 0
    edit_calls: int = 0
    seconds: float = 0.0
    files: list = field(default_factory=list)

    @property
    def records_per_minute(self) -> float:
        return 60.0 * self.done / self.seconds if self.seconds > 0 else float("nan")


def result_path(out_dir: str | Path, method: str, case_id: Any) -> Path:
    """``<out_dir>/<method slug>/case_<id>.json``; an id that is not a plain token (or would
    lead outside the folder) is an :class:`atomicio.UnsafeNameError` naming the record."""
    return safe_child(Path(out_dir) / method_slug(method), case_id, f"record {case_id!r}: field case_id",
                      prefix="case_", suffix=".json")


def _fingerprint(model: torch.nn.Module) -> dict[str, float]:
    with torch.no_grad():
        return {n: float(p.detach().double().sum()) for n, p in model.named_parameters()}


def _check_restored(model: torch.nn.Module, result, before: dict[str, float] | None, case_id) -> None:
    params = dict(model.named_parameters())
    for name, orig in result.originals.items():
        if not torch.equal(params[name].detach(), orig.to(params[name].device)):
            raise RestoreError(f"record {case_id}: parameter {name} differs from its original after restore")
    if before is not None:
        after = _fingerprint(model)
        bad = [n for n, v in before.items() if after.get(n) != v]
        if bad:
            raise RestoreError(f"record {case_id}: parameters changed and not restored by the editor: {bad[:5]}")


def _json_info(info: Mapping[str, Any]) -> dict:
    out = {}
    for k, v in (info or {}).items():
        if isinstance(v, (bool, int, float, str)) or v is None:
            out[k] = v
        elif isinstance(v, (list, tuple)) and all(isinstance(x, (bool, int, float, str)) for x in v) and len(v) <= 64:
            out[k] = list(v)
        elif isinstance(v, torch.Tensor) and v.numel() == 1:
            out[k] = float(v)
    return out


def _score(lm, record, settings: EvalSettings, references, generate: bool) -> dict:
    if settings.dataset == "zsre":
        return score_zsre_record(lm, record, batch_size=settings.batch_size)
    gen = replace(settings.generation, enabled=settings.generation.enabled and generate)
    return score_record(lm, record, generation=gen, references=references, batch_size=settings.batch_size)


def evaluate_record(lm, editor, record: Mapping[str, Any], settings: EvalSettings, references=None) -> dict:
    """Pre-edit scores, edit, post-edit scores, exact restore; returns the result document."""
    case_id = record.get("case_id")
    t0 = time.perf_counter()
    unedited = is_unedited(settings.method)
    if unedited:
        pre = _score(lm, record, settings, references, generate=True)
        t_pre = time.perf_counter()
        doc_post = copy.deepcopy(pre)
        t_edit = t_post = t_pre
        info: dict = {}
    else:
        pre = _score(lm, record, settings, references, generate=settings.pre_generation)
        t_pre = time.perf_counter()
        before = _fingerprint(lm.model) if settings.check_restore else None
        result = editor.apply(lm, [EditRequest.from_record(record)])
        t_edit = time.perf_counter()
        try:
            doc_post = _score(lm, record, settings, references, generate=True)
        finally:
            result.restore(lm.model)
        t_post = time.perf_counter()
        if settings.check_restore:
            _check_restored(lm.model, result, before, case_id)
        info = _json_info(result.info)
    return {
        "case_id": case_id, "method": settings.method, "model": settings.model, "dataset": settings.dataset,
        "requested_rewrite": record.get("requested_rewrite"),
        "pre": pre, "post": doc_post, "edit_info": info,
        "timing": {"pre_s": round(t_pre - t0, 4), "edit_s": round(t_edit - t_pre, 4),
                   "post_s": round(t_post - t_edit, 4)},
    }


def _write_run_json(folder: Path, settings: EvalSettings, records_source: str | None) -> None:
    path = folder / "run.json"
    doc = {"settings": settings.as_json(), "records": records_source}
    if path.exists():
        import json

        old = json.loads(path.read_text(encoding="utf-8"))
        if old.get("settings") != doc["settings"]:
            raise SettingsMismatchError(
                f"{path} was written with other settings ({old.get('settings')}); resuming would mix results. "
                "Use another --out-dir or delete the folder.")
        return
    atomic_write_json(path, doc)


def evaluate_records(lm, editor, records: Iterable[Mapping[str, Any]], out_dir: str | Path, settings: EvalSettings,
                     references=None, records_source: str | None = None, progress: bool = True) -> RunStats:
    """Evaluate ``records`` (skipping those with a result file already); see the module docstring."""
    from counterfact.records import check_record_ids

    records = check_record_ids(list(records), records_source)
    folder = Path(out_dir) / method_slug(settings.method)
    folder.mkdir(parents=True, exist_ok=True)
    _write_run_json(folder, settings, records_source)
    stats = RunStats()
    todo = []
    for r in records:
        if "case_id" not in r:
            raise ValueError(f"record at position {records.index(r)} has no case_id")
        p = result_path(out_dir, settings.method, r["case_id"])
        if p.exists():
            stats.skipped += 1
        else:
            todo.append((r, p))
    it: Iterable = todo
    if progress:
        from tqdm import tqdm

        it = tqdm(todo, desc=f"evaluate {settings.method} ({settings.dataset})", unit="record",
                  initial=0, total=len(todo))
    t0 = time.perf_counter()
    for record, path in it:
        doc = evaluate_record(lm, editor, record, settings, references)
        check_finite({"pre": doc["pre"], "post": doc["post"]}, f"record {record['case_id']}")
        if not is_unedited(settings.method):
            stats.edit_calls += 1
        atomic_write_json(path, doc)
        stats.done += 1
        stats.files.append(path)
    stats.seconds = time.perf_counter() - t0
    return stats


def load_results(folder: str | Path) -> list[dict]:
    """All ``case_*.json`` of one method folder, ordered by case id."""
    import json

    folder = Path(folder)
    docs = []
    for p in folder.glob("case_*.json"):
        try:
            docs.append(json.loads(p.read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{p}: invalid JSON ({exc.msg})") from None
    return sorted(docs, key=lambda d: (str(type(d.get("case_id"))), d.get("case_id")))
