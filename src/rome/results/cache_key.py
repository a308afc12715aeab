"""Keys of cached per-item results: what produced a per-fact trace or a per-record evaluation.

A step that writes one file per item (a traced fact, an evaluated record) stores in each
file a *cache key*: a JSON object of everything that decides the file's content, and its
sha256 (``digest``). A rerun reuses an existing file only when its digest equals the key
the run would write now; otherwise the item is recomputed (or, with ``--refuse-stale``,
the run stops naming the first differing setting). Summaries refuse to combine files
whose keys differ.

The key's parts (``components``):

* ``kind`` and ``code``: which producer wrote it and a version string of that producer's
  output format and science (:data:`CODE_VERSIONS`, bumped by hand when a change alters
  results) together with the package version;
* ``model``: the name given, the dtype and a *weights fingerprint*
  (:func:`weights_fingerprint`): sha256 over every parameter's name, shape and dtype and
  the exact bytes of up to :data:`SAMPLE_PER_TENSOR` evenly strided entries of it. This is
  cheap (a few thousand values per tensor, read on the model's device) and deterministic;
  another checkpoint, architecture, size or dtype changes it. A change confined to entries
  between the samples is not seen: a fine-tuned copy under the same name is meant to be
  caught by its sampled entries, which any full fine-tuning moves. The device is not part
  of the key: results on CPU and GPU agree to numerical tolerance, not bit for bit;
* ``settings``: every option that changes the content (tracing: noise rule, samples,
  window, extra tokens, replace, engine; evaluation: method, hyper-parameters, generation
  settings, statistics settings ...);
* ``inputs``: sha256 of each input file (the known-facts or records file, the key
  statistics file, the hyper-network checkpoint, the reference texts) or of the values
  derived from it (the noise statistics);
* ``seed``.

Paths are never part of a key (moving the data folder keeps every cache valid); they are
written beside it, in ``run.json`` and the manifests.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from atomicio import sha256_file
from counterfact.errors import BadInputError

# Bump a producer's version when a code change alters what it writes.
CODE_VERSIONS = {"trace": "trace-1", "evaluate": "evaluate-1", "sweep": "sweep-1", "baseline-sweep": "baseline-sweep-1",
                 "sequential": "sequential-1"}
SAMPLE_PER_TENSOR = 4096


class StaleCacheError(BadInputError, RuntimeError):
    """A cached item was made under another key and the run was asked to refuse, not recompute."""


class MixedKeysError(BadInputError, ValueError):
    """A summary was asked to combine per-item files made under different keys."""


class MissingItemsError(BadInputError, FileNotFoundError):
    """A summary's configured items have no result file."""


def package_version() -> str:
    from .provenance import package_version as pv

    return pv()


def _tensor_bytes(t: torch.Tensor) -> bytes:
    flat = t.detach().reshape(-1)
    step = max(1, flat.numel() // SAMPLE_PER_TENSOR)
    sample = flat[::step][:SAMPLE_PER_TENSOR].contiguous().cpu()
    return sample.view(torch.uint8).numpy().tobytes()


def weights_fingerprint(model: torch.nn.Module) -> str:
    """sha256 over each parameter's name, shape, dtype and strided sample of its bytes (see module doc)."""
    h = hashlib.sha256()
    with torch.no_grad():
        for name, p in model.named_parameters():
            h.update(f"{name}|{tuple(p.shape)}|{p.dtype}\0".encode())
            h.update(_tensor_bytes(p))
    return h.hexdigest()


def model_identity(lm) -> dict[str, str]:
    """The ``model`` part of a key: name, dtype and weights fingerprint of the weights as they are now."""
    return {"name": str(lm.name), "dtype": str(lm.dtype).replace("torch.", ""),
            "weights": weights_fingerprint(lm.model)}


def file_checksum(path: str | Path | None) -> str | None:
    """sha256 of a file (None for no file)."""
    return None if path is None else sha256_file(path)


def array_checksum(*arrays: Any) -> str:
    """sha256 of numbers or arrays (values, shapes and dtypes), for inputs held in memory."""
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            h.update(b"none\0")
            continue
        arr = np.ascontiguousarray(np.asarray(a))
        h.update(f"{arr.dtype}|{arr.shape}\0".encode("ascii"))
        h.update(arr.tobytes())
    return h.hexdigest()


def _canonical(obj: Any) -> Any:
    """JSON-ready, with tuples as lists, so a key read back from a file equals the one built."""
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


@dataclass(frozen=True)
class CacheKey:
    """``components`` (JSON object) and its sha256 ``digest``."""

    components: dict = field(default_factory=dict)

    @property
    def digest(self) -> str:
        blob = json.dumps(self.components, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def to_json(self) -> dict:
        return {"digest": self.digest, "components": self.components}


def make_key(kind: str, lm, settings: Mapping[str, Any], inputs: Mapping[str, Any], seed: Any) -> CacheKey:
    """The key of one producer's items (see the module docstring for the parts)."""
    if kind not in CODE_VERSIONS:
        raise KeyError(f"unknown cache kind {kind!r}; expected one of {sorted(CODE_VERSIONS)}")
    return CacheKey(_canonical({
        "kind": kind, "code": {"producer": CODE_VERSIONS[kind], "package": package_version()},
        "model": model_identity(lm), "settings": dict(settings), "inputs": dict(inputs), "seed": seed,
    }))


def stored_digest(stored: Mapping[str, Any] | None) -> str | None:
    return stored.get("digest") if isinstance(stored, Mapping) else None


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, Mapping):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out or {prefix: {}}
    return {prefix: obj}


def differences(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, limit: int = 4) -> str:
    """Which settings differ between two keys' components, e.g. ``settings.samples 2 -> 3``."""
    if not isinstance(old, Mapping) or "components" not in old:
        return "no cache key (written by an older version)"
    a = _flatten(old.get("components") or {})
    b = _flatten((new or {}).get("components") or {})
    diffs = [f"{k} {a.get(k, '(absent)')!r} -> {b.get(k, '(absent)')!r}"
             for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    if not diffs:
        return "same settings, other digest"
    more = f" (+{len(diffs) - limit} more)" if len(diffs) > limit else ""
    return "; ".join(diffs[:limit]) + more


@dataclass
class ReuseCounts:
    """What a run did with its per-item files; ``line()`` is what the CLIs print."""

    reused: int = 0
    computed: int = 0  # no file yet
    stale: int = 0  # recomputed: another key
    corrupted: int = 0  # recomputed: unreadable
    stale_reasons: list = field(default_factory=list)

    @property
    def recomputed(self) -> int:
        return self.stale + self.corrupted

    def add(self, status: str, why: str | None = None) -> None:
        """Count one item by its :func:`cache_status` (``ok`` reused, ``missing`` computed,
        ``stale`` with its reason, ``corrupted``)."""
        if status == "ok":
            self.reused += 1
        elif status == "missing":
            self.computed += 1
        elif status == "corrupted":
            self.corrupted += 1
        else:
            self.stale += 1
            self.stale_reasons.append(why)

    def as_json(self) -> dict:
        return {"reused": self.reused, "computed": self.computed, "recomputed": self.recomputed,
                "recomputed_stale": self.stale, "recomputed_corrupted": self.corrupted}

    def line(self, what: str) -> str:
        reason = f" (e.g. {self.stale_reasons[0]})" if self.stale_reasons else ""
        return (f"{what}: reused {self.reused}, computed {self.computed} new, recomputed {self.recomputed} "
                f"({self.stale} made under other settings{reason}, {self.corrupted} corrupted)")


def check_consistent(items: Iterable[tuple[str, Mapping[str, Any] | None]], what: str) -> dict | None:
    """The one key shared by ``(file, stored key)`` pairs; :class:`MixedKeysError` naming the
    differing settings and files of each key otherwise."""
    groups: dict[Any, list] = {}
    keys: dict[Any, Any] = {}
    for f, key in items:
        d = stored_digest(key) if isinstance(key, Mapping) else None
        groups.setdefault(d, []).append(str(f))
        keys.setdefault(d, key)
    if len(groups) <= 1:
        key = next(iter(keys.values()), None)
        return dict(key) if isinstance(key, Mapping) else None
    (da, fa), (db, fb) = list(groups.items())[:2]

    def some(files):
        return ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")

    why = differences(keys[da], keys[db]) if keys[da] is not None else f"no cache key in {fa[0]}"
    raise MixedKeysError(
        f"{what}: per-item files were made under different settings and cannot be combined "
        f"({why}): {some(fa)} vs {some(fb)}"
        f"{f' (and {len(groups) - 2} more keys)' if len(groups) > 2 else ''}. "
        "Rerun the step that writes them (it recomputes stale items).")


def item_record(path: str | Path) -> dict:
    """``{"size", "sha256"}`` of a per-item file (for manifests and provenance)."""
    p = Path(path)
    return {"size": p.stat().st_size, "sha256": sha256_file(p)}


def json_checksum(obj: Any) -> str:
    """sha256 of an object's canonical JSON (a per-item record's own checksum)."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def read_json_object(path: Path) -> dict:
    """A cached JSON document (ValueError if it is not a JSON object)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict):
        raise ValueError(f"expected a JSON object, got {type(doc).__name__}")
    return doc


def json_item_reader(item_field: str) -> Callable[[Path], tuple[Any, Any]]:
    """A ``read`` for :func:`cache_status`: the stored key and ``item_field`` of a JSON document."""
    def read(path: Path) -> tuple[Any, Any]:
        doc = read_json_object(path)
        return doc.get("cache_key"), doc.get(item_field)
    return read


JSON_ERRORS = (ValueError, UnicodeDecodeError, OSError)


def cache_status(path: Path, key: CacheKey, item_sha: str | None, read: Callable[[Path], tuple[Any, Any]],
                 corrupt_errors: tuple[type[BaseException], ...], report: Callable[[str], None], prog: str = "",
                 refuse_stale: bool = False, stale_error: type[StaleCacheError] | None = None) -> tuple[str, str | None]:
    """``("missing" | "ok" | "stale" | "corrupted", reason)`` for one cached per-item file.

    The one rule every per-item cache follows: a file is reused only when the key it stores
    and the checksum of its item both match; an unreadable one is reported (one line naming
    it) and recomputed; a stale one is recomputed, or refused with ``refuse_stale``.
    ``read(path)`` returns the stored key and item checksum and raises one of
    ``corrupt_errors`` for an unreadable file.
    """
    if not path.exists():
        return "missing", None
    try:
        stored, stored_item = read(path)
    except corrupt_errors as err:
        report(f"{prog}corrupted cache file {path} ({type(err).__name__}: {str(err)[:120]}); recomputing it")
        return "corrupted", None
    if stored_digest(stored) == key.digest and stored_item == item_sha:
        return "ok", None
    why = differences(stored, key.to_json()) if stored_digest(stored) != key.digest else "its record changed"
    if refuse_stale:
        raise (stale_error or StaleCacheError)(
            f"{path}: made under other settings ({why}); rerun without --refuse-stale to recompute it, "
            "or use another --out-dir")
    return "stale", why


def reuse_json(path: str | Path, key: CacheKey, item_sha: str | None, counts: ReuseCounts,
               report, refuse_stale: bool = False) -> dict | None:
    """The cached JSON document at ``path`` when it was made under ``key`` for this item, else None.

    Updates ``counts`` (reused / computed / stale / corrupted) by :func:`cache_status`.
    """
    p = Path(path)
    seen: dict[str, dict] = {}

    def read(q: Path) -> tuple[Any, Any]:
        seen["doc"] = doc = read_json_object(q)
        return doc.get("cache_key"), doc.get("item_sha256")

    status, why = cache_status(p, key, item_sha, read, JSON_ERRORS, report, refuse_stale=refuse_stale)
    counts.add(status, why)
    return seen["doc"] if status == "ok" else None
