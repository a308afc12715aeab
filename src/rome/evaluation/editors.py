"""Finding the editor of a method name: the identity ``none`` here, the rest in the registry.

``none`` (aliases: ``unedited``, ``pre``) is the unedited model: its ``apply`` changes
nothing. Every other name is built by the editing package's method registry
(:mod:`rome.editing.registry`, ``make_editor(method, lm, overrides, options)``).
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from ..editing.base import EditRequest, EditResult
from ..results.layout import is_unedited


class EditorUnavailableError(RuntimeError):
    """The method registry is missing or does not know the method."""


class IdentityEditor:
    """The unedited model: ``apply`` changes no weight."""

    name = "none"

    def apply(self, lm, requests: Sequence[EditRequest]) -> EditResult:
        return EditResult(method=self.name, originals={}, info={})


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
