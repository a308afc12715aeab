"""r-ROME's disabling-edit measures (Gupta et al. 2024, official rebuilding-rome code) on hand-made cases."""
from __future__ import annotations

import math

import pytest

from rome.results.disabling import DisablingRule, normalized_entropy, unigram_entropy, update_distance, words


def test_words_follow_the_official_split():
    # lower-cased, full stops removed, split at single spaces: a double space leaves an empty word
    assert words("The cat. The  Dog") == ["the", "cat", "the", "", "dog"]


def test_normalized_entropy_by_hand():
    assert normalized_entropy(["Italy Italy Italy Italy"]) == 0.0          # one distinct word: collapse
    assert normalized_entropy([]) == 0.0
    assert normalized_entropy(["a b"]) == pytest.approx(1.0)               # 1 bit / log2(2)
    assert normalized_entropy(["a a b b", "c c d d"]) == pytest.approx(1.0)  # uniform over 4: 2 bits / 2
    # p = (3/4, 1/4): H = -(0.75 log2 0.75 + 0.25 log2 0.25) = 0.811278..., distinct 2 -> / 1
    h, n = unigram_entropy(["a a a b"])
    assert (round(h, 6), n) == (0.811278, 2)
    assert normalized_entropy(["a a a b"]) == pytest.approx(0.8112781245)
    # p = (1/2, 1/4, 1/4): H = 1.5 bits, / log2(3) = 0.946395...
    assert normalized_entropy(["x. y x z"]) == pytest.approx(1.5 / math.log2(3))


def test_update_distance_is_norm_over_entries():
    assert update_distance(6.0, 3) == 2.0
    with pytest.raises(ValueError):
        update_distance(1.0, 0)


def test_rule_flags_low_entropy_and_norm_blow_up():
    rule = DisablingRule(entropy_below=0.5, norm_factor=10.0, min_history=3)
    hist = {"w": [1e-3, 3e-3, 2e-3]}                                       # median 2e-3
    assert rule.reasons(0.9, {"w": 1.5e-2}, hist) == []                     # 7.5x the median: not
    why = rule.reasons(0.9, {"w": 2.5e-2}, hist)                            # 12.5x: disabling
    assert len(why) == 1 and "|Δ| of w" in why[0]
    assert rule.reasons(0.4, {"w": 1e-3}, hist)[0].startswith("normalised generation entropy 0.400 < 0.5")
    assert len(rule.reasons(0.1, {"w": 1.0}, hist)) == 2
    # too little history: the norm test waits; no entropy measured: only the norm counts
    assert rule.reasons(None, {"w": 1.0}, {"w": [1e-3, 1e-3]}) == []
    assert rule.reasons(None, {"v": 1.0}, hist) == []                       # another matrix: no history


def test_rule_settings_are_checked():
    with pytest.raises(ValueError):
        DisablingRule(entropy_below=1.5)
    with pytest.raises(ValueError):
        DisablingRule(norm_factor=1.0)
