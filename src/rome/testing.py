"""Test helpers: the tiny random-weight models (see :mod:`rome.model.tiny_models`)."""
from __future__ import annotations

from .model.tiny_models import FACTORIES, GPT2_FAMILY, TINY_ARCHITECTURES, gpt2_tokenizer, tiny_model, tiny_tokenizer  # noqa: F401
