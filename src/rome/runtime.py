"""Devices, dtypes, seeds and well-known locations, all taken from configuration.

Nothing here reads configuration at import time; callers pass the values they were given.
"""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

_DTYPES = {
    "float32": torch.float32, "fp32": torch.float32, "float": torch.float32,
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float64": torch.float64, "fp64": torch.float64, "double": torch.float64,
}


def resolve_dtype(name: str | torch.dtype | None) -> torch.dtype:
    if name is None:
        return torch.float32
    if isinstance(name, torch.dtype):
        return name
    try:
        return _DTYPES[str(name).lower().replace("torch.", "")]
    except KeyError:
        raise ValueError(f"unknown dtype {name!r}; use one of {sorted(_DTYPES)}") from None


def resolve_device(name: str | torch.device | None) -> torch.device:
    """``"auto"`` picks CUDA when available, then MPS, else CPU; anything else is taken as is."""
    if isinstance(name, torch.device):
        return name
    if name in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device {name!r} was configured (key model.device) but CUDA is not available here; "
            "use device: cpu or auto"
        )
    return dev


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return a torch Generator seeded the same."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def repo_root() -> Path:
    """The repository root when running from a checkout (for default data locations)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "Snakefile").exists() and (parent / "src").is_dir():
            return parent
    return Path.cwd()


def models_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Where converted model copies are cached: argument, ``$ROME_MODELS_DIR``, or ``data/models``."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("ROME_MODELS_DIR")
    if env:
        return Path(env)
    return repo_root() / "data" / "models"


def shared_data_dir() -> Path:
    """Local copies of upstream data: ``$ROME_SHARED_DATA`` or ``<repo>/../shared/data``."""
    env = os.environ.get("ROME_SHARED_DATA")
    return Path(env) if env else repo_root().parent / "shared" / "data"
