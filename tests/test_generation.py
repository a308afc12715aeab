"""The one generation path (rome.model.generation.generate_ids, on model.generate): greedy and
top-k sampling, end-of-sequence handling, left-padded batches, seeding without touching the
caller's random state."""
from __future__ import annotations

import pytest
import torch

from rome.model.generation import eos_ids, generate_ids, generation_config
from rome.model.scoring import encode_prompt

PROMPTS = ["The mother tongue of Danielle Darrieux is", "Hi", "Apple's iPhone was developed by the company"]


def _manual_greedy(lm, ids: list[int], n: int, banned: list[int]) -> list[int]:
    """Greedy decoding written out: argmax of the last position's logits, banned ids excluded."""
    ids = list(ids)
    out = []
    with torch.no_grad():
        for _ in range(n):
            logits = lm.model(input_ids=torch.tensor([ids])).logits[0, -1].clone()
            logits[banned] = float("-inf")
            nxt = int(logits.argmax())
            out.append(nxt)
            ids.append(nxt)
    return out


@pytest.mark.parametrize("fixture", ["tiny_gpt2", "tiny_gemma"])
def test_greedy_and_top1_equal_argmax_decoding_alone_or_in_a_padded_batch(fixture, request):
    lm = request.getfixturevalue(fixture)
    enc = [encode_prompt(lm.tokenizer, p) for p in PROMPTS]
    banned = eos_ids(lm)
    greedy = generate_ids(lm, enc, 6, top_k=None)
    top1 = generate_ids(lm, enc, 6, top_k=1, seed=3)
    for e, g, t in zip(enc, greedy, top1):
        expected = _manual_greedy(lm, e, 6, banned)
        assert g == expected and t == expected
        assert generate_ids(lm, [e], 6, top_k=None) == [expected]


def test_samples_come_from_the_top_k_of_each_step(tiny_gpt2):
    """Each sampled token is among the k largest logits given the tokens before it."""
    lm, k = tiny_gpt2, 3
    enc = encode_prompt(lm.tokenizer, "Hi there")
    out = generate_ids(lm, [enc] * 4, 8, top_k=k, seed=11)
    with torch.no_grad():
        for row in out:
            ids = list(enc)
            for tok in row:
                logits = lm.model(input_ids=torch.tensor([ids])).logits[0, -1]
                assert tok in logits.topk(k).indices.tolist()
                ids.append(tok)
    assert len({tuple(r) for r in out}) > 1  # sampling, not greedy


def test_seeded_reproducible_and_global_rng_untouched(tiny_gpt2):
    enc = [encode_prompt(tiny_gpt2.tokenizer, p) for p in PROMPTS]
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = generate_ids(tiny_gpt2, enc, 10, top_k=50, seed=1)
    assert torch.equal(before, torch.random.get_rng_state())
    assert generate_ids(tiny_gpt2, enc, 10, top_k=50, seed=1) == a
    assert generate_ids(tiny_gpt2, enc, 10, top_k=50, seed=2) != a


def test_end_of_sequence_modes(tiny_gpt2):
    lm = tiny_gpt2
    eos = lm.tokenizer.eos_token_id
    start = [[eos]] * 16   # GPT-2 starts from <|endoftext|>; the tiny model samples it often
    suppressed = generate_ids(lm, start, 12, top_k=50, seed=0, eos="suppress")
    assert all(len(r) == 12 and eos not in r for r in suppressed)
    going_on = generate_ids(lm, start, 12, top_k=50, seed=0, eos="continue")
    assert all(len(r) == 12 for r in going_on)
    hit = [r for r in going_on if eos in r[:-1]]
    assert hit, "the tiny model should sample end-of-text somewhere in 16 x 12 draws"
    stopped = generate_ids(lm, start, 12, top_k=50, seed=0, eos="stop")
    for r in stopped:
        assert eos not in r[:-1]  # a row ends at its first end-of-sequence token
        assert len(r) == 12 or r[-1] == eos


def test_configuration_and_bad_arguments(tiny_gpt2):
    cfg = generation_config(tiny_gpt2, 5, 7, "suppress")
    assert (cfg.do_sample, cfg.top_k, cfg.top_p, cfg.temperature, cfg.max_new_tokens) == (True, 7, 1.0, 1.0, 5)
    assert cfg.suppress_tokens == eos_ids(tiny_gpt2) and not cfg.eos_token_id
    assert generation_config(tiny_gpt2, 5, None).do_sample is False
    for bad in (dict(new_tokens=0, top_k=5), dict(new_tokens=3, top_k=0), dict(new_tokens=3, top_k=5, eos="never")):
        with pytest.raises(ValueError):
            generation_config(tiny_gpt2, **bad)
    assert generate_ids(tiny_gpt2, [], 3, top_k=5) == []
    with pytest.raises(ValueError, match="empty"):
        generate_ids(tiny_gpt2, [[]], 3, top_k=5)
