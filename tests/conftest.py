"""Shared fixtures. Tests never touch the network: the Hugging Face hub is forced offline."""
from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path

import pytest
import torch

from testpaths import MODELS_DIR, REPO, SHARED_DATA  # noqa: E402,F401 (REPO, SHARED_DATA: used by tests)

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"local upstream data not found at {SHARED_DATA}: set ROME_SHARED_DATA to a folder holding "
                    "pararel/, known_1000.json, zsre/ and wikitext-2/ (the workflow downloads them itself with "
                    "paths.<key>: null and network)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def gpt2_tok():
    from rome.testing import gpt2_tokenizer
    return gpt2_tokenizer()


@pytest.fixture(scope="session")
def bos_tok():
    """The tiny non-GPT-2 models' tokenizer: GPT-2's BPE with a BOS (no Gemma conversion)."""
    from rome.testing import tiny_tokenizer
    return tiny_tokenizer("gemma3")


@pytest.fixture(scope="session")
def gemma_tok():
    """The real Gemma 3 tokenizer (needs the embedded model's one-off conversion: mark tests gemma)."""
    from rome.model.loading import EMBEDDED_GEMMA, load_tokenizer
    return load_tokenizer(EMBEDDED_GEMMA, cache=MODELS_DIR)


@pytest.fixture(scope="session")
def gemma():
    """The real embedded Gemma 3 270M (converted once into MODELS_DIR, then ~3 s a load)."""
    from rome.model.loading import load_model
    return load_model("gemma-3-270m", device="cpu", dtype="float32", cache=MODELS_DIR)


@pytest.fixture(scope="session")
def tiny_gpt2(gpt2_tok):
    from rome.testing import tiny_model
    return tiny_model("gpt2", gpt2_tok)


@pytest.fixture(scope="session")
def tiny_gemma(bos_tok):
    from rome.testing import tiny_model
    return tiny_model("gemma3", bos_tok)
