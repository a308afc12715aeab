"""Evaluate one editing method over many records: one result file per (method, record).

Layout under ``out_dir``::

    <method slug>/run.json           settings of the run (model, dataset, generation, ...)
    <method slug>/case_<id>.json     {"case_id", "method", "model", "dataset", "pre", "post", "timing", ...}

    <method slug>/manifest.json      the case ids of the last run, its cache key, each file's size and sha256

Each record: score the unedited model (``pre``), apply the edit through the method's
Editor, score again (``post``), restore the weights and check that every parameter is back
bit for bit (exact comparison for the parameters the edit reports, and a float64
checksum of every parameter to catch edits the result did not report). Files are written
atomically. Every record file stores the cache key of what produced it (``cache_key``, see
:mod:`rome.results.cache_key`: model and weights fingerprint, method, hyper-parameters, generation
settings, seed, and the checksums of the records file, the reference texts, the key
statistics file and the hyper-network checkpoint the editor uses) and the checksum of its
record. A rerun reuses a file only when both match, so an interrupted run resumes where it
stopped without recomputing anything, while a changed setting or input recomputes every
record it affects (or, with ``refuse_stale``, stops). An unreadable file is reported with
its path and recomputed. ``run.json`` names the input files with their checksums. Each
record is checked again just before it is computed, so runs into one folder over
overlapping records (parallel shards) reuse what another has finished meanwhile.

For the unedited method (``none``) ``pre`` and ``post`` are the same evaluation, so it is
computed once (with generation) and stored under both keys. For other methods ``pre``
holds the scores only (no generation) unless ``pre_generation`` is set: the pre-edit GE
and RS rows come from the ``none`` run.
"""
from __future__ import annotations

import copy
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from atomicio import atomic_write_json, sha256_file, sha256_text

from ..editing.base import EditRequest
from ..model.generation import SAMPLER_VERSION
from ..model.runtime import check_finite
from ..results.cache_key import (
    JSON_ERRORS,
    CacheKey,
    ReuseCounts,
    StaleCacheError,
    cache_status,
    item_record,
    json_item_reader,
    make_key,
)
from ..results.layout import case_file, is_unedited, method_dir
from .counterfact_eval import GenerationSettings, score_record
from .strict import STRICT_VERSION, StrictSettings, add_cross_fields
from .zsre_eval import score_zsre_record

DATASETS = ("counterfact", "zsre")


class RestoreError(RuntimeError):
    """An editor's restore did not return the model to its original weights."""


class SettingsMismatchError(StaleCacheError):
    """A record file was made under other settings and the run was asked to refuse, not recompute
    (bad input: a ``StaleCacheError`` is a ``BadInputError``)."""


@dataclass
class EvalSettings:
    dataset: str = "counterfact"
    model: str = ""
    method: str = "none"
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    strict: StrictSettings = field(default_factory=StrictSettings)
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
            d.pop("strict")
        else:
            # texts from another sampling implementation are other texts (GE, RS)
            d["generation"]["sampler"] = SAMPLER_VERSION
            # the strict fields' definitions: records written before them (or by another version) are recomputed
            d["strict"]["version"] = STRICT_VERSION
        return d


@dataclass
class RunStats:
    done: int = 0  # records evaluated by this run (new + recomputed)
    skipped: int = 0  # records whose file was reused
    edit_calls: int = 0
    seconds: float = 0.0
    files: list = field(default_factory=list)
    reuse: ReuseCounts = field(default_factory=ReuseCounts)

    @property
    def records_per_minute(self) -> float:
        return 60.0 * self.done / self.seconds if self.seconds > 0 else float("nan")


def result_path(out_dir: str | Path, method: str, case_id: Any) -> Path:
    """``<out_dir>/<method slug>/case_<id>.json``; an id that is not a plain token (or would
    lead outside the folder) is an :class:`atomicio.UnsafeNameError` naming the record."""
    return case_file(out_dir, method, case_id)


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
    out: dict[str, Any] = {}
    for k, v in (info or {}).items():
        if isinstance(v, (bool, int, float, str)) or v is None:
            out[k] = v
        elif isinstance(v, (list, tuple)) and all(isinstance(x, (bool, int, float, str)) for x in v) and len(v) <= 64:
            out[k] = list(v)
        elif isinstance(v, torch.Tensor) and v.numel() == 1:
            out[k] = float(v)
    return out


def _score(lm, record, settings: EvalSettings, references, generate: bool, dists: dict | None = None,
           report=None) -> dict:
    if settings.dataset == "zsre":
        return score_zsre_record(lm, record, batch_size=settings.batch_size)
    gen = replace(settings.generation, enabled=settings.generation.enabled and generate)
    return score_record(lm, record, generation=gen, references=references, batch_size=settings.batch_size,
                        strict=settings.strict, greedy=generate, dists=dists, report=report)


def _strict_on(settings: EvalSettings) -> bool:
    return settings.dataset == "counterfact" and settings.strict.enabled


def evaluate_record(lm, editor, record: Mapping[str, Any], settings: EvalSettings, references=None,
                    report=None) -> dict:
    """Pre-edit scores, edit, post-edit scores, exact restore; returns the result document.

    With the strict metrics on (COUNTERFACT), the unedited model's next-token distributions on
    the neighbourhood and CounterFact+ prompts are kept in memory from the pre-edit pass (no
    extra forward) and compared with the edited model's (``add_cross_fields``: NKL, NS-acc).
    """
    case_id = record.get("case_id")
    t0 = time.perf_counter()
    unedited = is_unedited(settings.method)
    pre_dists: dict | None = {} if _strict_on(settings) else None
    post_dists: dict | None = {} if _strict_on(settings) else None
    if unedited:
        pre = _score(lm, record, settings, references, generate=True, dists=pre_dists, report=report)
        if pre_dists is not None:   # compared with itself: NKL 0, every argmax unchanged
            add_cross_fields(pre, pre, pre_dists, pre_dists, settings.strict)
        t_pre = time.perf_counter()
        doc_post = copy.deepcopy(pre)
        pre_dists = post_dists = None
        t_edit = t_post = t_pre
        info: dict = {}
    else:
        pre = _score(lm, record, settings, references, generate=settings.pre_generation, dists=pre_dists,
                     report=report)
        t_pre = time.perf_counter()
        before = _fingerprint(lm.model) if settings.check_restore else None
        result = editor.apply(lm, [EditRequest.from_record(record)])
        t_edit = time.perf_counter()
        try:
            doc_post = _score(lm, record, settings, references, generate=True, dists=post_dists, report=report)
        finally:
            result.restore(lm.model)
        t_post = time.perf_counter()
        if settings.check_restore:
            _check_restored(lm.model, result, before, case_id)
        info = _json_info(result.info)
    if pre_dists is not None and post_dists is not None:
        add_cross_fields(doc_post, pre, pre_dists, post_dists, settings.strict)
    return {
        "case_id": case_id, "method": settings.method, "model": settings.model, "dataset": settings.dataset,
        "requested_rewrite": record.get("requested_rewrite"),
        "pre": pre, "post": doc_post, "edit_info": info,
        "timing": {"pre_s": round(t_pre - t0, 4), "edit_s": round(t_edit - t_pre, 4),
                   "post_s": round(t_post - t_edit, 4)},
    }


def record_checksum(record: Mapping[str, Any]) -> str:
    """sha256 of a record's canonical JSON (a changed record is re-evaluated)."""
    import json

    return sha256_text(json.dumps(record, sort_keys=True, ensure_ascii=False, default=str))


def editor_inputs(editor, lm) -> tuple[dict, dict]:
    """(settings, input files) an editor's results depend on beyond the run's settings.

    Settings: its resolved hyper-parameters. Files (``{name: path}``): the key statistics
    file ROME uses at its layer (computed now if missing, as the first edit would), ROME's
    context templates file (sampled now if missing) and the hyper-network checkpoint KE/MEND
    use (the newest finished one is resolved now and then used for every record, so the key
    names exactly the network that made the results).
    """
    settings: dict = {}
    files: dict = {}
    hp = getattr(editor, "hparams", None)
    if isinstance(hp, Mapping):
        settings["hparams"] = dict(hp)
    provider = getattr(editor, "stats_provider", None)
    if provider is not None and hasattr(provider, "path") and isinstance(hp, Mapping) and "layer" in hp:
        layer = int(hp["layer"])
        provider(lm, layer)  # compute-or-load, so that the file exists and its checksum is known
        files["statistics"] = str(provider.path(lm, layer))
    if hasattr(editor, "templates_path"):
        files["context_templates"] = str(editor.templates_path(lm))
    if hasattr(editor, "checkpoint_path"):
        editor.checkpoint = str(editor.checkpoint_path(lm))
        files["hypernet_checkpoint"] = editor.checkpoint
    return settings, files


def run_key(lm, editor, settings: EvalSettings, input_files: Mapping[str, Any] | None = None) -> tuple[CacheKey, dict]:
    """The cache key of this run's record files and ``{name: {"file", "sha256"}}`` of its input files."""
    ed_settings, ed_files = editor_inputs(editor, lm)
    files = {k: v for k, v in {**dict(input_files or {}), **ed_files}.items() if v is not None}
    described = {k: {"file": str(v), "sha256": sha256_file(v)} for k, v in sorted(files.items())}
    key = make_key("evaluate", lm, {**settings.as_json(), **ed_settings},
                   {k: d["sha256"] for k, d in described.items()}, settings.generation.seed)
    return key, described


def _write_run_json(folder: Path, settings: EvalSettings, records_source: str | None, key: CacheKey | None = None,
                    files: Mapping | None = None) -> None:
    """Settings, key and input files (with checksums) of the latest run into the method folder."""
    doc = {"settings": settings.as_json(), "records": records_source}
    if key is not None:
        doc["cache_key"] = key.to_json()
        doc["input_files"] = dict(files or {})
    atomic_write_json(folder / "run.json", doc)


def _stderr(msg: str) -> None:
    import sys

    print(msg, file=sys.stderr)


def _status(path: Path, key: CacheKey, rec_sha: str, refuse_stale: bool, report):
    return cache_status(path, key, rec_sha, json_item_reader("record_sha256"), JSON_ERRORS, report,
                        prog="rome evaluate: ", refuse_stale=refuse_stale, stale_error=SettingsMismatchError)


def _silent(_line: str) -> None:
    """A ``report`` that prints nothing (the re-check before computing a record)."""


def evaluate_records(lm, editor, records: Iterable[Mapping[str, Any]], out_dir: str | Path, settings: EvalSettings,
                     references=None, records_source: str | None = None, progress: bool = True,
                     input_files: Mapping[str, Any] | None = None, refuse_stale: bool = False,
                     report=_stderr) -> RunStats:
    """Evaluate ``records`` (reusing result files made under the same key); see the module docstring.

    ``input_files``: ``{name: path}`` of files the results depend on (records file,
    reference texts); the editor's statistics file and hyper-network checkpoint are added.
    """
    from counterfact.records import check_record_ids

    records = check_record_ids(list(records), records_source)
    folder = method_dir(out_dir, settings.method)
    folder.mkdir(parents=True, exist_ok=True)
    if input_files is None and records_source and Path(records_source).is_file():
        input_files = {"records": records_source}
    key, files = run_key(lm, editor, settings, input_files)
    stats = RunStats()
    todo = []
    for i, r in enumerate(records):
        if "case_id" not in r:
            raise ValueError(f"record at position {i} has no case_id")
        p = result_path(out_dir, settings.method, r["case_id"])
        rec_sha = record_checksum(r)
        status, why = _status(p, key, rec_sha, refuse_stale, report)
        if status == "ok":
            stats.skipped += 1
            stats.reuse.add(status)
            continue
        todo.append((r, p, rec_sha, status, why))
    _write_run_json(folder, settings, records_source, key, files)
    it: Iterable = todo
    if progress:
        from tqdm import tqdm

        it = tqdm(todo, desc=f"evaluate {settings.method} ({settings.dataset})", unit="record",
                  initial=0, total=len(todo))
    t0 = time.perf_counter()
    for record, path, rec_sha, scanned, why in it:
        if _status(path, key, rec_sha, False, _silent)[0] == "ok":
            # another run into the same folder (a parallel shard) finished it since the scan
            stats.skipped += 1
            stats.reuse.add("ok")
            continue
        stats.reuse.add(scanned, why)
        doc = evaluate_record(lm, editor, record, settings, references, report=report)
        check_finite({"pre": doc["pre"], "post": doc["post"]}, f"record {record['case_id']}")
        doc["cache_key"] = key.to_json()
        doc["record_sha256"] = rec_sha
        if not is_unedited(settings.method):
            stats.edit_calls += 1
        atomic_write_json(path, doc)
        stats.done += 1
        stats.files.append(path)
    stats.seconds = time.perf_counter() - t0
    write_manifest(folder, key, [r["case_id"] for r in records], records_source, out_dir, settings.method)
    return stats


def manifest_path(folder: str | Path) -> Path:
    return Path(folder) / "manifest.json"


def write_manifest(folder: Path, key: CacheKey, case_ids: Sequence, records_source, out_dir, method) -> Path:
    """The case ids this run was asked for, its key, and each record file's size and sha256."""
    items = {result_path(out_dir, method, c).name: item_record(result_path(out_dir, method, c)) for c in case_ids}
    return atomic_write_json(manifest_path(folder), {
        "producer": "rome evaluate", "cache_key": key.to_json(), "records": records_source,
        "case_ids": list(case_ids), "items": items,
    })


def load_selected(folder: str | Path, case_ids: Sequence) -> list[dict]:
    """The result documents of exactly ``case_ids`` in ``folder`` (in that order).

    A missing file is a :class:`~rome.results.cache_key.MissingItemsError` naming every missing id;
    an unreadable one a ``ValueError`` naming its path.
    """
    import json

    from ..results.cache_key import MissingItemsError

    folder = Path(folder)
    paths = [(c, folder / f"case_{c}.json") for c in case_ids]
    missing = [c for c, p in paths if not p.is_file()]
    if missing:
        raise MissingItemsError(f"{folder}: no result file for case id {', '.join(map(str, missing[:20]))}"
                                f"{' ...' if len(missing) > 20 else ''} ({len(missing)} of {len(paths)}); "
                                "run rome evaluate for these records")
    docs = []
    for _, p in paths:
        try:
            docs.append(json.loads(p.read_text(encoding="utf-8")))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"{p}: unreadable result file ({exc}); rerun rome evaluate, which recomputes it") from None
    return docs


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
