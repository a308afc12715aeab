"""Seeded top-k sampling of continuations (the texts GE and RS are computed from).

The paper generates 100 tokens *including the prompt* with top-k 5 sampling.
``total_tokens`` has that meaning here: each batch generates
``max(1, total_tokens - longest prompt)`` new tokens, and end-of-sequence tokens are
never sampled (every text has its full length). The tokens come from the package's one
generation path, :func:`rome.model.generation.generate_ids` (``model.generate``), seeded with
``seed`` + batch start so the global random state is untouched and the same seed gives the
same texts.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from ..model.generation import generate_ids
from ..model.scoring import encode_prompt


@torch.no_grad()
def generate_texts(lm, prompts: Sequence[str], total_tokens: int = 100, top_k: int = 5, seed: int = 0,
                   batch_size: int = 16) -> list[str]:
    """Sample one continuation per prompt; returns prompt + continuation, decoded."""
    if total_tokens < 1:
        raise ValueError(f"total_tokens must be >= 1, got {total_tokens}")
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    tok = lm.tokenizer
    texts: list[str] = []
    for start in range(0, len(prompts), batch_size):
        enc = [encode_prompt(tok, p) for p in prompts[start:start + batch_size]]
        new = max(1, total_tokens - max(len(e) for e in enc))
        sampled = generate_ids(lm, enc, new, top_k=top_k, seed=seed + start, eos="suppress")
        texts += [tok.decode(list(e) + s, skip_special_tokens=True) for e, s in zip(enc, sampled)]
    return texts
