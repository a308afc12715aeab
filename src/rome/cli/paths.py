"""Default folders and files of the ``rome`` command lines: the one place they are decided.

The library (everything that is not a command-line module) never guesses a location: each
function takes the folder or file it needs from its caller. The command lines fill in
what the user left out, here, from the working directory or the environment:

===================  =========================================================  ==========================
what                 default when the option is not given                       options
===================  =========================================================  ==========================
converted models     ``$ROME_MODELS_DIR``, else ``./data/models``               ``--models-dir``
key statistics C     ``./data/stats``                                           ``--stats-dir``, ``--out-dir``
context templates    ``./data/context_templates``                               ``--templates-dir``
known facts          ``$ROME_SHARED_DATA/known_1000.json``                      ``--known-facts``, ``--facts``
WikiText-2 corpus    ``$ROME_SHARED_DATA/wikitext-2/wiki.test.raw``             ``--corpus``
trained KE / MEND    ``./data/hypernets``                                       ``--hypernet-dir``, ``--out-dir``
tracing noise stats  ``./data/tracing/noise``                                   ``--stats-dir`` (tracing)
Fig. 5 sweep         ``./data/sweep``                                           ``--out-dir`` (``rome sweep``)
baseline sweeps      ``./data/baseline_sweeps``                                 ``--out-dir``, ``--sweep-dir``
provenance records   ``./data/provenance``                                      ``--dir``, ``--provenance``
figures             ``./figures``                                              ``--out-dir``, ``--figures``, ``--out``
===================  =========================================================  ==========================

Upstream data (the last two rows) comes only from the option or ``$ROME_SHARED_DATA``; with
neither, the command stops with one line naming both (:class:`MissingInputError`, exit 2).
The workflow always passes every path explicitly.
"""
from __future__ import annotations

import os
from pathlib import Path

from counterfact.corpus import LOCAL_CORPORA
from counterfact.errors import BadInputError

MODELS_ENV = "ROME_MODELS_DIR"
SHARED_ENV = "ROME_SHARED_DATA"
MODELS_DIR = Path("data") / "models"
STATS_DIR = Path("data") / "stats"
TEMPLATES_DIR = Path("data") / "context_templates"
HYPERNETS_DIR = Path("data") / "hypernets"
TRACING_NOISE_DIR = Path("data") / "tracing" / "noise"
SWEEP_DIR = Path("data") / "sweep"
BASELINE_SWEEPS_DIR = Path("data") / "baseline_sweeps"
PROVENANCE_DIR = Path("data") / "provenance"
FIGURES_DIR = Path("figures")
# where each upstream input lies inside $ROME_SHARED_DATA
KNOWN_FACTS = "known_1000.json"
WIKITEXT2 = "wikitext-2/wiki.test.raw"


class MissingInputError(BadInputError, ValueError):
    """An upstream input that was neither given by its option nor found through ``$ROME_SHARED_DATA``."""


def models_dir(explicit: str | os.PathLike | None = None) -> Path:
    """``--models-dir``, else ``$ROME_MODELS_DIR``, else ``./data/models``."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(MODELS_ENV)
    return Path(env) if env else MODELS_DIR


def stats_dir(explicit: str | os.PathLike | None = None) -> Path:
    """``--stats-dir`` (``rome stats``: ``--out-dir``), else ``./data/stats``."""
    return Path(explicit) if explicit else STATS_DIR


def templates_dir(explicit: str | os.PathLike | None = None) -> Path:
    """``--templates-dir``, else ``./data/context_templates``."""
    return Path(explicit) if explicit else TEMPLATES_DIR


def shared_file(explicit: str | os.PathLike | None, relative: str, option: str) -> Path:
    """``explicit`` (the value of ``option``), else ``$ROME_SHARED_DATA/<relative>``; with
    neither, :class:`MissingInputError` naming the option and the variable."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(SHARED_ENV)
    if not env:
        raise MissingInputError(f"no {relative} given: pass {option} PATH or set ${SHARED_ENV} "
                                f"to the folder holding {relative}")
    return Path(env) / relative


def known_facts(explicit: str | os.PathLike | None, option: str = "--known-facts") -> Path:
    """The known-facts file: the option's value, else ``$ROME_SHARED_DATA/known_1000.json``."""
    return shared_file(explicit, KNOWN_FACTS, option)


def corpus(explicit: str | None, option: str = "--corpus") -> str:
    """A corpus option as the library takes it (a text file or a network corpus name):
    ``wikitext-2`` / ``local`` / not given mean the local WikiText-2 copy under ``$ROME_SHARED_DATA``."""
    if explicit and explicit not in LOCAL_CORPORA:
        return explicit
    return str(shared_file(None, WIKITEXT2, option))


def local_corpus() -> str | None:
    """The local WikiText-2 copy under ``$ROME_SHARED_DATA``, or None when the variable is not set
    (for hyperparameters that ask for ``wikitext-2``; the library says what is missing if it is needed)."""
    env = os.environ.get(SHARED_ENV)
    return str(Path(env) / WIKITEXT2) if env else None


def resolve_editing_paths(args) -> None:
    """Fill in the statistics, template and hyper-network folders and the corpus of an editing
    command's namespace (``stats_dir``, ``templates_dir``, ``hypernet_dir``, ``corpus``,
    ``local_corpus``), in place."""
    if hasattr(args, "stats_dir"):
        args.stats_dir = str(stats_dir(args.stats_dir))
    if hasattr(args, "templates_dir"):
        args.templates_dir = str(templates_dir(args.templates_dir))
    if hasattr(args, "hypernet_dir") and not args.hypernet_dir:
        args.hypernet_dir = str(HYPERNETS_DIR)
    if getattr(args, "corpus", None) in LOCAL_CORPORA:
        args.corpus = corpus(args.corpus)
    args.local_corpus = local_corpus()
