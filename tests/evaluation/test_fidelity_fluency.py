"""Generation entropy GE as the official code computes it (experiments/py/eval_utils_counterfact.py
of kmeng01/rome): compute_n_gram_entropy = mean(2/3 · H2, 4/3 · H3) in bits over the n-grams of
nltk.word_tokenize(text), which splits sentences first and word-tokenizes each sentence (the
tokens are concatenated, so n-grams run across sentence boundaries); n_gram_entropy = the
arithmetic mean over texts. The expected values below are counted by hand."""
from __future__ import annotations

import math

import pytest

from rome.evaluation.fluency import generation_entropy, sentences, text_entropy, word_tokens


def H(counts):
    total = sum(counts)
    return -sum(c / total * math.log2(c / total) for c in counts)


def official(h2, h3):
    return (2 / 3 * h2 + 4 / 3 * h3) / 2


def test_two_sentences_with_a_repeated_bigram():
    text = "The cat sat. The cat ran."
    # per sentence: The cat sat . | The cat ran .  (8 tokens)
    assert word_tokens(text) == ["The", "cat", "sat", ".", "The", "cat", "ran", "."]
    # bigrams (7): (The,cat) x2, (cat,sat), (sat,.), (.,The), (cat,ran), (ran,.)
    h2 = H([2, 1, 1, 1, 1, 1])
    # trigrams (6), all distinct
    h3 = math.log2(6)
    assert text_entropy(text) == pytest.approx(official(h2, h3), rel=1e-12)
    # the whole text at once keeps "sat." as one token: 7 tokens, 6 bigrams (The,cat) x2 + 4,
    # 5 distinct trigrams -- a different value
    assert word_tokens(text, sentence_split=False)[2] == "sat."
    assert text_entropy(text, sentence_split=False) == pytest.approx(official(H([2, 1, 1, 1, 1]), math.log2(5)))
    assert text_entropy(text) != pytest.approx(text_entropy(text, sentence_split=False))


def test_abbreviation_does_not_end_a_sentence():
    text = "Dr. Smith lives in Paris. He is a doctor."
    assert sentences(text) == ["Dr. Smith lives in Paris.", "He is a doctor."]
    # Dr. Smith lives in Paris . He is a doctor .  -> 11 tokens, 10 distinct bigrams, 9 distinct trigrams
    assert len(word_tokens(text)) == 11
    assert text_entropy(text) == pytest.approx(official(math.log2(10), math.log2(9)), rel=1e-12)


def test_three_sentences_and_the_mean_over_texts():
    a = "It is big. It is big! It is?"
    # It is big . It is big ! It is ?  (11 tokens)
    assert word_tokens(a) == ["It", "is", "big", ".", "It", "is", "big", "!", "It", "is", "?"]
    # bigrams (10): (It,is) x3, (is,big) x2, (big,.), (.,It), (big,!), (!,It), (is,?)
    h2 = H([3, 2, 1, 1, 1, 1, 1])
    # trigrams (9): (It,is,big) x2, (is,big,.), (big,.,It), (.,It,is), (is,big,!), (big,!,It), (!,It,is), (It,is,?)
    h3 = H([2, 1, 1, 1, 1, 1, 1, 1])
    assert text_entropy(a) == pytest.approx(official(h2, h3), rel=1e-12)
    b = "Paris is nice. Rome is old."
    # Paris is nice . Rome is old . : 7 distinct bigrams, 6 distinct trigrams
    gb = official(math.log2(7), math.log2(6))
    assert generation_entropy([a, b]) == pytest.approx((official(h2, h3) + gb) / 2, rel=1e-12)


def test_short_text_has_zero_entropy():
    assert text_entropy("Hi") == 0.0  # no bigram, no trigram (official: empty sums are 0)
