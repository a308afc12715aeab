"""ROME's context templates (SPEC 6.1): ``"{}"`` plus short texts sampled from the model.

For each ``[length, count]`` pair, ``count`` texts of ``length`` new tokens are sampled
(top-k) from the model starting at its BOS token, and each becomes ``"<text>. {}"``.
Sampling is seeded (a forked RNG, so the caller's global RNG is untouched) and the
result is cached as a JSON file keyed by model, seed and settings.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import torch

from atomicio import atomic_write_json, stable_key
from ..runtime import repo_root
from .statistics import model_slug


def default_templates_dir() -> Path:
    return repo_root() / "data" / "context_templates"


def templates_file(lm, lengths: Sequence[Sequence[int]], top_k: int, seed: int, cache_dir=None) -> Path:
    root = Path(cache_dir) if cache_dir else default_templates_dir()
    key = stable_key([list(map(int, x)) for x in lengths], int(top_k), int(seed), length=10)
    return root / f"{model_slug(lm)}-seed{seed}-{key}.json"


def sample_texts(lm, length: int, count: int, top_k: int, seed: int) -> list[str]:
    """``count`` texts of ``length`` tokens sampled with top-k from the start token."""
    tok = lm.tokenizer
    start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    if start is None:
        raise ValueError("the tokenizer has neither a BOS nor an EOS token to start sampling from")
    ids = torch.full((count, 1), start, dtype=torch.long, device=lm.device)
    devices = [lm.device.index or 0] if lm.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(seed)
        out = lm.model.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=True, top_k=top_k,
            top_p=1.0, temperature=1.0, max_new_tokens=length, min_new_tokens=length,
            pad_token_id=tok.pad_token_id, eos_token_id=None,
        )
    texts = tok.batch_decode(out[:, 1:], skip_special_tokens=True)
    # braces would break str.format in later use; newlines would split a template
    return [t.replace("{", " ").replace("}", " ").replace("\n", " ").strip() for t in texts]


def context_templates(
    lm,
    lengths: Sequence[Sequence[int]] = ((5, 10), (10, 10)),
    top_k: int = 5,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
) -> list[str]:
    """``["{}", "<text>. {}", ...]``, from the JSON cache or sampled and cached."""
    path = templates_file(lm, lengths, top_k, seed, cache_dir)
    if path.is_file():
        from atomicio import load_json
        return load_json(path)["templates"]
    templates = ["{}"]
    for i, (length, count) in enumerate(lengths):
        texts = sample_texts(lm, int(length), int(count), top_k, seed + 1000 * i)
        templates += [f"{t}. {{}}" for t in texts]
    atomic_write_json(path, {
        "model": str(lm.name), "lengths": [list(map(int, x)) for x in lengths],
        "top_k": int(top_k), "seed": int(seed), "templates": templates,
    })
    return templates
