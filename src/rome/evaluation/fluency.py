"""Generation entropy GE (fluency; paper section 3.2 and Appendix, the official ``n_gram_entropy``).

Per text: the Shannon entropies (log 2) of its word-bigram and word-trigram frequency
distributions, combined as ``mean(2/3 · H2, 4/3 · H3) = (2/3 · H2 + 4/3 · H3) / 2``
(the official ``compute_n_gram_entropy``); per record, the mean over its texts. Summaries
multiply by 100 (Table 4 prints e.g. 626.6).

Word tokenization follows the official ``nltk.word_tokenize``: split the text into sentences,
word-tokenize each sentence with nltk's :class:`~nltk.tokenize.NLTKWordTokenizer` (the
improved Treebank tokenizer ``word_tokenize`` uses), and concatenate the tokens (n-grams run
across sentence boundaries, as there). ``word_tokenize`` splits sentences with the ``punkt``
model, a download; here spaCy's rule-based ``sentencizer`` on a blank English pipeline
splits them (packaged, nothing downloaded; its tokenizer exceptions keep abbreviations such
as "Dr." or "U.S." inside a sentence, as punkt's trained abbreviation list does). The
sentence split matters because the Treebank tokenizer detaches a full stop only at the end
of the string it is given: without it, "Paris. He" keeps the token "Paris.".
``sentence_split=False`` gives the package's earlier whole-text tokenization.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

from replkit.sentences import sentencizer

NGRAM_WEIGHTS = {2: 2.0 / 3.0, 3: 4.0 / 3.0}


@lru_cache(maxsize=1)
def _word_tokenizer():
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer()


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` (spaCy's rule-based sentencizer), stripped, non-empty."""
    return [s.text.strip() for s in sentencizer()(text).sents if s.text.strip()]


def word_tokens(text: str, sentence_split: bool = True) -> list[str]:
    """Word tokens as ``nltk.word_tokenize`` makes them: per sentence, concatenated."""
    tok = _word_tokenizer()
    parts = sentences(text) if sentence_split else [text]
    return [t for part in parts for t in tok.tokenize(part)]


def ngram_entropy_of_tokens(tokens: Sequence[str], n: int) -> float:
    """Entropy (bits) of the frequency distribution of the ``n``-grams of ``tokens``."""
    grams = Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    total = sum(grams.values())
    if total == 0:
        return 0.0
    return -sum((c / total) * math.log2(c / total) for c in grams.values())


def text_entropy(text: str, weights: dict[int, float] = NGRAM_WEIGHTS, sentence_split: bool = True) -> float:
    """``mean_n(w_n · H_n)`` over the n-gram orders (default: (2/3 H2 + 4/3 H3) / 2)."""
    tokens = word_tokens(text, sentence_split)
    return sum(w * ngram_entropy_of_tokens(tokens, n) for n, w in weights.items()) / len(weights)


def generation_entropy(texts: Iterable[str], sentence_split: bool = True) -> float:
    """GE of one record: mean of :func:`text_entropy` over its generated texts (unscaled)."""
    vals = [text_entropy(t, sentence_split=sentence_split) for t in texts]
    if not vals:
        raise ValueError("generation_entropy needs at least one text")
    return sum(vals) / len(vals)
