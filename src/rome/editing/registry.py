"""Editing methods by name: the one place to add a method.

``METHODS`` maps a method name (as given to ``--method``) to a factory
``factory(lm, hparams_overrides, options) -> Editor``. ``options`` is the parsed
command-line namespace (statistics settings and the like; use ``getattr`` with a
default for anything method-specific). To add a method (FT, FT+L, AttnEdit, KN, KE,
MEND, ...), write its factory in its own module and add one entry here:

    def _ft(lm, overrides, options):
        from .ft import FTEditor
        return FTEditor(load_hparams("ft", lm.name, overrides))

    METHODS["ft"] = _ft

Factories import their method lazily, so listing methods stays cheap.
"""
from __future__ import annotations

from typing import Any, Callable

from .hparams import load_hparams

Factory = Callable[[Any, dict, Any], Any]


def _rome(lm, overrides: dict, options) -> Any:
    from .rome import ROMEEditor
    from .statistics import StatsProvider

    hp = load_hparams("rome", lm.name, overrides)
    provider = StatsProvider.from_hparams(
        hp, cache_dir=getattr(options, "stats_dir", None), corpus=getattr(options, "corpus", None),
        tokens=getattr(options, "stats_tokens", None),
    )
    return ROMEEditor(hp, provider, templates_dir=getattr(options, "templates_dir", None))


METHODS: dict[str, Factory] = {
    "rome": _rome,
}


def make_editor(method: str, lm, overrides: dict | None = None, options=None):
    """The editor for ``method`` (a key of :data:`METHODS`)."""
    try:
        factory = METHODS[method]
    except KeyError:
        raise KeyError(f"unknown editing method {method!r}; available: {', '.join(sorted(METHODS))}") from None
    return factory(lm, dict(overrides or {}), options)
