"""Logits only where they are needed, and teacher-forced target probabilities.

A small model's vocabulary projection costs more than its body (Gemma 3 270M: 262k x
640), so these helpers run the model up to the final norm (stopping there with a hook),
then project only the positions that are scored.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .generation import generate_ids
from .scoring import encode_prompt
from .teacher_forcing import right_pad
from .tokens import target_token_ids
from .vocab_projection import final_hidden, head_logits


def target_ids(tokenizer, target: str) -> list[int]:
    """Token ids of ``" " + target`` (:func:`rome.model.tokens.target_token_ids`)."""
    return target_token_ids(tokenizer, target)


def prompt_ids(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=True)["input_ids"])


@torch.no_grad()
def mean_target_nll(lm, prompts: Sequence[str], targets: Sequence[str], batch_size: int = 32) -> list[float]:
    """Teacher-forced mean per-token NLL of ``" " + target`` after each prompt."""
    if len(prompts) != len(targets):
        raise ValueError("prompts and targets differ in length")
    tok = lm.tokenizer
    out: list[float] = []
    for b in range(0, len(prompts), batch_size):
        seqs, spans = [], []
        for p, t in zip(prompts[b:b + batch_size], targets[b:b + batch_size]):
            pi, ti = prompt_ids(tok, p), target_ids(tok, t)
            seqs.append(pi + ti)
            spans.append((len(pi), ti))
        ids, mask = right_pad(seqs, tok.pad_token_id or 0, lm.device)
        h = final_hidden(lm, ids, mask)
        rows = [r for r, (_, ti) in enumerate(spans) for _ in ti]
        cols = [n - 1 + j for (n, ti) in spans for j in range(len(ti))]
        labels = torch.tensor([x for _, ti in spans for x in ti], device=lm.device)
        logp = torch.log_softmax(head_logits(lm, h[rows, cols]), dim=-1)
        token_lp = logp[torch.arange(len(labels), device=lm.device), labels]
        i = 0
        for _, ti in spans:
            out.append(float(-token_lp[i:i + len(ti)].mean()))
            i += len(ti)
    return out


def target_probability(lm, prompt: str, target: str) -> float:
    """exp(−mean NLL) of the target after the prompt (the per-token geometric mean)."""
    return math.exp(-mean_target_nll(lm, [prompt], [target])[0])


@torch.no_grad()
def next_token(lm, prompt: str) -> str:
    """The model's argmax next token after ``prompt``, stripped."""
    ids, mask = right_pad([prompt_ids(lm.tokenizer, prompt)], 0, lm.device)
    h = final_hidden(lm, ids, mask)
    return lm.tokenizer.decode([int(head_logits(lm, h[0, -1]).argmax())]).strip()


def greedy_generation(lm, prompt: str, max_new_tokens: int = 20) -> str:
    """The prompt and its greedy continuation (ends at end-of-sequence), decoded."""
    ids = encode_prompt(lm.tokenizer, prompt)
    new = generate_ids(lm, [ids], max_new_tokens, top_k=None, eos="stop")[0]
    return lm.tokenizer.decode(ids + new, skip_special_tokens=True)


@dataclass
class PairScore:
    """P(new) vs P(true) on one prompt (probabilities = exp(−mean NLL))."""

    prompt: str
    p_new: float
    p_true: float


def score_pairs(lm, prompts: Sequence[str], target_new: str, target_true: str) -> list[PairScore]:
    nll = mean_target_nll(lm, list(prompts) * 2, [target_new] * len(prompts) + [target_true] * len(prompts))
    n = len(prompts)
    return [PairScore(p, math.exp(-nll[i]), math.exp(-nll[n + i])) for i, p in enumerate(prompts)]
