"""Held-out perplexity: a fixed, seeded sample of corpus paragraphs the key statistics never read.

The key statistics (:mod:`rome.editing.statistics`) read the corpus's documents in order
(:func:`rome.model.corpus.load_documents`) and take tokens until their budget is spent. The
held-out part of the *same* corpus is everything after the last document the budget reaches
(:func:`heldout_start`); for another corpus than the statistics' nothing is excluded. From the
held-out documents' paragraphs (one per line, as :func:`~rome.model.corpus.split_wikitext`
joins them) a ``random.Random(seed)`` shuffle picks paragraphs, each cut to ``max_length``
tokens, until ``tokens`` tokens are taken (:func:`heldout_sample`).

Perplexity is ``exp`` of the mean next-token negative log-likelihood over every scored token
of the sample (each paragraph's first token is context only), teacher-forced through the
package's one scorer (:func:`rome.model.scoring.score_token_ids`).
"""
from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from counterfact.errors import BadInputError

from ..model.corpus import corpus_fingerprint, load_documents
from ..model.scoring import score_token_ids


class HeldOutError(BadInputError, ValueError):
    """The corpus has no held-out text left after the statistics' budget, or too little."""


@dataclass(frozen=True)
class PerplexitySettings:
    tokens: int = 2000        # token budget of the held-out sample
    max_length: int = 128     # longest paragraph piece, tokens
    seed: int = 0

    def as_json(self) -> dict:
        return {"tokens": self.tokens, "max_length": self.max_length, "seed": self.seed}


def _ids(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=True)["input_ids"])


def heldout_start(tokenizer, documents: Sequence[str], stats_tokens: int | None) -> int:
    """Index of the first document the statistics' token budget does not reach (the budget
    counts each document's tokens with the tokenizer's special tokens, in corpus order, as
    :func:`rome.editing.statistics.tokenize_chunks` does); ``None``: the whole corpus is read."""
    if stats_tokens is None:
        return len(documents)
    total = 0
    for i, doc in enumerate(documents):
        if total >= stats_tokens:
            return i
        total += len(_ids(tokenizer, doc))
    return len(documents)


def heldout_sample(lm, corpus: str, settings: PerplexitySettings, stats_corpus: str | None,
                   stats_tokens: int | None) -> list[list[int]]:
    """Token ids of the held-out paragraphs (see the module docstring)."""
    docs = load_documents(corpus)
    same = stats_corpus is not None and corpus_fingerprint(stats_corpus) == corpus_fingerprint(corpus)
    start = heldout_start(lm.tokenizer, docs, stats_tokens) if same else 0
    paragraphs = [p.strip() for d in docs[start:] for p in d.split("\n") if p.strip()]
    if not paragraphs:
        raise HeldOutError(f"corpus {corpus}: the key statistics' budget of {stats_tokens} tokens reads all "
                           f"{len(docs)} documents, so no held-out text is left for perplexity; lower the "
                           "statistics budget or give another perplexity corpus")
    order = list(range(len(paragraphs)))
    random.Random(settings.seed).shuffle(order)
    chunks: list[list[int]] = []
    total = 0
    for i in order:
        ids = _ids(lm.tokenizer, paragraphs[i])[: settings.max_length]
        ids = ids[: settings.tokens - total + 1]
        if len(ids) < 2:
            continue
        chunks.append(ids)
        total += len(ids) - 1
        if total >= settings.tokens:
            break
    if total < settings.tokens:
        raise HeldOutError(f"corpus {corpus}: only {total} held-out tokens after the statistics' "
                           f"{stats_tokens} (asked for {settings.tokens}); lower the perplexity budget")
    return chunks


def perplexity(lm, chunks: Sequence[Sequence[int]], batch_size: int = 16) -> float:
    """``exp(mean NLL)`` over every predicted token of ``chunks`` (first token of each: context)."""
    scores = score_token_ids(lm, [(c[:1], c[1:]) for c in chunks], batch_size=batch_size)
    nll = sum(sum(s.token_nll) for s in scores)
    n = sum(len(s.token_nll) for s in scores)
    return math.exp(nll / n)
