"""Where results live and what their folders are called: the one place for method slugs.

Imports nothing heavy (no torch), so rendering can find result folders cheaply.

Evaluation results (``rome evaluate``)::

    <eval_dir>/<method slug>/run.json          settings of the run
    <eval_dir>/<method slug>/case_<id>.json    one record's result

A method's slug is its registry name (``rome``, ``ft``, ``ft-l``, ``attn``, ``kn``, ``ke``,
``ke-cf``, ``mend-zsre``, ..., and ``none`` for the unedited model). Paper names and other
spellings map to it (``FT+L`` -> ``ft-l``, ``AttnEdit`` -> ``attn``, ``unedited`` -> ``none``);
an unknown name is made folder-safe (lower case; characters other than ``a-z0-9+._-`` -> ``_``).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

#: slug -> the paper's display name
DISPLAY_NAMES = {
    "none": "none", "rome": "ROME", "ft": "FT", "ft-l": "FT+L", "attn": "AttnEdit", "kn": "KN",
    "ke": "KE", "ke-cf": "KE-CF", "ke-zsre": "KE-zsRE",
    "mend": "MEND", "mend-cf": "MEND-CF", "mend-zsre": "MEND-zsRE",
}

# other spellings, compared after lower-casing and turning "_" into "-"
_ALIASES = {
    "ft+l": "ft-l", "ftl": "ft-l", "constr-ft": "ft-l", "constrft": "ft-l",
    "attnedit": "attn", "attn-edit": "attn",
    "unedited": "none", "pre": "none", "pre-edit": "none",
}
NONE_ALIASES = frozenset({"none", "unedited", "pre", "pre-edit"})
CASE_FILE = re.compile(r"case_(\d+)\.json")


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


def case_ids_in(folder: str | Path) -> set[int]:
    """Case ids with a result file in ``folder`` (empty if the folder does not exist)."""
    return {int(m.group(1)) for f in Path(folder).glob("case_*.json") if (m := CASE_FILE.fullmatch(f.name))}


def common_case_ids(eval_dir: str | Path, methods: Iterable[str], n: int) -> list[int]:
    """The ``n`` smallest case ids that every method in ``methods`` has a result file for."""
    methods = list(methods)
    common: set[int] | None = None
    for m in methods:
        ids = case_ids_in(method_dir(eval_dir, m))
        common = ids if common is None else common & ids
    if not common:
        raise FileNotFoundError(f"no record has results for every method of {methods} in {eval_dir}")
    return sorted(common)[:n]
