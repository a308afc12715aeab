"""Batched teacher-forced scoring agrees with a plain full forward pass, one pair at a time."""
from __future__ import annotations

import pytest
import torch

from rome.evaluation.zsre_eval import score_zsre_record
from rome.model.scoring import encode_prompt, encode_target, score_targets, score_token_ids


def reference_nll(lm, prompt, target):
    p, t = encode_prompt(lm.tokenizer, prompt), encode_target(lm.tokenizer, target)
    ids = torch.tensor([p + t])
    with torch.no_grad():
        logp = torch.log_softmax(lm.model(input_ids=ids).logits[0].float(), -1)
    return [-float(logp[len(p) - 1 + j, tid]) for j, tid in enumerate(t)]


@pytest.mark.parametrize("fixture", ["tiny_gpt2", "tiny_gemma"])
def test_batched_nll_matches_unbatched(fixture, request):
    lm = request.getfixturevalue(fixture)
    pairs = [("The mother tongue of Danielle Darrieux is", " French"),
             ("Paris is the capital of", " the French Republic of old"),
             ("A", " English")]
    got = score_targets(lm, pairs, batch_size=2)   # padded, two batches
    for (prompt, target), s in zip(pairs, got):
        ref = reference_nll(lm, prompt, target)
        assert len(s.token_nll) == len(ref) > 0
        assert s.token_nll == pytest.approx(ref, abs=1e-4)
        assert s.nll == pytest.approx(sum(ref) / len(ref), abs=1e-4)


def greedy(lm, prompt_ids, n):
    ids = list(prompt_ids)
    out = []
    with torch.no_grad():
        for _ in range(n):
            nxt = int(lm.model(input_ids=torch.tensor([ids])).logits[0, -1].argmax())
            out.append(nxt)
            ids.append(nxt)
    return out


def test_token_accuracy_on_known_answer(tiny_gpt2):
    lm = tiny_gpt2
    p = encode_prompt(lm.tokenizer, "When was the inception of the Space Needle?")
    g = greedy(lm, p, 3)
    wrong = (g[0] + 1) % len(lm.tokenizer)
    known, first_wrong = score_token_ids(lm, [(p, g), (p, [wrong] + g[1:])])
    assert known.correct == [1, 1, 1] and known.accuracy == 1.0
    assert first_wrong.correct[0] == 0


def test_zsre_record_blocks(tiny_gpt2):
    record = {"case_id": 0,
              "requested_rewrite": {"prompt": "When was the inception of {}?", "subject": "IAAF Challenge",
                                    "target_new": {"str": "1998", "id": None}, "target_true": None},
              "paraphrase_prompts": ["When was the IAAF Challenge launched?"],
              "neighborhood": {"prompt": "nq question: who wrote hamlet", "target": "William Shakespeare"}}
    block = score_zsre_record(tiny_gpt2, record)
    n_ans = len(encode_target(tiny_gpt2.tokenizer, " 1998"))
    assert [len(c) for c in block["rewrite_prompts_correct"]] == [n_ans]
    assert [len(c) for c in block["paraphrase_prompts_correct"]] == [n_ans]
    assert len(block["neighborhood_prompts_correct"][0]) == len(encode_target(tiny_gpt2.tokenizer, " William Shakespeare"))
