"""Finding the editor of a method name: the identity ``none`` here, the rest in the registry.

``none`` (aliases: ``unedited``, ``pre``) is the unedited model: its ``apply`` changes
nothing. Every other name is built by the editing package's method registry
(:mod:`rome.editing.registry`, ``make_editor(method, lm, overrides, options)``).
"""
from __future__ import annotations

import importlib
import re
from typing import Any, Mapping, Sequence

from ..editing.base import EditRequest, EditResult

NONE_ALIASES = {"none", "unedited", "pre", "pre-edit"}


class EditorUnavailableError(RuntimeError):
    """The method registry is missing or does not know the method."""


class IdentityEditor:
    """The unedited model: ``apply`` changes no weight."""

    name = "none"

    def apply(self, lm, requests: Sequence[EditRequest]) -> EditResult:
        return EditResult(method=self.name, originals={}, info={})


def is_unedited(method: str) -> bool:
    return method.lower() in NONE_ALIASES


def method_slug(method: str) -> str:
    """A folder-safe name for a method (``FT+L`` -> ``ft+l``; spaces and slashes -> ``_``)."""
    slug = re.sub(r"[^A-Za-z0-9+._-]", "_", method.strip()).lower() or "method"
    if set(slug) == {"."}:
        from atomicio import UnsafeNameError
        raise UnsafeNameError(f"method {method!r} is not a usable folder name")
    return slug


def build_editor(method: str, lm, overrides: Mapping[str, Any] | None = None, options: Any = None):
    """An :class:`rome.editing.base.Editor` for ``method``.

    ``lm`` is the loaded model; ``options`` (e.g. the CLI namespace: ``stats_dir``, ``corpus``,
    ``stats_tokens``, ``templates_dir``) is passed to the registry's factory
    ``make_editor(method, lm, overrides, options)``. Names are tried as given, then lower-cased.
    """
    if is_unedited(method):
        return IdentityEditor()
    try:
        registry = importlib.import_module("rome.editing.registry")
    except ModuleNotFoundError as err:
        raise EditorUnavailableError(
            f"method {method!r}: the editing registry (rome.editing.registry) is not available in this "
            "version; only 'none' (the unedited model) can be evaluated") from err
    factory = getattr(registry, "make_editor", None)
    if not callable(factory):
        raise EditorUnavailableError(f"rome.editing.registry has no make_editor; cannot build method {method!r}")
    known = getattr(registry, "METHODS", None)
    name = method
    if isinstance(known, Mapping) and method not in known and method.lower() in known:
        name = method.lower()
    try:
        return factory(name, lm, dict(overrides or {}), options)
    except KeyError as err:
        raise EditorUnavailableError(f"method {method!r} is not in the registry: {err.args[0] if err.args else err}") from err


_FOLDER_ALIASES = {"attnedit": "attn", "constrft": "ftl", "unedited": "none", "pre": "none", "preedit": "none"}


def _loose(name: str) -> str:
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    return _FOLDER_ALIASES.get(key, key)


def find_method_folder(eval_dir, method: str):
    """The result folder of ``method`` under ``eval_dir``: its slug, or else the folder whose
    name matches loosely (``FT+L`` finds ``ft-l``, ``AttnEdit`` finds ``attn``)."""
    from pathlib import Path

    root = Path(eval_dir)
    exact = root / method_slug(method)
    if exact.is_dir():
        return exact
    matches = [p for p in sorted(root.iterdir()) if p.is_dir() and _loose(p.name) == _loose(method)] \
        if root.is_dir() else []
    return matches[0] if len(matches) == 1 else exact


def common_case_ids(eval_dir, methods, n: int) -> list[int]:
    """The ``n`` smallest case ids that every method in ``methods`` has a result file for."""
    import re
    from pathlib import Path

    common: set[int] | None = None
    for m in methods:
        folder = find_method_folder(eval_dir, m)
        ids = {int(mt.group(1)) for f in Path(folder).glob("case_*.json")
               if (mt := re.fullmatch(r"case_(\d+)\.json", f.name))} if folder else set()
        common = ids if common is None else common & ids
    if not common:
        raise FileNotFoundError(f"no record has results for every method of {list(methods)} in {eval_dir}")
    return sorted(common)[:n]
