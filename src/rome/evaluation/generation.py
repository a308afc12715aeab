"""Seeded top-k sampling of continuations (the texts GE and RS are computed from).

The paper generates 100 tokens *including the prompt* with top-k 5 sampling.
``total_tokens`` has that meaning here: each batch generates
``max(1, total_tokens - longest prompt)`` new tokens, and end-of-sequence tokens are
never sampled (every text has its full length, as with ``min_new_tokens``).

The sampling loop is the package's own rather than ``model.generate``: prompts are
left-padded with explicit position ids, each step runs the model only up to its final
norm with a key/value cache, and only the last position is projected onto the vocabulary
(:class:`rome.vocab_projection.VocabProjection`); then the top ``top_k`` logits are
softmaxed and one is drawn with a ``torch.Generator`` seeded with ``seed`` + batch start,
so the global random state is untouched and the same seed gives the same texts.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from ..hooks import Trace
from ..scoring import encode_prompt
from ..teacher_forcing import pad_id
from ..vocab_projection import VocabProjection


def _never_sampled(lm) -> list[int]:
    """End-of-sequence ids of the tokenizer and the model's generation config."""
    ids: set[int] = set()
    for source in (lm.tokenizer.eos_token_id, getattr(getattr(lm.model, "generation_config", None), "eos_token_id", None)):
        if source is None:
            continue
        ids.update(source if isinstance(source, (list, tuple)) else [source])
    return sorted(int(i) for i in ids)


@torch.no_grad()
def sample_batch(lm, encoded: Sequence[Sequence[int]], new_tokens: int, top_k: int, seed: int,
                 projection: VocabProjection | None = None) -> list[list[int]]:
    """``new_tokens`` sampled token ids after each encoded prompt (one batch)."""
    from transformers import DynamicCache

    model, spec, dev = lm.model, lm.spec, lm.device
    pad = pad_id(lm.tokenizer)
    width = max(len(e) for e in encoded)
    ids = torch.full((len(encoded), width), pad, dtype=torch.long, device=dev)
    mask = torch.zeros((len(encoded), width), dtype=torch.long, device=dev)
    for i, e in enumerate(encoded):
        ids[i, width - len(e):] = torch.tensor(list(e), device=dev)
        mask[i, width - len(e):] = 1
    project = projection or VocabProjection(lm)
    banned = torch.tensor(_never_sampled(lm), dtype=torch.long, device=dev)
    gen = torch.Generator(device=dev)
    gen.manual_seed(int(seed))
    cache = DynamicCache(config=model.config)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    step_ids, out = ids, []
    for _ in range(new_tokens):
        with Trace(model, spec.final_norm, stop=True) as fin:
            model(input_ids=step_ids, attention_mask=mask, position_ids=positions, cache=cache, use_cache=True)
        assert fin.output is not None  # the final norm ran (the pass stops there)
        logits = project(fin.output[:, -1])
        if len(banned):
            logits[:, banned] = float("-inf")
        top = logits.topk(min(top_k, logits.shape[-1]), dim=-1)
        pick = torch.multinomial(torch.softmax(top.values, dim=-1), 1, generator=gen)
        step_ids = top.indices.gather(-1, pick)
        out.append(step_ids)
        mask = torch.cat([mask, mask.new_ones((len(encoded), 1))], dim=1)
        positions = positions[:, -1:] + 1
    return torch.cat(out, dim=1).tolist() if out else [[] for _ in encoded]


@torch.no_grad()
def generate_texts(lm, prompts: Sequence[str], total_tokens: int = 100, top_k: int = 5, seed: int = 0,
                   batch_size: int = 16) -> list[str]:
    """Sample one continuation per prompt; returns prompt + continuation, decoded."""
    if total_tokens < 1:
        raise ValueError(f"total_tokens must be >= 1, got {total_tokens}")
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    tok = lm.tokenizer
    projection = VocabProjection(lm) if prompts else None
    texts: list[str] = []
    for start in range(0, len(prompts), batch_size):
        enc = [encode_prompt(tok, p) for p in prompts[start:start + batch_size]]
        new = max(1, total_tokens - max(len(e) for e in enc))
        sampled = sample_batch(lm, enc, new, top_k, seed + start, projection)
        texts += [tok.decode(list(e) + s, skip_special_tokens=True) for e, s in zip(enc, sampled)]
    return texts
