"""Generation entropy GE as the official code computes it (experiments/py/eval_utils_counterfact.py
of kmeng01/rome, commit 0874014): compute_n_gram_entropy = mean(2/3 · H2, 4/3 · H3) in bits over
the n-grams of nltk.word_tokenize(text), which splits sentences with NLTK's English Punkt model
first and word-tokenizes each sentence (the tokens are concatenated, so n-grams run across
sentence boundaries); n_gram_entropy = the arithmetic mean over texts. The expected token lists
and values below are written out by hand: Punkt ends a sentence at a full stop after a word that
is not in its English abbreviation list ("I", "B.C", "D.I.Y", "Mass"), and after a known
abbreviation when the next word is one of its frequent sentence starters ("Feb." before "He"),
and keeps a closing quotation mark with its sentence; nltk's word tokenizer detaches a full
stop only at the end of the string it is given."""
from __future__ import annotations

import math

import pytest

from rome.evaluation.fluency import (
    PUNKT_ENGLISH_SHA256,
    SentenceSplitterError,
    generation_entropy,
    punkt_english_digest,
    sentences,
    text_entropy,
    word_tokens,
)


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
    assert word_tokens(text, "none")[2] == "sat."
    assert text_entropy(text, splitter="none") == pytest.approx(official(H([2, 1, 1, 1, 1]), math.log2(5)))
    assert text_entropy(text) != pytest.approx(text_entropy(text, splitter="none"))


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


# The cases where NLTK's Punkt and spaCy's rule-based sentencizer split differently:
# (text, Punkt's sentences, the word tokens of nltk.word_tokenize, spaCy's sentences)
PUNKT_CASES = [
    # a sentence ending in an initial ("i" is not in Punkt's abbreviation list)
    ("He fought in World War I. The war ended.",
     ["He fought in World War I.", "The war ended."],
     ["He", "fought", "in", "World", "War", "I", ".", "The", "war", "ended", "."],
     ["He fought in World War I. The war ended."]),
    # initialisms that are not in the list ("b.c", "d.i.y"): an ordinary sentence end
    ("It was built in 300 B.C. The city fell.",
     ["It was built in 300 B.C.", "The city fell."],
     ["It", "was", "built", "in", "300", "B.C", ".", "The", "city", "fell", "."],
     ["It was built in 300 B.C. The city fell."]),
    ("The show is called D.I.Y. It airs weekly.",
     ["The show is called D.I.Y.", "It airs weekly."],
     ["The", "show", "is", "called", "D.I.Y", ".", "It", "airs", "weekly", "."],
     ["The show is called D.I.Y. It airs weekly."]),
    # an abbreviation Punkt does not know ("mass"; spaCy's tokenizer exceptions know "Mass.")
    ("She lives in Boston, Mass. She works there.",
     ["She lives in Boston, Mass.", "She works there."],
     ["She", "lives", "in", "Boston", ",", "Mass", ".", "She", "works", "there", "."],
     ["She lives in Boston, Mass. She works there."]),
    # a known abbreviation ("feb") before a sentence starter ("He")
    ("It opened on Feb. He came later.",
     ["It opened on Feb.", "He came later."],
     ["It", "opened", "on", "Feb", ".", "He", "came", "later", "."],
     ["It opened on Feb. He came later."]),
    # a full stop followed by a quotation mark: spaCy gives the next sentence's opening quote
    # to this one, so the full stop is no longer at the end of its string
    ('It was "big." "Really?" I asked.',
     ['It was "big."', '"Really?"', "I asked."],
     ["It", "was", "``", "big", ".", "''", "``", "Really", "?", "''", "I", "asked", "."],
     ['It was "big." "', 'Really?"', "I asked."]),
]


@pytest.mark.parametrize("text,punkt_sents,tokens,spacy_sents", PUNKT_CASES)
def test_punkt_is_the_default_splitter(text, punkt_sents, tokens, spacy_sents):
    assert sentences(text) == punkt_sents
    assert word_tokens(text) == tokens
    # every case's tokens are distinct n-grams: H2 = log2(#bigrams), H3 = log2(#trigrams)
    n = len(tokens)
    assert len(set(zip(tokens, tokens[1:]))) == n - 1 and len(set(zip(tokens, tokens[1:], tokens[2:]))) == n - 2
    assert text_entropy(text) == pytest.approx(official(math.log2(n - 1), math.log2(n - 2)), rel=1e-12)
    # the earlier splitter stays available as a setting, and gives another value here
    assert sentences(text, "spacy") == spacy_sents
    assert text_entropy(text, splitter="spacy") != pytest.approx(text_entropy(text))


def test_world_war_i_with_the_spacy_splitter_keeps_the_initial_with_its_stop():
    text = "He fought in World War I. The war ended."
    # one sentence: He fought in World War I. The war ended . -> 10 tokens, 9 bigrams, 8 trigrams
    assert word_tokens(text, "spacy") == ["He", "fought", "in", "World", "War", "I.", "The", "war", "ended", "."]
    assert text_entropy(text, splitter="spacy") == pytest.approx(official(math.log2(9), 3.0), rel=1e-12)
    # Punkt: 11 tokens (above) -> 10 bigrams, 9 trigrams
    assert generation_entropy([text]) - generation_entropy([text], "spacy") == pytest.approx(
        official(math.log2(10), math.log2(9)) - official(math.log2(9), 3.0), rel=1e-12)


def test_known_abbreviations_inside_a_sentence_stay_with_their_word():
    text = "Dr. Smith moved to the U.S. in Feb. 1990. He liked it!"
    assert sentences(text) == ["Dr. Smith moved to the U.S. in Feb. 1990.", "He liked it!"]
    assert word_tokens(text) == ["Dr.", "Smith", "moved", "to", "the", "U.S.", "in", "Feb.", "1990", ".",
                                 "He", "liked", "it", "!"]


def test_punkt_tables_are_the_pinned_ones_and_unknown_splitters_are_refused():
    from punkt.data import english

    assert punkt_english_digest(english) == PUNKT_ENGLISH_SHA256
    # a few entries of NLTK's English punkt_tab tables
    assert {"dr", "u.s", "feb"} <= english.ABBREV_TYPES
    assert not {"i", "b.c", "d.i.y", "mass"} & english.ABBREV_TYPES
    assert {"he", "the", "it"} <= english.SENT_STARTERS
    with pytest.raises(SentenceSplitterError, match="unknown GE sentence splitter"):
        sentences("A b.", "moses")


def test_the_splitter_is_a_generation_setting_in_the_cache_key():
    import argparse

    from rome.evaluation.cli import add_arguments
    from rome.evaluation.counterfact_eval import GenerationSettings
    from rome.evaluation.runner import EvalSettings

    punkt = EvalSettings(generation=GenerationSettings()).as_json()
    spacy = EvalSettings(generation=GenerationSettings(ge_sentences="spacy")).as_json()
    assert punkt["generation"]["ge_sentences"] == "punkt" and spacy["generation"]["ge_sentences"] == "spacy"
    assert punkt != spacy  # run_key hashes as_json(): record files of the other splitter are recomputed
    with pytest.raises(SentenceSplitterError):
        GenerationSettings(ge_sentences="moses")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    base = ["--method", "none", "--records", "r.json", "--out-dir", "o"]
    assert parser.parse_args(base).ge_sentences == "punkt"
    assert parser.parse_args(base + ["--ge-sentences", "spacy"]).ge_sentences == "spacy"
