"""Devices, dtypes and seeds, all taken from configuration.

Nothing here reads configuration at import time; callers pass the values they were given.
Folders and files are not decided here either: the library takes them from its caller,
and the command lines' defaults live in :mod:`rome.cli.paths`.
"""
from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import torch

from counterfact.errors import BadInputError


class SettingError(BadInputError, ValueError):
    """A device or dtype setting that this machine or model cannot honour."""


class DeviceUnavailableError(SettingError, RuntimeError):
    """The configured device does not exist on this machine."""


class NonFiniteError(RuntimeError):
    """A result holds NaN or infinity (e.g. activations that overflowed the dtype)."""


def check_finite(obj: Any, where: str, path: str = "") -> Any:
    """Return ``obj`` unchanged when every number in it (nested dicts, lists, tensors,
    arrays) is finite; otherwise :class:`NonFiniteError` naming ``where`` (the record) and
    the place of the first bad value. Results are checked before they are written, so a NaN
    score never lands in a result file of a run that exits with code 0."""
    bad = _first_non_finite(obj, path)
    if bad is not None:
        place, value = bad
        raise NonFiniteError(f"{where}: non-finite result {value} at {place or 'top level'} (numeric overflow? "
                             "the model's dtype may be too narrow: try --dtype float32)")
    return obj


def _first_non_finite(obj: Any, path: str):
    if isinstance(obj, bool) or obj is None or isinstance(obj, (str, int)):
        return None
    if isinstance(obj, float):
        return None if math.isfinite(obj) else (path, obj)
    if isinstance(obj, torch.Tensor):
        obj = obj.detach().float().cpu().numpy()
    if isinstance(obj, (np.ndarray, np.generic)):
        arr = np.asarray(obj)
        if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
            idx = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
            return (f"{path}{list(idx) if idx else ''}", arr[idx] if idx else arr.item())
        return None
    if isinstance(obj, dict):
        for k, v in obj.items():
            hit = _first_non_finite(v, f"{path}.{k}" if path else str(k))
            if hit is not None:
                return hit
        return None
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            hit = _first_non_finite(v, f"{path}[{i}]")
            if hit is not None:
                return hit
    return None

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
        raise SettingError(f"unknown dtype {name!r} (option --dtype / config key model.dtype); "
                           f"use one of {sorted(_DTYPES)}") from None


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
        raise DeviceUnavailableError(
            f"device {name!r} was configured (key model.device) but CUDA is not available here; "
            "use device: cpu or auto"
        )
    return dev


def check_dtype(spec, dtype: torch.dtype, device: torch.device, model_name: str = "") -> None:
    """Refuse a dtype the device cannot run or the architecture is known to overflow in
    (``ArchSpec.unsafe_dtypes``), with the reason."""
    name = str(dtype).replace("torch.", "")
    for unsafe, reason in getattr(spec, "unsafe_dtypes", ()):
        if unsafe == name:
            raise SettingError(f"dtype {name} refused for {model_name or spec.name} ({spec.name} architecture; "
                               f"option --dtype / config key model.dtype): {reason}")
    if device.type == "mps" and dtype == torch.float64:
        raise SettingError("dtype float64 is not supported on the mps device (option --dtype / config key model.dtype)")
    if device.type == "cuda" and dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise SettingError(f"dtype bfloat16 is not supported by {torch.cuda.get_device_name(device)} "
                           "(option --dtype / config key model.dtype); use float32 or float16")


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return a torch Generator seeded the same."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
