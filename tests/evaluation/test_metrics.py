"""Each metric on hand-computed examples."""
from __future__ import annotations

import math

import pytest

from rome.evaluation.fluency import generation_entropy, ngram_entropy_of_tokens, text_entropy, word_tokens
from rome.evaluation.metrics import (
    counterfact_record_metrics,
    harmonic_mean,
    magnitude,
    mean_ci,
    success,
    token_accuracy,
)
from rome.evaluation.summary import aggregate


def nll(p):
    return -math.log(p)


def test_success_counts_ties_as_failures():
    pairs = [{"target_new": nll(0.5), "target_true": nll(0.2)},   # new wins
             {"target_new": nll(0.3), "target_true": nll(0.3)},   # tie
             {"target_new": nll(0.1), "target_true": nll(0.4)}]   # true wins
    assert success(pairs, "target_new") == pytest.approx(1 / 3)
    assert success(pairs, "target_true") == pytest.approx(1 / 3)   # the tie counts for neither
    assert magnitude(pairs, "target_new") == pytest.approx(((0.5 - 0.2) + 0 + (0.1 - 0.4)) / 3)
    assert magnitude(pairs, "target_true") == pytest.approx(((0.2 - 0.5) + 0 + (0.4 - 0.1)) / 3)
    assert success([], "target_new") is None and magnitude([], "target_true") is None
    with pytest.raises(KeyError):
        success(pairs, "new")


def test_neighborhood_metrics_ask_for_the_true_target():
    block = {"rewrite_prompts_probs": [{"target_new": nll(0.6), "target_true": nll(0.1)}],
             "paraphrase_prompts_probs": [{"target_new": nll(0.2), "target_true": nll(0.7)}],
             "neighborhood_prompts_probs": [{"target_new": nll(0.3), "target_true": nll(0.5)}]}
    m = counterfact_record_metrics(block)
    assert (m["ES"], m["PS"], m["NS"]) == (1.0, 0.0, 1.0)
    assert m["EM"] == pytest.approx(0.5) and m["PM"] == pytest.approx(-0.5) and m["NM"] == pytest.approx(0.2)


def test_multi_token_targets_use_mean_per_token_nll():
    # target_new: two tokens with p 0.9 and 0.1 -> mean NLL = -(ln .9 + ln .1)/2, P = sqrt(.09) = 0.3
    new = (nll(0.9) + nll(0.1)) / 2
    true = nll(0.25)  # one token
    m = counterfact_record_metrics({"rewrite_prompts_probs": [{"target_new": new, "target_true": true}],
                                    "paraphrase_prompts_probs": [], "neighborhood_prompts_probs": []})
    assert m["ES"] == 1.0
    assert m["EM"] == pytest.approx(0.3 - 0.25)
    assert m["PS"] is None and m["NS"] is None and m["GE"] is None and m["RS"] is None


def test_harmonic_mean_with_zero_and_known_value():
    assert harmonic_mean([100.0, 0.0, 50.0]) == 0.0
    assert harmonic_mean([100.0, 50.0, 25.0]) == pytest.approx(3 / (1 / 100 + 1 / 50 + 1 / 25))
    assert harmonic_mean([22.2, 24.7, 78.1]) == pytest.approx(30.5, abs=0.1)  # the paper's GPT-2 XL row


def test_ci_formula():
    vals = [0.0, 1.0, 1.0, 0.0]
    m, ci, n = mean_ci(vals)
    assert (m, n) == (0.5, 4)
    assert ci == pytest.approx(1.96 * 0.5 / 2)  # population std 0.5, sqrt(4) = 2
    assert mean_ci([None, 1.0, 3.0])[2] == 2


def test_aggregate_scales_by_100_and_s_is_harmonic():
    per = [{"ES": 1.0, "PS": 0.5, "NS": 1.0, "EM": 0.2, "PM": 0.1, "NM": 0.0, "GE": 6.0, "RS": None},
           {"ES": 1.0, "PS": 1.0, "NS": 0.0, "EM": 0.4, "PM": 0.3, "NM": -0.2, "GE": 6.5, "RS": 0.4}]
    agg = aggregate(per, "counterfact")
    assert agg["ES"]["value"] == 100 and agg["PS"]["value"] == 75 and agg["NS"]["value"] == 50
    assert agg["S"]["value"] == pytest.approx(3 / (1 / 100 + 1 / 75 + 1 / 50))
    assert agg["GE"]["value"] == pytest.approx(625)
    assert agg["RS"] == {"value": pytest.approx(40), "ci": pytest.approx(0), "n": 1}
    assert agg["NS"]["ci"] == pytest.approx(1.96 * 50 / math.sqrt(2))


def test_ngram_entropy_hand_computed():
    # "a b a b": bigrams (a,b),(b,a),(a,b): p = 2/3, 1/3; trigrams (a,b,a),(b,a,b): 1/2 each
    h2 = -(2 / 3 * math.log2(2 / 3) + 1 / 3 * math.log2(1 / 3))
    assert ngram_entropy_of_tokens(["a", "b", "a", "b"], 2) == pytest.approx(h2)
    assert ngram_entropy_of_tokens(["a", "b", "a", "b"], 3) == pytest.approx(1.0)
    assert text_entropy("a b a b") == pytest.approx((2 / 3 * h2 + 4 / 3 * 1.0) / 2)
    assert generation_entropy(["a b a b", "x x x x"]) == pytest.approx((2 / 3 * h2 + 4 / 3) / 4)
    # eight distinct words: 7 bigrams, 6 trigrams, all distinct
    t = "one two three four five six seven eight"
    assert text_entropy(t) == pytest.approx((2 / 3 * math.log2(7) + 4 / 3 * math.log2(6)) / 2)


def test_word_tokens_offline():
    assert word_tokens("He said, don't go.") == ["He", "said", ",", "do", "n't", "go", "."]


def test_token_accuracy():
    assert token_accuracy([[1, 0], [1, 1, 1, 0]]) == pytest.approx((0.5 + 0.75) / 2)
    assert token_accuracy([]) is None


def test_reference_score_identical_and_disjoint():
    from counterfact.reference_texts import fit_tfidf
    from rome.evaluation.consistency import ReferenceModel, tfidf_similarity

    docs = ["paris is the capital of france", "english is spoken in london", "the cat sat on the mat"]
    vocab, idf = fit_tfidf(docs)
    assert tfidf_similarity(docs[0], docs[0], vocab, idf) == pytest.approx(1.0)
    assert tfidf_similarity("paris capital france", "cat sat mat", vocab, idf) == 0.0
    refs = {"P103\tEnglish": [{"subject": "x", "title": "x", "text": docs[1]}]}
    model = ReferenceModel(refs, vocab, idf)
    assert model.score([docs[1]], "P103", "English") == pytest.approx(1.0)
    assert model.score(["cat mat"], "P103", "English") == 0.0
    assert model.score([docs[1]], "P103", "French") is None   # no reference text: missing, not 0
