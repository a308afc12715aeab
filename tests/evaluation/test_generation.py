"""The package's own sampling loop: padding, positions, length, and the fast projection."""
from __future__ import annotations

import pytest
import torch

from rome.evaluation.generation import _never_sampled, sample_batch
from rome.scoring import encode_prompt
from rome.vocab_projection import VocabProjection, head_logits

PROMPTS = ["The mother tongue of Danielle Darrieux is", "Hi", "Apple's iPhone was developed by the company"]


@pytest.mark.parametrize("fixture", ["tiny_gpt2", "tiny_gemma"])
def test_top1_sampling_matches_greedy_generate_in_any_batch(fixture, request):
    """top_k=1 is greedy: each prompt gives Hugging Face's greedy continuation (EOS banned
    as with min_new_tokens), alone or left-padded in a batch with longer prompts."""
    lm = request.getfixturevalue(fixture)
    enc = [encode_prompt(lm.tokenizer, p) for p in PROMPTS]
    batched = sample_batch(lm, enc, 6, top_k=1, seed=0)
    for e, got in zip(enc, batched):
        assert sample_batch(lm, [e], 6, top_k=1, seed=5)[0] == got
        ids = torch.tensor([e])
        ref = lm.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                max_new_tokens=6, min_new_tokens=6, pad_token_id=lm.tokenizer.pad_token_id)
        assert ref[0, len(e):].tolist() == got
    assert all(len(s) == 6 for s in batched)


def test_sampling_never_draws_end_of_sequence(tiny_gpt2):
    eos = _never_sampled(tiny_gpt2)
    assert tiny_gpt2.tokenizer.eos_token_id in eos
    out = sample_batch(tiny_gpt2, [encode_prompt(tiny_gpt2.tokenizer, "Hi")] * 4, 30, top_k=50, seed=1)
    assert not any(t in eos for row in out for t in row)


@pytest.mark.parametrize("fixture", ["tiny_gpt2", "tiny_gemma"])
def test_vocab_projection_equals_the_model_head(fixture, request):
    lm = request.getfixturevalue(fixture)
    h = torch.randn(5, lm.model.config.hidden_size)
    proj = VocabProjection(lm, chunk=7)  # a chunk that does not divide the vocabulary
    assert torch.allclose(proj(h), head_logits(lm, h), atol=1e-5)
