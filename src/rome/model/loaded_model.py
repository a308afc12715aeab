"""A loaded causal LM: the model, its tokenizer and its architecture spec, and how both are prepared.

Shared by :mod:`rome.model.loading` (real models) and :mod:`rome.model.tiny_models` (random test models).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .architectures import ArchSpec, spec_for


@dataclass
class LoadedModel:
    """A model with its tokenizer and architecture spec."""

    model: torch.nn.Module
    tokenizer: Any
    spec: ArchSpec
    name: str
    device: torch.device
    dtype: torch.dtype

    @property
    def n_layers(self) -> int:
        return self.spec.n_layers(self.model)

    def layer_name(self, part: str, layer: int) -> str:
        return self.spec.layer_name(part, layer)

    def module(self, part: str, layer: int | None = None) -> torch.nn.Module:
        return self.spec.module(self.model, part, layer)

    @property
    def context_length(self) -> int | None:
        """Longest sequence the model's position encoding supports (None when unbounded)."""
        config: Any = self.model.config  # a transformers PretrainedConfig (nn.Module's stub says Tensor | Module)
        cfg = config.get_text_config() if hasattr(config, "get_text_config") else config
        for key in ("max_position_embeddings", "n_positions", "n_ctx", "seq_length"):
            value = getattr(cfg, key, None)
            if isinstance(value, int) and value > 0:
                return value
        return None

    def encode(self, texts: list[str] | str, **kw) -> dict:
        """Tokenize (right-padded) onto the model's device."""
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, **kw)
        return {k: v.to(self.device) for k, v in enc.items()}


def prepare_tokenizer(tokenizer: Any) -> Any:
    """Give the tokenizer a pad token (EOS when it has none) and right padding."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    return tokenizer


def prepare_model(model: torch.nn.Module, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """Evaluation mode, frozen weights (editors enable gradients where they need them)."""
    model = model.to(device=device, dtype=dtype)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def wrap(model: torch.nn.Module, tokenizer: Any, name: str) -> LoadedModel:
    """A :class:`LoadedModel` around an existing model (used for tiny test models too)."""
    p = next(model.parameters())
    return LoadedModel(model, prepare_tokenizer(tokenizer), spec_for(model), name, p.device, p.dtype)
