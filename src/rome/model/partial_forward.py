"""Running a model on part of its positions and layers, through its own ``forward``.

Two kinds of work never need recomputing when only a late layer or a late position
changes: positions before the first changed one (causal attention: they come from a
key/value cache), and blocks below the first changed layer (their outputs are replayed
from an earlier pass). Causal tracing's fast engine and ROME's v* optimisation both use
these helpers, so position embeddings, masks, sliding windows and soft-capping stay the
model's own business.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import torch

from .hooks import mark_rome_hook


@contextlib.contextmanager
def replay_blocks(replacements: dict[torch.nn.Module, Callable]) -> Iterator[None]:
    """Temporarily replace modules' ``forward`` by functions (restored on exit, also on error)."""
    saved = []
    try:
        for module, fn in replacements.items():
            saved.append((module, module.__dict__.get("forward")))
            module.forward = fn
        yield
    finally:
        for module, old in saved:
            if old is None:
                del module.forward
            else:
                module.forward = old


@contextlib.contextmanager
def capture_raw_output(module: torch.nn.Module) -> Iterator[dict]:
    """Keep the raw (structured) output of ``module`` under ``box["output"]`` — to replay
    it later in the same structure."""
    box: dict = {}

    def hook(mod, args, output):
        box["output"] = output

    mark_rome_hook(hook)
    handle = module.register_forward_hook(hook)
    try:
        yield box
    finally:
        handle.remove()


def cache_of(model_output):
    """The key/value cache a Hugging Face forward pass returned (``None`` if it keeps none)."""
    for attr in ("cache", "past_key_values"):
        c = getattr(model_output, attr, None)
        if c is not None:
            return c
    return None


def cache_layers(cache) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(keys, values)`` per layer of a Hugging Face cache, each [batch, heads, seq, dim]."""
    return [(layer.keys, layer.values) for layer in cache.layers]


def build_cache(config, layers: Sequence[tuple[torch.Tensor, torch.Tensor]]):
    """A fresh ``DynamicCache`` holding the given per-layer keys and values."""
    from transformers import DynamicCache

    cache = DynamicCache(config=config)
    for idx, (k, v) in enumerate(layers):
        cache.update(k, v, idx)
    return cache


def _prefix_caches_batched(model, prefixes: Sequence[Sequence[int]], device, final_norm: str,
                           chunk: int = 32) -> list[list[tuple[torch.Tensor, torch.Tensor]] | None] | None:
    """Per prefix, its layers' ``(keys, values)`` [1, heads, len, dim] from right-padded batches
    (distinct prefixes only). A causal model's keys and values at a real position never see the
    padding after it, so they equal the one-at-a-time pass up to the rounding of a batched matmul."""
    from transformers import DynamicCache

    from .hooks import Trace

    unique = sorted({tuple(p) for p in prefixes if len(p)}, key=len)
    found: dict[tuple[int, ...], list[tuple[torch.Tensor, torch.Tensor]]] = {}
    for start in range(0, len(unique), chunk):
        part = unique[start:start + chunk]
        width = max(len(p) for p in part)
        ids = torch.zeros((len(part), width), dtype=torch.long, device=device)
        mask = torch.zeros((len(part), width), dtype=torch.long, device=device)
        for i, p in enumerate(part):
            ids[i, :len(p)] = torch.tensor(p, device=device)
            mask[i, :len(p)] = 1
        cache = DynamicCache(config=model.config)
        with Trace(model, final_norm, retain_output=False, stop=True):
            model(input_ids=ids, attention_mask=mask, cache=cache, use_cache=True)
        if cache.get_seq_length() != width:
            return None
        layers = cache_layers(cache)
        if any(k.shape[2] != width for k, _ in layers):  # a sliding-window layer dropped positions
            return None
        for i, p in enumerate(part):
            found[p] = [(k[i:i + 1, :, :len(p)], v[i:i + 1, :, :len(p)]) for k, v in layers]
    return [found[tuple(p)] if len(p) else None for p in prefixes]


@torch.no_grad()
def left_padded_prefix_cache(model, prefixes: Sequence[Sequence[int]], device,
                             batched: bool = False) -> tuple[list, torch.Tensor] | None:
    """Keys/values of several token prefixes, each computed alone, stacked left-padded.

    Returns ``(layers, mask)``: per layer ``(keys, values)`` of shape [n, heads, P, dim]
    with P the longest prefix (padding slots hold zeros, never attended to), and the
    [n, P] attention mask of the real slots; ``None`` when the model keeps no cache.
    Each prefix runs at positions 0..len-1, exactly as in an unpadded pass. ``batched``:
    the distinct prefixes run together in right-padded batches instead (equal up to
    float rounding; MEMIT's batches of many requests).
    """
    from transformers import DynamicCache

    from .architectures import spec_for
    from .hooks import Trace

    final_norm = spec_for(model).final_norm
    width = max((len(p) for p in prefixes), default=0)
    mask = torch.zeros((len(prefixes), width), dtype=torch.long, device=device)
    per_row: list[list[tuple[torch.Tensor, torch.Tensor]] | None] = []
    template = None
    if batched:
        rows = _prefix_caches_batched(model, prefixes, device, final_norm)
        if rows is None:
            return None
        for i, row in enumerate(rows):
            if row is not None:
                template = row
                mask[i, width - len(prefixes[i]):] = 1
        per_row = rows
    for i, ids in enumerate(prefixes if not batched else ()):
        if not len(ids):
            per_row.append(None)
            continue
        cache = DynamicCache(config=model.config)
        # stop at the final norm: the vocabulary projection is not needed for a cache
        with Trace(model, final_norm, retain_output=False, stop=True):
            model(input_ids=torch.tensor([list(ids)], device=device), cache=cache, use_cache=True)
        if cache.get_seq_length() != len(ids):  # the model kept no cache
            return None
        per_row.append(cache_layers(cache))
        template = per_row[-1]
        mask[i, width - len(ids):] = 1
    if template is None:
        return [], mask
    layers = []
    for idx, (k0, v0) in enumerate(template):
        keys = k0.new_zeros((len(prefixes), k0.shape[1], width, k0.shape[3]))
        values = v0.new_zeros((len(prefixes), v0.shape[1], width, v0.shape[3]))
        for i, row in enumerate(per_row):
            if row is None:
                continue
            k, v = row[idx]
            if k.shape[2] != len(prefixes[i]):  # a sliding-window layer dropped old positions
                return None
            keys[i, :, width - k.shape[2]:] = k[0]
            values[i, :, width - v.shape[2]:] = v[0]
        layers.append((keys, values))
    return layers, mask
