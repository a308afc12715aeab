"""token_probs: the softmax probability of one token, blockwise, equals the model's own."""
from __future__ import annotations

import pytest
import torch

from rome.model.hooks import Trace
from rome.model.vocab_projection import token_probs


def _last_states_and_probs(lm, text):
    ids = lm.tokenizer([text, text + " and more"], return_tensors="pt", padding=True)["input_ids"][:, :4]
    with torch.no_grad(), Trace(lm.model, lm.spec.final_norm) as tr:
        logits = lm.model(input_ids=ids).logits
    return tr.output.reshape(-1, tr.output.shape[-1]), torch.softmax(logits.float(), -1).reshape(-1, logits.shape[-1])


# Gemma's head soft-caps its logits when configured; the tiny models' logits are small, so the cap is too
@pytest.mark.parametrize("fixture,cap", [("tiny_gpt2", None), ("tiny_gemma", None), ("tiny_gemma", 1e-3)])
def test_token_probs_equal_softmax_of_the_models_logits(fixture, cap, request, monkeypatch):
    lm = request.getfixturevalue(fixture)
    if cap is not None:
        monkeypatch.setattr(lm.model.config, "final_logit_softcapping", cap)
    h, probs = _last_states_and_probs(lm, "The Eiffel Tower is in")
    ids = torch.arange(h.shape[0]) * 37 % probs.shape[1]
    # one token for all rows, one per row; rows and blocks that do not divide N and V
    for token, want in ((11, probs[:, 11]), (ids, probs[torch.arange(h.shape[0]), ids])):
        got = token_probs(lm, h, token, rows=3, block=101)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    if cap is not None:  # the cap changes the answer, so it was applied
        plain = torch.softmax(lm.module("unembed")(h).float(), -1)[:, 11]
        assert not torch.allclose(plain, probs[:, 11], rtol=1e-3)


def test_token_probs_of_no_rows_and_bad_ids(tiny_gpt2):
    vocab, hidden = tiny_gpt2.module("unembed").weight.shape
    assert token_probs(tiny_gpt2, torch.zeros(0, hidden), 3).shape == (0,)
    with pytest.raises(ValueError, match=f"token ids must lie in \\[0, {vocab}\\)"):
        token_probs(tiny_gpt2, torch.zeros(2, hidden), vocab)
