"""Generation entropy GE (fluency, SPEC 8).

Per text: the Shannon entropies (log 2) of its word-bigram and word-trigram frequency
distributions, combined as ``(2/3 · H2 + 4/3 · H3) / 2``; per record, the mean over its
texts. Summaries multiply by 100 (Table 4 prints e.g. 626.6).

Word tokenization: the paper used ``nltk.word_tokenize``, which needs the ``punkt``
sentence model (a download). We use nltk's :class:`~nltk.tokenize.NLTKWordTokenizer`
(the improved Treebank tokenizer that ``word_tokenize`` applies to each sentence) on the
whole text, which needs no data files. The one difference: without the sentence split,
a full stop inside the text stays attached to its word (``"world."``) unless it ends the
text, so a few n-grams differ from the paper's.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Iterable, Sequence

NGRAM_WEIGHTS = {2: 2.0 / 3.0, 3: 4.0 / 3.0}


def word_tokens(text: str) -> list[str]:
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer().tokenize(text)


def ngram_entropy_of_tokens(tokens: Sequence[str], n: int) -> float:
    """Entropy (bits) of the frequency distribution of the ``n``-grams of ``tokens``."""
    grams = Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    total = sum(grams.values())
    if total == 0:
        return 0.0
    return -sum((c / total) * math.log2(c / total) for c in grams.values())


def text_entropy(text: str, weights: dict[int, float] = NGRAM_WEIGHTS) -> float:
    """``mean_n(w_n · H_n)`` over the n-gram orders (default: (2/3 H2 + 4/3 H3) / 2)."""
    tokens = word_tokens(text)
    return sum(w * ngram_entropy_of_tokens(tokens, n) for n, w in weights.items()) / len(weights)


def generation_entropy(texts: Iterable[str]) -> float:
    """GE of one record: mean of :func:`text_entropy` over its generated texts (unscaled)."""
    vals = [text_entropy(t) for t in texts]
    if not vals:
        raise ValueError("generation_entropy needs at least one text")
    return sum(vals) / len(vals)
