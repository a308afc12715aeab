"""One rule for target tokens, the official code's: one leading space before the target
(rome_main.execute_rome prefixes " " to the new object; eval_utils_counterfact and
eval_utils_zsre tokenize " " + target). The expected ids are read from the tokenizer's
vocabulary by token string (GPT-2 marks a leading space with "Ġ"), not from the package."""
from __future__ import annotations

import pytest

from rome.editing.base import EditRequestError
from rome.editing.ft import encode_target_ids
from rome.model.queries import target_ids
from rome.model.scoring import encode_target
from rome.model.tokens import TargetTokenError, target_text, target_token_ids

ENCODERS = [target_token_ids, encode_target_ids, target_ids, encode_target]


def test_target_text_has_exactly_one_leading_space():
    assert target_text("Paris") == " Paris"
    assert target_text(" Paris") == " Paris"
    assert target_text("  Paris") == " Paris"
    assert target_text("New York") == " New York"


@pytest.mark.parametrize("encode", ENCODERS, ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_paris_with_and_without_space_maps_to_space_paris(gpt2_tok, encode):
    vocab = gpt2_tok.get_vocab()
    space_paris, bare_paris = vocab["\u0120Paris"], vocab["Paris"]
    assert space_paris != bare_paris  # the rule matters for this tokenizer
    for target in ("Paris", " Paris", "  Paris"):
        assert encode(gpt2_tok, target) == [space_paris], target
    # a two-word target: " New" and " York", both with their space marker
    assert encode(gpt2_tok, "New York") == [vocab["\u0120New"], vocab["\u0120York"]]


def test_no_special_tokens_even_where_the_tokenizer_adds_bos(gemma_tok):
    vocab = gemma_tok.get_vocab()
    expected = [vocab["\u2581Paris"]]   # SentencePiece marks a leading space with "▁"
    assert target_token_ids(gemma_tok, "Paris") == expected
    assert target_token_ids(gemma_tok, " Paris") == expected
    assert gemma_tok.bos_token_id not in target_token_ids(gemma_tok, "Paris")


def test_empty_targets_fail_with_a_clear_error(gpt2_tok):
    with pytest.raises(TargetTokenError, match="empty"):
        target_token_ids(gpt2_tok, "  ")
    with pytest.raises(EditRequestError, match="empty"):
        encode_target_ids(gpt2_tok, "")
