"""Sequential editing: a seeded, fixed stream of COUNTERFACT edits applied in batches, never undone in between.

The setting of the successors' papers: Meng et al., *Mass-Editing Memory in a Transformer*
(MEMIT, ICLR 2023, section 5.2: many edits in one model), Gupta et al., *Rebuilding ROME*
(EMNLP 2024: single edits in sequence, model collapse), Fang et al., *AlphaEdit* (ICLR 2025:
batches of edits in sequence). One run edits one model with one method:

* **stream** (:func:`make_stream`): the records sorted by ``case_id``, shuffled with
  ``random.Random(seed)``; walking that order, the first ``n_edits`` records whose subjects are
  all different form the stream (the same subject edited twice would be two conflicting edits),
  the next ``probe_records`` records with other subjects form the fixed probe sample (never
  edited). ``case_ids`` gives the stream explicitly instead;
* **batches** of ``batch_size`` requests go to the editor's ``apply`` in stream order; a batch
  that names one subject twice is bad input (:class:`StreamError`);
* **checkpoints** every ``eval_every`` edits (a multiple of the batch size; or, with
  ``eval_schedule="log"``, at ``eval_every`` × 1, 2, 5, 10, 20, 50, ...) and after the last
  batch, plus one at 0 edits (the unedited model). Each measures: ES, PS, NS over the edits so
  far and over the probe sample (the metrics of :mod:`.metrics` on the scores of
  :func:`.counterfact_eval.score_record`); GE over the probe records' first ``ge_prompts``
  generation prompts (:mod:`.fluency`); perplexity on a held-out WikiText-2 sample
  (:mod:`.perplexity`); ``‖ΔW‖_F / ‖W‖_F`` of every edited matrix against the unedited model;
  and the number of disabling edits so far;
* **disabling edits** (:mod:`rome.results.disabling`, r-ROME's two numbers): after every batch,
  ``|Δ|`` of the batch's own update per matrix and the normalised entropy of texts generated
  from the batch's first record's first ``disabling_prompts`` generation prompts.

Files, under ``<out_dir>/<method slug>/``::

    checkpoint-<n:06d>.json          measurements at n edits, the updates since the last checkpoint,
                                     the cache key, and the delta file's name and sha256
    checkpoint-<n:06d>.safetensors   the weight delta W_n − W_0 (float64) of every edited matrix and
                                     the tensors of the editor's ``state_dict()`` (AlphaEdit's accumulated
                                     keys; its other values go into the JSON); only the newest is kept
    result.json                      every checkpoint's measurements and every update, in order

    resume.json, resume-<n:06d>.safetensors
                                     with ``snapshot_every``: the state after n edits between two
                                     checkpoints (the same tensors, plus the updates since the last
                                     checkpoint), so a long run that is stopped loses at most that
                                     many edits; deleted when the next checkpoint is written

Resuming: a run first finds the newest checkpoint whose key equals its own and whose delta file
has the recorded sha256 (or a newer snapshot made after it under the same key), sets every edited
matrix to ``W_0 + Δ`` (checked against the recorded sha256 of the weights' bytes), restores the
editor's state and continues with the next batch. Snapshots measure nothing and are not part of
the key: taking them or not, and how often, changes no result byte.
The same inputs and settings give the same bytes whether or not the run was interrupted
(timings are printed, never stored). A checkpoint made under another key (any setting, the
model, the records, the statistics, the code version) is deleted and recomputed, never reused.

The model is never restored between batches. When the run ends, or fails, every edited matrix is
put back to its unedited value, bit for bit.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from atomicio import atomic_write_bytes, atomic_write_json, sha256_file
from counterfact.errors import BadInputError

from ..editing.base import EditRequest
from ..model.generation import SAMPLER_VERSION
from ..results.cache_key import CacheKey, make_key
from ..results.disabling import DisablingRule, normalized_entropy, update_distance
from ..results.layout import SEQUENTIAL_CHECKPOINT, method_dir, sequential_checkpoint, sequential_point
from .counterfact_eval import GenerationSettings, score_record
from .fluency import generation_entropy
from .generation import generate_texts
from .metrics import counterfact_record_metrics
from .perplexity import PerplexitySettings, perplexity
from .runner import editor_inputs


class StreamError(BadInputError, ValueError):
    """A stream that cannot be edited: more edits than distinct-subject records, or a batch that
    edits one subject twice (duplicate or conflicting targets)."""


class SequentialSettingsError(BadInputError, ValueError):
    """Sequential-editing settings that contradict each other."""


EVAL_SCHEDULES = ("linear", "log")


@dataclass
class SequentialSettings:
    method: str
    model: str = ""
    n_edits: int = 20
    batch_size: int = 1
    eval_every: int = 10
    probe_records: int = 4
    seed: int = 0
    generation: GenerationSettings = field(default_factory=lambda: GenerationSettings(tokens=30))
    ge_prompts: int = 2
    disabling_prompts: int = 2
    perplexity: PerplexitySettings = field(default_factory=PerplexitySettings)
    disabling: DisablingRule = field(default_factory=DisablingRule)
    overrides: dict = field(default_factory=dict)
    batch_scoring: int = 64
    eval_schedule: str = "linear"

    def __post_init__(self) -> None:
        if self.eval_schedule not in EVAL_SCHEDULES:
            raise SequentialSettingsError(f"eval-schedule: one of {', '.join(EVAL_SCHEDULES)}, got {self.eval_schedule!r}")
        for name in ("n_edits", "batch_size", "eval_every", "ge_prompts", "disabling_prompts"):
            if int(getattr(self, name)) < 1:
                raise SequentialSettingsError(f"{name.replace('_', '-')}: must be >= 1, got {getattr(self, name)}")
        if self.probe_records < 0:
            raise SequentialSettingsError(f"probe-records: must be >= 0, got {self.probe_records}")
        if self.eval_every % self.batch_size:
            raise SequentialSettingsError(
                f"eval-every {self.eval_every} is not a multiple of batch-size {self.batch_size}: "
                "checkpoints fall between batches")

    def as_json(self) -> dict:
        return {
            "method": self.method, "model": self.model, "n_edits": self.n_edits, "batch_size": self.batch_size,
            "eval_every": self.eval_every, "eval_schedule": self.eval_schedule,
            "probe_records": self.probe_records, "seed": self.seed,
            "generation": {"tokens": self.generation.tokens, "top_k": self.generation.top_k,
                           "seed": self.generation.seed, "sampler": SAMPLER_VERSION},
            "ge_prompts": self.ge_prompts, "disabling_prompts": self.disabling_prompts,
            "perplexity": self.perplexity.as_json(), "disabling": self.disabling.as_json(),
            "overrides": dict(self.overrides),
        }

    def checkpoints(self) -> list[int]:
        """Edit counts with a checkpoint: 0, ``n_edits`` and in between ``linear``: every
        ``eval_every``; ``log``: ``eval_every`` times 1, 2, 5, 10, 20, 50, ... (evenly spaced on
        the figures' log axis; the measurements over the edits so far cost in proportion to
        the edits, so a 1,000-edit run scores 1,800 records instead of 5,500 with
        ``eval_every`` 100)."""
        if self.eval_schedule == "log":
            inner, decade = [], 1
            while decade * self.eval_every < self.n_edits:
                inner += [m * decade * self.eval_every for m in (1, 2, 5)]
                decade *= 10
        else:
            inner = list(range(self.eval_every, self.n_edits, self.eval_every))
        return sorted({0, self.n_edits, *(p for p in inner if p < self.n_edits)})


# -- the stream ------------------------------------------------------------------------------

def _subject(record: Mapping[str, Any]) -> str:
    return str(record["requested_rewrite"]["subject"]).strip().lower()


def make_stream(records: Sequence[Mapping[str, Any]], n_edits: int, n_probe: int, seed: int,
                case_ids: Sequence[Any] | None = None, source: str = "records") -> tuple[list, list]:
    """``(stream, probe records)``; see the module docstring. Too few records: :class:`StreamError`."""
    ordered = sorted(records, key=lambda r: (str(type(r["case_id"])), r["case_id"]))
    if case_ids is not None:
        by_id = {r["case_id"]: r for r in ordered}
        missing = [c for c in case_ids if c not in by_id]
        if missing:
            raise StreamError(f"{source}: --case-ids names case ids that are not in the file: {missing[:10]}")
        if len(case_ids) < n_edits:
            raise StreamError(f"--n-edits {n_edits} is larger than the {len(case_ids)} records --case-ids names")
        stream = [by_id[c] for c in case_ids[:n_edits]]
        rest = [r for r in ordered if r["case_id"] not in set(case_ids[:n_edits])]
        random.Random(seed).shuffle(rest)
    else:
        rest = list(ordered)
        random.Random(seed).shuffle(rest)
        stream, seen, left = [], set(), []
        for r in rest:
            if len(stream) < n_edits and _subject(r) not in seen:
                stream.append(r)
                seen.add(_subject(r))
            else:
                left.append(r)
        if len(stream) < n_edits:
            raise StreamError(f"{source}: --n-edits {n_edits} is larger than the dataset: it has {len(records)} "
                              f"records, {len(stream)} of them with distinct subjects")
        rest = left
    used = {_subject(r) for r in stream}
    probe: list = []
    seen_probe: set[str] = set()
    for r in rest:
        if len(probe) >= n_probe:
            break
        s = _subject(r)
        if s not in used and s not in seen_probe:
            probe.append(r)
            seen_probe.add(s)
    if len(probe) < n_probe:
        raise StreamError(f"{source}: --probe-records {n_probe} is more than the {len(probe)} records left "
                          f"beside the {n_edits} edits (with subjects of their own)")
    return stream, probe


def check_batches(stream: Sequence[Mapping[str, Any]], batch_size: int, source: str = "records") -> None:
    """Refuse a batch that edits one subject twice, naming the batch, the records and the targets."""
    for start in range(0, len(stream), batch_size):
        batch = stream[start:start + batch_size]
        seen: dict[str, Mapping[str, Any]] = {}
        for r in batch:
            s = _subject(r)
            if s in seen:
                a, b = seen[s], r
                ta = a["requested_rewrite"]["target_new"]["str"]
                tb = b["requested_rewrite"]["target_new"]["str"]
                what = "conflicting targets" if ta != tb else "duplicate edit"
                raise StreamError(
                    f"{source}: batch {start // batch_size + 1} (edits {start + 1}-{start + len(batch)}): records "
                    f"{a['case_id']} and {b['case_id']} both edit subject {r['requested_rewrite']['subject']!r} "
                    f"({what}: {ta!r} and {tb!r}); one subject may be edited once per batch")
            seen[s] = r


# -- measurements ----------------------------------------------------------------------------

def _mean100(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(100.0 * sum(vals) / len(vals), 6) if vals else None


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def efficacy(lm, records: Sequence[Mapping[str, Any]], batch_size: int) -> dict:
    """ES, PS, NS (percent) of ``records`` under the model as it is now; ``n`` records."""
    rows = [counterfact_record_metrics(score_record(lm, r, generation=None, batch_size=batch_size)) for r in records]
    return {"n": len(rows), **{m: _mean100([row[m] for row in rows]) for m in ("ES", "PS", "NS")}}


def probe_fluency(lm, records: Sequence[Mapping[str, Any]], settings: SequentialSettings) -> float | None:
    """GE (× 100, as Table 4) over the probe records' first ``ge_prompts`` generation prompts."""
    values = []
    for r in records:
        prompts = list(r.get("generation_prompts") or [])[: settings.ge_prompts]
        if prompts:
            texts = generate_texts(lm, prompts, total_tokens=settings.generation.tokens,
                                   top_k=settings.generation.top_k, seed=settings.generation.seed)
            values.append(generation_entropy(texts))
    return round(100.0 * sum(values) / len(values), 6) if values else None


def _params(model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    return dict(model.named_parameters())


def delta_norms(model: torch.nn.Module, originals: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """``‖W − W_0‖_F / ‖W_0‖_F`` per edited matrix (float64)."""
    params = _params(model)
    out = {}
    with torch.no_grad():
        for name, w0 in sorted(originals.items()):
            w0d = w0.double().cpu()  # the originals live on the model's device
            out[name] = float(torch.linalg.vector_norm(params[name].detach().double().cpu() - w0d)
                              / torch.linalg.vector_norm(w0d))
    return out


def weights_sha256(t: torch.Tensor) -> str:
    return hashlib.sha256(t.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes()).hexdigest()


# -- checkpoints -----------------------------------------------------------------------------

def checkpoint_json(folder: Path, n: int) -> Path:
    return sequential_checkpoint(folder, n)


def checkpoint_tensors(folder: Path, n: int) -> Path:
    return sequential_checkpoint(folder, n, ".safetensors")


def split_state(state: Any, path: str = "") -> tuple[Any, dict[str, torch.Tensor]]:
    """``(skeleton, tensors)`` of an editor's ``state_dict()``: every tensor replaced by
    ``{"tensor": <path>}`` in a JSON-ready skeleton, the tensors by path (safetensors holds
    tensors only; the rest goes into the checkpoint's JSON)."""
    if isinstance(state, torch.Tensor):
        return {"tensor": path}, {path: state}
    if isinstance(state, Mapping):
        skeleton: dict[str, Any] = {}
        tensors: dict[str, torch.Tensor] = {}
        for k, v in state.items():
            skeleton[str(k)], more = split_state(v, f"{path}/{k}" if path else str(k))
            tensors.update(more)
        return {"dict": skeleton}, tensors
    if isinstance(state, (list, tuple)):
        items, tensors = [], {}
        for i, v in enumerate(state):
            item, more = split_state(v, f"{path}/{i}" if path else str(i))
            items.append(item)
            tensors.update(more)
        return {"list": items}, tensors
    if state is None or isinstance(state, (bool, int, float, str)):
        return {"value": state}, {}
    raise TypeError(f"editor state at {path or 'top level'}: cannot checkpoint a {type(state).__name__}")


def join_state(skeleton: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    """The inverse of :func:`split_state`."""
    if "tensor" in skeleton:
        return tensors[skeleton["tensor"]]
    if "dict" in skeleton:
        return {k: join_state(v, tensors) for k, v in skeleton["dict"].items()}
    if "list" in skeleton:
        return [join_state(v, tensors) for v in skeleton["list"]]
    return skeleton["value"]


def editor_state(editor) -> Any:
    """The editor's sequential state (``state_dict()``, e.g. AlphaEdit's accumulated ``K Kᵀ``);
    None for editors without one."""
    get = getattr(editor, "state_dict", None)
    return get() if callable(get) else None


def save_tensors(path: Path, deltas: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor]) -> str:
    """Write ``delta/<name>`` and ``state/<path>`` tensors (safetensors: tensors only, no pickle)
    atomically; returns the file's sha256."""
    from safetensors.torch import save

    tensors = {f"delta/{k}": v.detach().cpu().contiguous() for k, v in deltas.items()}
    tensors.update({f"state/{k}": v.detach().cpu().contiguous() for k, v in state.items()})
    atomic_write_bytes(path, save(tensors))
    return sha256_file(path)


def load_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    from safetensors.torch import load

    tensors = load(path.read_bytes())
    deltas = {k[len("delta/"):]: v for k, v in tensors.items() if k.startswith("delta/")}
    state = {k[len("state/"):]: v for k, v in tensors.items() if k.startswith("state/")}
    return deltas, state


def snapshot_json(folder: Path) -> Path:
    return folder / "resume.json"


def snapshot_tensors(folder: Path, n: int) -> Path:
    return folder / f"resume-{n:06d}.safetensors"


def _prune_snapshot_tensors(folder: Path, keep: str | None = None) -> None:
    """Delete every snapshot tensor file but ``keep`` (the one ``resume.json`` names, if any)."""
    for path in sorted(folder.glob("resume-*.safetensors")):
        if path.name != keep:
            path.unlink()


def _read_json(path: Path) -> dict | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def _matches(doc: dict | None, key: CacheKey) -> bool:
    return isinstance(doc, dict) and (doc.get("cache_key") or {}).get("digest") == key.digest


def clear_stale(folder: Path, key: CacheKey, report: Callable[[str], None]) -> int:
    """Delete checkpoint files made under another key (or unreadable); returns how many checkpoints."""
    stale = 0
    for path in sorted(folder.glob("checkpoint-*.json")):
        if not _matches(_read_json(path), key):
            stale += 1
            path.unlink()
    for path in sorted(folder.glob("checkpoint-*.safetensors")):
        m = SEQUENTIAL_CHECKPOINT.search(path.name)
        if not m or not checkpoint_json(folder, int(m.group(1))).is_file():
            path.unlink()
    snap = _read_json(snapshot_json(folder))
    if snapshot_json(folder).exists() and not _matches(snap, key):
        snapshot_json(folder).unlink()
        snap = None
    # files left by a run stopped between writing a snapshot's two files go
    _prune_snapshot_tensors(folder, (snap.get("tensors") or {}).get("file") if snap else None)
    if stale:
        report(f"rome sequential: {stale} checkpoint(s) in {folder} were made under other settings; recomputing")
    return stale


def resumable(folder: Path, key: CacheKey, points: Sequence[int]) -> tuple[int, list[dict]]:
    """``(n, docs)``: the newest checkpoint ``n`` this run may resume from (its tensors present
    with their recorded sha256 and every earlier checkpoint present) and the checkpoint
    documents up to it; ``(-1, [])`` when none."""
    docs: list[dict] = []
    best, best_docs = -1, []
    for n in points:
        doc = _read_json(checkpoint_json(folder, n))
        if not _matches(doc, key) or doc is None:
            break
        docs.append(doc)
        tensors = doc.get("tensors")
        if tensors is None:
            best, best_docs = n, list(docs)
            continue
        path = folder / tensors["file"]
        if path.is_file() and sha256_file(path) == tensors["sha256"]:
            best, best_docs = n, list(docs)
    return best, best_docs


def resumable_snapshot(folder: Path, key: CacheKey, start: int, n_edits: int) -> dict | None:
    """The snapshot this run may resume from: made under ``key`` after checkpoint ``start`` (the
    newest one :func:`resumable` found), before the last edit, with its tensors intact; else None."""
    doc = _read_json(snapshot_json(folder))
    if start < 0 or not _matches(doc, key) or doc is None or doc.get("after_checkpoint") != start:
        return None
    if not start < int(doc.get("n_edits", -1)) < n_edits:
        return None
    tensors = doc.get("tensors") or {}
    path = folder / str(tensors.get("file", ""))
    return doc if path.is_file() and sha256_file(path) == tensors.get("sha256") else None


# -- the run ---------------------------------------------------------------------------------

@dataclass
class SequentialInputs:
    """What the run reads besides the model: the records file, the perplexity sample and its corpus."""

    records_file: str
    heldout: list[list[int]]
    corpus_file: str | None = None
    extra_files: dict = field(default_factory=dict)


def layer_statistics(editor, lm) -> dict[str, str]:
    """``{"statistics/layer<l>": path}`` of the key statistics of every layer a multi-layer editor
    (MEMIT, AlphaEdit: hyperparameter ``layers``) reads, computed now if missing (as its first
    edit would); :func:`.runner.editor_inputs` names the one file of a single-layer editor."""
    hp = getattr(editor, "hparams", None)
    provider = getattr(editor, "stats_provider", None)
    layers = hp.get("layers") if isinstance(hp, Mapping) else None
    if not layers or provider is None or not hasattr(provider, "path"):
        return {}
    out = {}
    for layer in layers:
        provider(lm, int(layer))
        out[f"statistics/layer{int(layer)}"] = str(provider.path(lm, int(layer)))
    return out


def run_key(lm, editor, settings: SequentialSettings, inputs: SequentialInputs) -> tuple[CacheKey, dict]:
    """The key of every checkpoint of this run, and ``{name: {"file", "sha256"}}`` of its input files."""
    ed_settings, ed_files = editor_inputs(editor, lm)
    ed_files.update(layer_statistics(editor, lm))
    files = {"records": inputs.records_file, **({"corpus": inputs.corpus_file} if inputs.corpus_file else {}),
             **inputs.extra_files, **ed_files}
    described = {k: {"file": str(v), "sha256": sha256_file(v)} for k, v in sorted(files.items()) if v is not None}
    sample = hashlib.sha256(json.dumps(inputs.heldout).encode("ascii")).hexdigest()
    key = make_key("sequential", lm, {**settings.as_json(), **ed_settings},
                   {**{k: d["sha256"] for k, d in described.items()}, "heldout_sample": sample}, settings.seed)
    return key, described


def _requests(batch: Sequence[Mapping[str, Any]]) -> list[EditRequest]:
    return [EditRequest.from_record(r) for r in batch]


@dataclass
class SequentialRun:
    folder: Path
    result: dict
    resumed_from: int
    seconds: float
    edit_seconds: float
    eval_seconds: float


class _Abort(Exception):
    """Raised by ``stop_after`` (tests, and time-sliced runs): stop right after a checkpoint."""


def run_sequential(lm, editor, records: Sequence[Mapping[str, Any]], out_dir: str | Path,
                   settings: SequentialSettings, inputs: SequentialInputs, case_ids: Sequence[Any] | None = None,
                   report: Callable[[str], None] = print, stop_after: int | None = None,
                   snapshot_every: int = 0) -> SequentialRun:
    """Run (or resume) one method's sequential editing; see the module docstring.

    ``stop_after``: return right after writing the checkpoint (or snapshot) at that many edits
    (the model is restored; a later call resumes from it). ``snapshot_every``: between
    checkpoints, keep the state after the first batch that ends at least this many edits after
    the last checkpoint or snapshot (0: checkpoints only)."""
    t_start = time.perf_counter()
    stream, probe = make_stream(records, settings.n_edits, settings.probe_records, settings.seed, case_ids,
                                inputs.records_file)
    check_batches(stream, settings.batch_size, inputs.records_file)
    folder = method_dir(out_dir, settings.method)
    folder.mkdir(parents=True, exist_ok=True)
    key, files = run_key(lm, editor, settings, inputs)
    clear_stale(folder, key, report)
    points = settings.checkpoints()
    start, docs = resumable(folder, key, points)
    snap = resumable_snapshot(folder, key, start, settings.n_edits)
    params = _params(lm.model)
    originals: dict[str, torch.Tensor] = {}   # W_0 of every matrix edited so far
    history: dict[str, list[float]] = {}      # |Δ| of earlier updates per matrix
    updates: list[dict] = [u for d in docs for u in d.get("updates", [])]
    pending: list[dict] = list(snap["pending"]) if snap else []   # updates since the last checkpoint
    for u in updates + pending:
        for name, d in u["distance"].items():
            history.setdefault(name, []).append(d)
    disabling = sum(1 for u in updates + pending if u["disabling"])
    resumed = int(snap["n_edits"]) if snap else start
    edit_s = eval_s = 0.0
    try:
        if resumed > 0:
            _load_state(lm, editor, folder, (snap or docs[-1])["tensors"], originals,
                        f"{'snapshot' if snap else 'checkpoint'} {resumed}")
            report(f"rome sequential {settings.method}: resuming after {resumed} edits")
        done = max(resumed, 0)
        saved = done   # edits at the newest checkpoint or snapshot
        if start < 0:  # nothing to resume: measure the unedited model first
            t0 = time.perf_counter()
            docs = [_write_checkpoint(lm, editor, folder, key, 0, stream, probe, settings, inputs, originals,
                                      [], 0, None)]
            eval_s += time.perf_counter() - t0
        for first in range(done, settings.n_edits, settings.batch_size):
            batch = stream[first:first + settings.batch_size]
            last = first + len(batch)
            t0 = time.perf_counter()
            result = editor.apply(lm, _requests(batch))
            edit_s += time.perf_counter() - t0
            t0 = time.perf_counter()
            distances = {}
            with torch.no_grad():
                for name, before in result.originals.items():
                    if name not in originals:
                        originals[name] = before.detach().clone()
                    now = params[name].detach()
                    diff = torch.linalg.vector_norm(now.double().cpu() - before.double().cpu())
                    distances[name] = update_distance(float(diff), now.numel())
            prompts = list(batch[0].get("generation_prompts") or [])[: settings.disabling_prompts]
            entropy = None
            if prompts:
                texts = generate_texts(lm, prompts, total_tokens=settings.generation.tokens,
                                       top_k=settings.generation.top_k, seed=settings.generation.seed)
                entropy = round(normalized_entropy(texts), 6)
            why = settings.disabling.reasons(entropy, distances, history)
            for name, d in distances.items():
                history.setdefault(name, []).append(d)
            disabling += bool(why)
            pending.append({"edits": [first + 1, last], "case_ids": [r["case_id"] for r in batch],
                            "distance": distances, "entropy": entropy, "disabling": bool(why), "why": why})
            if last in points:
                docs.append(_write_checkpoint(lm, editor, folder, key, last, stream, probe, settings, inputs,
                                              originals, pending, disabling, docs[-1]))
                _drop_snapshot(folder)
                updates += pending
                pending = []
                saved = last
                report(f"rome sequential {settings.method}: checkpoint after {last} of {settings.n_edits} edits "
                       f"({disabling} disabling)")
            elif snapshot_every and last - saved >= snapshot_every:
                _write_snapshot(lm, editor, folder, key, last, docs[-1]["n_edits"], originals, pending)
                saved = last
                report(f"rome sequential {settings.method}: snapshot after {last} of {settings.n_edits} edits")
            eval_s += time.perf_counter() - t0
            if stop_after is not None and last >= stop_after and last == saved:
                raise _Abort
    except _Abort:
        _restore(lm.model, originals, editor)
        return SequentialRun(folder, {}, resumed, time.perf_counter() - t_start, edit_s, eval_s)
    except BaseException:
        _restore(lm.model, originals, editor)
        raise
    _restore(lm.model, originals, editor)
    result = {
        "producer": "rome sequential", "cache_key": key.to_json(), "method": settings.method,
        "settings": settings.as_json(), "input_files": files,
        "stream": [r["case_id"] for r in stream], "probe": [r["case_id"] for r in probe],
        "checkpoints": [sequential_point(d) for d in docs],
        "updates": updates,
    }
    atomic_write_json(folder / "result.json", result)
    return SequentialRun(folder, result, resumed, time.perf_counter() - t_start, edit_s, eval_s)


def _restore(model: torch.nn.Module, originals: Mapping[str, torch.Tensor], editor=None) -> None:
    """Every edited matrix back to its unedited value (bit for bit), the editor's state to none."""
    reset = getattr(editor, "reset_state", None)
    if callable(reset):
        reset()
    params = _params(model)
    with torch.no_grad():
        for name, w0 in originals.items():
            params[name].copy_(w0.to(params[name].device))


def _write_checkpoint(lm, editor, folder: Path, key: CacheKey, n: int, stream, probe, settings: SequentialSettings,
                      inputs: SequentialInputs, originals: Mapping[str, torch.Tensor], updates: list[dict],
                      disabling: int, previous: dict | None) -> dict:
    """Measure the model after ``n`` edits and write checkpoint ``n`` (JSON and, for n > 0, tensors)."""
    ppl = perplexity(lm, inputs.heldout, batch_size=settings.batch_scoring)
    metrics = {
        "edits": efficacy(lm, stream[:n], settings.batch_scoring) if n else {"n": 0, "ES": None, "PS": None, "NS": None},
        "probe": efficacy(lm, probe, settings.batch_scoring),
        "GE": probe_fluency(lm, probe, settings),
        "perplexity": _finite(round(ppl, 6)),
        "delta_norm_ratio": delta_norms(lm.model, originals),
        "disabling": disabling,
    }
    doc: dict[str, Any] = {"producer": "rome sequential", "cache_key": key.to_json(), "method": settings.method,
                           "n_edits": n, "metrics": metrics, "updates": updates, "tensors": None}
    if n:
        doc["tensors"] = _save_state(lm, editor, checkpoint_tensors(folder, n), originals)
    atomic_write_json(checkpoint_json(folder, n), doc)
    if previous is not None and previous.get("tensors"):
        old = folder / previous["tensors"]["file"]
        if old.is_file():
            old.unlink()  # only the newest delta is needed to resume
    return doc


def _save_state(lm, editor, path: Path, originals: Mapping[str, torch.Tensor]) -> dict:
    """Write the weight deltas and the editor's state to ``path``; returns the ``tensors`` entry
    of the checkpoint or snapshot that names it."""
    params = _params(lm.model)
    with torch.no_grad():
        deltas = {name: params[name].detach().double().cpu() - w0.double().cpu() for name, w0 in originals.items()}
    state = editor_state(editor)
    skeleton, state_tensors = split_state(state) if state is not None else (None, {})
    sha = save_tensors(path, deltas, state_tensors)
    return {"file": path.name, "sha256": sha, "editor_state": skeleton,
            "weights_sha256": {name: weights_sha256(params[name]) for name in sorted(originals)}}


def _load_state(lm, editor, folder: Path, tensors: Mapping[str, Any], originals: dict[str, torch.Tensor],
                what: str) -> None:
    """Set every matrix the tensors file names to ``W_0 + Δ`` (its W_0 into ``originals``),
    checked against the recorded weights' sha256, and restore the editor's state."""
    params = _params(lm.model)
    deltas, state = load_tensors(folder / tensors["file"])
    expected = tensors["weights_sha256"]
    with torch.no_grad():
        for name, delta in deltas.items():
            w = params[name]
            originals[name] = w.detach().clone()
            w.copy_((originals[name].double().cpu() + delta).to(w.dtype).to(w.device))
            if weights_sha256(w) != expected.get(name):
                raise RuntimeError(f"{folder}: {what} does not reproduce the weights of {name}; "
                                   "delete the folder to recompute")
    skeleton = tensors.get("editor_state")
    if skeleton is not None:
        editor.load_state_dict(join_state(skeleton, state))


def _write_snapshot(lm, editor, folder: Path, key: CacheKey, n: int, after: int,
                    originals: Mapping[str, torch.Tensor], pending: list[dict]) -> None:
    """Keep the state after ``n`` edits (checkpoint ``after`` being the newest): tensors first,
    then ``resume.json`` naming them, then the older snapshot's tensors go."""
    tensors = _save_state(lm, editor, snapshot_tensors(folder, n), originals)
    atomic_write_json(snapshot_json(folder), {"producer": "rome sequential", "cache_key": key.to_json(),
                                              "n_edits": n, "after_checkpoint": after,
                                              "pending": list(pending), "tensors": tensors})
    _prune_snapshot_tensors(folder, tensors["file"])


def _drop_snapshot(folder: Path) -> None:
    """A checkpoint supersedes the snapshot: delete ``resume.json``, then its tensors."""
    snapshot_json(folder).unlink(missing_ok=True)
    _prune_snapshot_tensors(folder)
