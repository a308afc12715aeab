"""The text corpora the model reads for statistics: ROME's key statistics C and the
causal-tracing noise rules' embedding statistics (``m``, ``t<d>``).

A corpus is a local text file (raw WikiText: split into articles at `` = Title = `` lines;
any other text: split into paragraphs at blank lines) or a pinned ``datasets`` corpus name
(network). The caller gives the file: nothing here looks for data.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from atomicio import sha256_file, sha256_text
from counterfact.corpus import LOCAL_CORPORA
from counterfact.errors import BadInputError
from replkit.wikitext import article_title, is_heading

__all__ = ["HF_CORPORA", "LOCAL_CORPORA", "CorpusNotFoundError", "StatisticsError", "StatsSettingsError", "corpus_fingerprint",
           "load_documents", "resolve_corpus", "split_paragraphs", "split_wikitext"]

# Corpus names that need the network (through ``datasets``): name -> (path, config, split).
HF_CORPORA = {
    "wikitext-103": ("wikitext", "wikitext-103-raw-v1", "train"),
    "wikipedia": ("wikimedia/wikipedia", "20231101.en", "train"),
}


class StatsSettingsError(BadInputError, ValueError):
    """A statistics setting (token budget, length, batch size) that is not a positive integer,
    or a corpus that was not given."""


class StatisticsError(RuntimeError):
    """A corpus that cannot be read, or statistics that cannot be computed."""


class CorpusNotFoundError(BadInputError, StatisticsError):
    """A corpus argument that names neither an existing text file nor a known corpus: the
    user's input, so a command line says so on one line and exits with code 2."""


# -- corpus -------------------------------------------------------------------------------

def split_wikitext(text: str) -> list[str]:
    """Articles of a raw WikiText file: split at `` = Title = `` lines; paragraphs joined."""
    docs: list[str] = []
    current: list[str] = []
    for line in text.split("\n"):
        if article_title(line) is not None:
            if current:
                docs.append("\n".join(current))
            current = []
            continue
        line = line.strip()
        if line and not is_heading(line):  # drop sub-headings (" = = Career = = ")
            current.append(line)
    if current:
        docs.append("\n".join(current))
    return docs


def split_paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def resolve_corpus(corpus: str | os.PathLike | None) -> tuple[str, str]:
    """``(kind, location)`` of a corpus argument: ``("file", path)`` or ``("hf", name)``."""
    if corpus is None:
        raise StatsSettingsError("no corpus given for the statistics: pass a text file "
                                 "(command line: --corpus PATH or $ROME_SHARED_DATA for the local WikiText-2)")
    corpus = str(corpus)
    if corpus in LOCAL_CORPORA:
        raise StatsSettingsError(
            f"corpus {corpus!r} names the local WikiText-2 copy, whose file the caller must give "
            "(command line: --corpus PATH or $ROME_SHARED_DATA)"
        )
    if corpus in HF_CORPORA:
        return "hf", corpus
    if Path(corpus).is_file():
        return "file", corpus
    raise CorpusNotFoundError(
        f"corpus {corpus!r} is neither a text file nor a known corpus name "
        f"({', '.join(sorted(HF_CORPORA))})"
    )


def corpus_fingerprint(corpus: str | os.PathLike | None) -> str:
    """sha256 of a corpus file, or of the pinned dataset coordinates for a named corpus."""
    kind, where = resolve_corpus(corpus)
    if kind == "file":
        return sha256_file(where)
    return sha256_text(repr(HF_CORPORA[where]))


def load_documents(corpus: str | os.PathLike | None, max_documents: int | None = None) -> list[str]:
    """The documents of a corpus, in a fixed order (see the module docstring)."""
    kind, where = resolve_corpus(corpus)
    if kind == "file":
        from atomicio import read_utf8
        text = read_utf8(where)
        docs = split_wikitext(text) if any(article_title(l) is not None for l in text[:5000].split("\n")) else split_paragraphs(text)
    else:
        try:
            import datasets
        except ImportError as err:  # pragma: no cover
            raise StatisticsError("corpus needs the 'datasets' package") from err
        path, config, split = HF_CORPORA[where]
        try:
            ds = datasets.load_dataset(path, config, split=split, streaming=True)
        except Exception as err:  # offline or unavailable
            raise StatisticsError(
                f"corpus {where!r} could not be loaded through datasets ({type(err).__name__}: {err}); "
                "offline, pass --corpus with a local text file (e.g. the WikiText-2 copy)"
            ) from err
        docs = []
        for row in ds:
            t = row.get("text", "").strip()
            if t:
                docs.append(t)
            if max_documents is not None and len(docs) >= max_documents:
                break
    if max_documents is not None:
        docs = docs[:max_documents]
    if not docs:
        raise StatisticsError(f"corpus {where}: no text found")
    return docs
