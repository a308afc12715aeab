"""Sentences from a local text corpus (WikiText-style raw text), split with spaCy.

Used for the unrelated sentence that precedes each paraphrase prompt. spaCy's
rule-based ``sentencizer`` on a blank English pipeline is used (no model download).
WikiText's tokenisation artefacts (`` @-@ ``, `` , ``, ``<unk>``) are undone or filtered
first, and headings (`` = Title = ``) are skipped.
"""
from __future__ import annotations

import io
import os
import re
from pathlib import Path

from replkit.sentences import sentencizer
from replkit.wikitext import is_heading

from .errors import CorpusError

# Corpus names (e.g. ROME's ``mom2_corpus``) that mean the local WikiText-2 copy, whose file the caller gives.
LOCAL_CORPORA = ("wikitext-2", "local")

_DETOK = [
    (re.compile(r" @([-,.])@ "), r"\1"),
    (re.compile(r" ([,.;:!?%)\]}])"), r"\1"),
    (re.compile(r"([(\[{$]) "), r"\1"),
    (re.compile(r" (n't|'s|'re|'ve|'ll|'d|'m)\b"), r"\1"),
    (re.compile(r"\s+"), " "),
]
_QUOTED = re.compile(r'" ([^"]*?) "')


def detokenize(text: str) -> str:
    """Undo the WikiText tokenisation (``guest @-@ starring`` → ``guest-starring``, ``x , y`` → ``x, y``)."""
    text = _QUOTED.sub(r'"\1"', text)
    for pattern, repl in _DETOK:
        text = pattern.sub(repl, text)
    return text.strip()


def corpus_paragraphs(path: str | os.PathLike) -> list[str]:
    """Non-heading, non-empty lines of a raw corpus file, detokenised, in file order."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"text corpus not found: {path} (needed for the sentences that prefix "
                          "paraphrase prompts; pass --corpus, config key paths.corpus)")
    out = []
    from atomicio import read_utf8

    for line in io.StringIO(read_utf8(path), newline=None):  # as open() iterates (universal newlines)
        if not line.strip() or is_heading(line):
            continue
        out.append(detokenize(line))
    if not out:
        raise CorpusError(f"text corpus {path} has no paragraphs")
    return out


def split_sentences(paragraphs: list[str]) -> list[str]:
    """All sentences of the paragraphs, in order (spaCy rule-based sentencizer)."""
    nlp = sentencizer()
    out: list[str] = []
    for doc in nlp.pipe(paragraphs, batch_size=256):
        out.extend(s.text.strip() for s in doc.sents if s.text.strip())
    return out


def usable_sentence(s: str, min_words: int = 5, max_words: int = 30) -> bool:
    """A self-contained prefix sentence: 5-30 words, starts upper-case, ends with . ! or ?,
    no ``<unk>``, no braces (they would clash with templates), balanced quotes."""
    words = s.split()
    return (min_words <= len(words) <= max_words and s[0].isupper() and s[-1] in ".!?"
            and "<unk>" not in s and "{" not in s and "}" not in s and s.count('"') % 2 == 0
            and "=" not in s)


def load_sentences(path: str | os.PathLike, min_words: int = 5, max_words: int = 30) -> list[str]:
    """Distinct usable sentences of a corpus file, in first-occurrence order (deterministic)."""
    sentences = split_sentences(corpus_paragraphs(path))
    out = list(dict.fromkeys(s for s in sentences if usable_sentence(s, min_words, max_words)))
    if not out:
        raise CorpusError(f"text corpus {path} has no usable sentences")
    return out
