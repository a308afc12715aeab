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

from collections.abc import Callable
from typing import Any

from .hparams import MEMITHparams, ROMEHparams, load_hparams

Factory = Callable[[Any, dict, Any], Any]


def _required_folder(options, name: str, option: str) -> str:
    """A folder the caller must give (the library guesses no workspace paths)."""
    value = getattr(options, name, None)
    if not value:
        raise ValueError(f"ROME needs {option} (a folder for its cached {name.split('_')[0]})")
    return str(value)


def _rome(lm, overrides: dict, options) -> Any:
    from .rome import ROMEEditor
    from .statistics import StatsProvider

    hp = ROMEHparams.coerce(load_hparams("rome", lm.name, overrides))
    provider = StatsProvider.from_hparams(
        hp, cache_dir=_required_folder(options, "stats_dir", "--stats-dir"), corpus=getattr(options, "corpus", None),
        tokens=getattr(options, "stats_tokens", None), local_corpus=getattr(options, "local_corpus", None),
    )
    return ROMEEditor(hp, provider, templates_dir=getattr(options, "templates_dir", None))


def _rome_family(method: str):
    """r-ROME (ROMEEditor with its own defaults), MEMIT and AlphaEdit: the options of ``rome``."""
    def factory(lm, overrides: dict, options) -> Any:
        from .statistics import StatsProvider

        hp: Any = load_hparams(method, lm.name, overrides)  # RROMEHparams or MEMITHparams (a subclass)
        provider = StatsProvider.from_hparams(
            hp, cache_dir=_required_folder(options, "stats_dir", "--stats-dir"), corpus=getattr(options, "corpus", None),
            tokens=getattr(options, "stats_tokens", None), local_corpus=getattr(options, "local_corpus", None),
            prefetch_layers=list(hp.layers) if isinstance(hp, MEMITHparams) else [],
        )
        if method == "r-rome":
            from .rome import ROMEEditor
            return ROMEEditor(hp, provider, templates_dir=getattr(options, "templates_dir", None), name=method)
        from .memit import AlphaEditEditor, MEMITEditor
        cls = AlphaEditEditor if method == "alphaedit" else MEMITEditor
        return cls(hp, provider, templates_dir=getattr(options, "templates_dir", None))

    return factory


def _fine_tuning(method: str, maker: str):
    def factory(lm, overrides: dict, options) -> Any:
        from importlib import import_module

        module, func = maker.rsplit(".", 1)
        return getattr(import_module(f"rome.editing.{module}"), func)(load_hparams(method, lm.name, overrides))

    return factory


def _hypernet(method: str, variant: str):
    def factory(lm, overrides: dict, options) -> Any:
        from .hypernet import HypernetEditor

        kw = {}
        if getattr(options, "hypernet_dir", None):
            kw["hypernet_dir"] = options.hypernet_dir
        if getattr(options, "hypernet_checkpoint", None):
            kw["checkpoint"] = options.hypernet_checkpoint
        return HypernetEditor(method=method, variant=variant, hparams=load_hparams(method, lm.name, overrides), **kw)

    return factory


METHODS: dict[str, Factory] = {
    "rome": _rome,
    "r-rome": _rome_family("r-rome"),
    "memit": _rome_family("memit"),
    "alphaedit": _rome_family("alphaedit"),
    "ft": _fine_tuning("ft", "ft.make_ft"),
    "ft-l": _fine_tuning("ft-l", "ft.make_ft_l"),
    "attn": _fine_tuning("attn", "attn_edit.make_attn_edit"),
    "kn": _fine_tuning("kn", "kn.make_kn"),
    **{
        f"{m}{suffix}": _hypernet(m, variant)
        for m in ("ke", "mend")
        for suffix, variant in (("", "plain"), ("-cf", "cf"), ("-zsre", "zsre"))
    },
}


def make_editor(method: str, lm, overrides: dict | None = None, options=None):
    """The editor for ``method`` (a key of :data:`METHODS`)."""
    try:
        factory = METHODS[method]
    except KeyError:
        raise KeyError(f"unknown editing method {method!r}; available: {', '.join(sorted(METHODS))}") from None
    return factory(lm, dict(overrides or {}), options)
