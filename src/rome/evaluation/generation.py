"""Seeded top-k sampling of continuations (the texts GE and RS are computed from).

The paper generates 100 tokens *including the prompt* with top-k 5 sampling.
``total_tokens`` has that meaning here: each batch generates
``max(1, total_tokens - longest prompt)`` new tokens. Prompts are left-padded by hand
(the package's tokenizers pad on the right for scoring) and sampling runs inside
``torch.random.fork_rng`` seeded with ``seed``, so the global random state is untouched
and the same seed gives the same texts.
"""
from __future__ import annotations

from typing import Sequence

import torch

from .scoring import encode_prompt, _pad_id


@torch.no_grad()
def generate_texts(lm, prompts: Sequence[str], total_tokens: int = 100, top_k: int = 5, seed: int = 0,
                   batch_size: int = 16) -> list[str]:
    """Sample one continuation per prompt; returns prompt + continuation, decoded."""
    if total_tokens < 1:
        raise ValueError(f"total_tokens must be >= 1, got {total_tokens}")
    tok, model = lm.tokenizer, lm.model
    pad = _pad_id(tok)
    devices = [lm.device] if lm.device.type == "cuda" else []
    texts: list[str] = []
    for start in range(0, len(prompts), batch_size):
        chunk = list(prompts[start:start + batch_size])
        enc = [encode_prompt(tok, p) for p in chunk]
        width = max(len(e) for e in enc)
        ids = torch.full((len(enc), width), pad, dtype=torch.long)
        mask = torch.zeros((len(enc), width), dtype=torch.long)
        for i, e in enumerate(enc):
            ids[i, width - len(e):] = torch.tensor(e)
            mask[i, width - len(e):] = 1
        new = max(1, total_tokens - width)
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed + start)
            out = model.generate(
                input_ids=ids.to(lm.device), attention_mask=mask.to(lm.device), do_sample=True, top_k=top_k,
                top_p=1.0, temperature=1.0, max_new_tokens=new, min_new_tokens=new, pad_token_id=pad,
            )
        for i in range(len(enc)):
            seq = out[i, width - len(enc[i]):].tolist()
            texts.append(tok.decode(seq, skip_special_tokens=True))
    return texts
