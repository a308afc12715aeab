"""Where results live and what their folders are called: the one place for method slugs.

Imports nothing heavy (no torch), so rendering can find result folders cheaply.

Evaluation results (``rome evaluate``)::

    <eval_dir>/<method slug>/run.json          settings of the run
    <eval_dir>/<method slug>/case_<id>.json    one record's result

ROME's layer x token sweep (``rome sweep``, Fig. 5; :func:`sweep_file`, :func:`sweep_pre_file`)::

    <sweep_dir>/<token>/layer-NN/case-<id>.json   one record edited at one (layer, token)
    <sweep_dir>/pre/case-<id>.json                the record scored by the unedited model

Sequential editing (``rome sequential``; :func:`sequential_checkpoint`)::

    <seq_dir>/<method slug>/checkpoint-<n:06d>.json   measurements after n edits

A method's slug is its registry name (``rome``, ``ft``, ``ft-l``, ``attn``, ``kn``, ``ke``,
``ke-cf``, ``mend-zsre``, ..., and ``none`` for the unedited model). Paper names and other
spellings map to it (``FT+L`` -> ``ft-l``, ``AttnEdit`` -> ``attn``, ``unedited`` -> ``none``);
an unknown name is made folder-safe (lower case; characters other than ``a-z0-9+._-`` -> ``_``).
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from atomicio import safe_child
from counterfact.errors import BadInputError


class MissingResultError(BadInputError, FileNotFoundError):
    """A result that a renderer reads and that is not there (its producing step has not run):
    the message names the file or folder and the command that makes it; a command line prints
    it on one line and exits with code 2, as for any other missing input."""


#: slug -> the paper's display name
DISPLAY_NAMES = {
    "none": "none", "rome": "ROME", "ft": "FT", "ft-l": "FT+L", "attn": "AttnEdit", "kn": "KN",
    "ke": "KE", "ke-cf": "KE-CF", "ke-zsre": "KE-zsRE",
    "mend": "MEND", "mend-cf": "MEND-CF", "mend-zsre": "MEND-zsRE",
    "r-rome": "r-ROME", "memit": "MEMIT", "alphaedit": "AlphaEdit",
}

# other spellings, compared after lower-casing and turning "_" into "-"
_ALIASES = {
    "ft+l": "ft-l", "ftl": "ft-l", "constr-ft": "ft-l", "constrft": "ft-l",
    "attnedit": "attn", "attn-edit": "attn",
    "unedited": "none", "pre": "none", "pre-edit": "none",
}
NONE_ALIASES = frozenset({"none", "unedited", "pre", "pre-edit"})


def method_slug(method: str) -> str:
    """The folder name of ``method`` (see the module docstring)."""
    key = str(method).strip().lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    if key in DISPLAY_NAMES:
        return key
    slug = re.sub(r"[^a-z0-9+._-]", "_", key) or "method"
    if set(slug) == {"."}:  # "." and ".." would name the evaluation folder or its parent
        from atomicio import UnsafeNameError

        raise UnsafeNameError(f"method {method!r} is not a usable folder name")
    return slug


def display_name(method: str) -> str:
    """The paper's name of ``method`` (``ft-l`` -> ``FT+L``); unknown names are returned as given."""
    return DISPLAY_NAMES.get(method_slug(method), method)


def is_unedited(method: str) -> bool:
    return method_slug(method) == "none"


def method_dir(eval_dir: str | Path, method: str) -> Path:
    return Path(eval_dir) / method_slug(method)


def case_file(eval_dir: str | Path, method: str, case_id: int | str) -> Path:
    """``<eval_dir>/<slug>/case_<id>.json``; an id that is not a plain name raises ``atomicio.UnsafeNameError``."""
    from atomicio import safe_child

    return safe_child(method_dir(eval_dir, method), case_id, f"record {case_id!r}: field case_id",
                      prefix="case_", suffix=".json")


class StaleResultError(ValueError):
    """A method folder's run manifest is missing, or a result file was made under other
    settings than the run its manifest describes."""


def _manifest(eval_dir: str | Path, method: str) -> dict:
    path = method_dir(eval_dir, method) / "manifest.json"
    if not path.is_file():
        raise StaleResultError(f"{path}: no run manifest (run `rome evaluate --method {method_slug(method)}` "
                               "first; it names the records of the run)")
    import json

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return {"case_ids": list(doc["case_ids"]), "digest": (doc.get("cache_key") or {}).get("digest")}
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise StaleResultError(f"{path}: unreadable run manifest ({exc}); rerun rome evaluate") from None


def common_case_ids(eval_dir: str | Path, methods: Iterable[str], n: int) -> list[int]:
    """The first ``n`` case ids (in the first method's run order) that the current run of
    every method in ``methods`` was asked for (each method folder's ``manifest.json``);
    result files left from other runs do not count."""
    methods = list(methods)
    lists = [_manifest(eval_dir, m)["case_ids"] for m in methods]
    shared = set.intersection(*(set(ids) for ids in lists)) if lists else set()
    common = [c for c in (lists[0] if lists else []) if c in shared]
    if not common:
        raise MissingResultError(f"no record was evaluated in the current run of every method of {methods} "
                                 f"in {eval_dir}")
    return common[:n]


def load_current(eval_dir: str | Path, method: str, case_id: int | str) -> dict:
    """One record's result document, refused (:class:`StaleResultError`, naming the file)
    when it is missing or was made under another key than its method's current run."""
    import json

    path = case_file(eval_dir, method, case_id)
    if not path.is_file():
        raise MissingResultError(f"no result file for method {method!r}, record {case_id}: {path} "
                                 "(run `rome evaluate` with this method and record first)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise StaleResultError(f"{path}: unreadable result file ({exc}); rerun rome evaluate") from None
    want = _manifest(eval_dir, method)["digest"]
    got = (doc.get("cache_key") or {}).get("digest") if isinstance(doc, dict) else None
    if want is not None and got != want:
        raise StaleResultError(f"{path}: made under other settings than the current run of {method_slug(method)!r} "
                               "(its cache key differs from manifest.json); rerun rome evaluate, which recomputes it")
    return doc


def sweep_file(sweep_dir: str | os.PathLike, token: str, layer: int, case_id: int | str) -> Path:
    """``<sweep_dir>/<token>/layer-NN/case-<id>.json`` (ids and tokens must stay inside the folder)."""
    folder = safe_child(sweep_dir, token, "token choice") / f"layer-{int(layer):02d}"
    return safe_child(folder, case_id, f"record {case_id!r}: field case_id", prefix="case-", suffix=".json")


def sweep_pre_file(sweep_dir: str | os.PathLike, case_id: int | str) -> Path:
    """``<sweep_dir>/pre/case-<id>.json``: the record's scores before any edit."""
    return safe_child(Path(sweep_dir) / "pre", case_id, f"record {case_id!r}: field case_id", prefix="case-",
                      suffix=".json")


#: ``checkpoint-<n:06d>.json`` / ``.safetensors`` of a sequential run; group 1 is n
SEQUENTIAL_CHECKPOINT = re.compile(r"checkpoint-(\d{6})\.(json|safetensors)$")


def sequential_checkpoint(folder: str | os.PathLike, n: int, suffix: str = ".json") -> Path:
    """``<folder>/checkpoint-<n:06d><suffix>``: a sequential run's checkpoint after ``n`` edits."""
    return Path(folder) / f"checkpoint-{int(n):06d}{suffix}"


def sequential_checkpoints(folder: str | os.PathLike, suffix: str = ".json") -> list[Path]:
    """The checkpoint files of one sequential run folder, in order of the number of edits."""
    return sorted(p for p in Path(folder).glob(f"checkpoint-*{suffix}") if SEQUENTIAL_CHECKPOINT.fullmatch(p.name))


def sequential_point(checkpoint: dict) -> dict:
    """A checkpoint document's entry in ``result.json``'s ``checkpoints`` list."""
    return {"n_edits": checkpoint["n_edits"], **checkpoint["metrics"]}
