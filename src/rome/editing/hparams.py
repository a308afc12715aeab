"""Hyperparameters of editing methods, one YAML file per (method, model).

Files live in ``src/rome/hparams/<method>/<model>.yaml``. Model names are normalised
(:func:`normalise_model_name`): ``"EleutherAI/gpt-j-6B"`` -> ``"gpt-j-6b"``, the embedded
Gemma and its converted folder -> ``"gemma-3-270m"``, tiny random test models
(``"tiny-gpt2"``, ``"tiny-gemma3"``, ...) -> ``"tiny"``.

    >>> hp = load_hparams("rome", "gpt2-xl", {"v_steps": 10})

Every method shares this loader; a method's YAML may hold any keys it needs.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

import yaml

HPARAMS_DIR = Path(__file__).resolve().parents[1] / "hparams"

# Names that mean the same model (after lower-casing and dropping an owner prefix).
_ALIASES = {
    "gemma3-270m": "gemma-3-270m",
    "embedded:gemma-3-270m": "gemma-3-270m",
}


class HparamsError(ValueError):
    """A hyperparameter file is missing, malformed, or an override names an unknown key."""


def normalise_model_name(name: str) -> str:
    """The file stem used for ``name`` (see the module docstring)."""
    text = str(name).strip().rstrip("/")
    if text.lower() in _ALIASES:
        return _ALIASES[text.lower()]
    stem = text.replace("\\", "/").split("/")[-1].lower()
    if stem.startswith("tiny"):
        return "tiny"
    stem = _ALIASES.get(stem, stem)
    # the converted embedded Gemma lives in a folder "gemma-3-270m-<sha prefix>"
    if re.fullmatch(r"gemma-3-270m(-[0-9a-f]{8,})?", stem):
        return "gemma-3-270m"
    return stem


def available(method: str) -> list[str]:
    """Model names that have a hyperparameter file for ``method``."""
    folder = HPARAMS_DIR / method
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def hparams_path(method: str, model_name: str) -> Path:
    return HPARAMS_DIR / method / f"{normalise_model_name(model_name)}.yaml"


def load_hparams(method: str, model_name: str, overrides: Mapping[str, Any] | None = None) -> dict:
    """Read ``hparams/<method>/<model>.yaml`` and apply ``overrides`` (known keys only)."""
    path = hparams_path(method, model_name)
    if not path.is_file():
        methods = sorted(p.name for p in HPARAMS_DIR.iterdir() if p.is_dir()) if HPARAMS_DIR.is_dir() else []
        if method not in methods:
            raise HparamsError(
                f"no hyperparameters for method {method!r} (no folder {HPARAMS_DIR / method}); "
                f"methods with hyperparameter files: {', '.join(methods) or 'none'}"
            )
        raise HparamsError(
            f"no {method} hyperparameters for model {model_name!r} (looked for {path}); "
            f"available: {', '.join(available(method)) or 'none'}. Add a YAML file there "
            "or pass the name of a model that has one."
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise HparamsError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(data, dict):
        raise HparamsError(f"{path}: expected a mapping of hyperparameters, got {type(data).__name__}")
    for key, value in dict(overrides or {}).items():
        if key not in data:
            raise HparamsError(
                f"override {key!r} is not a hyperparameter of {method} in {path}; "
                f"known keys: {', '.join(sorted(data))}"
            )
        data[key] = value
    data.setdefault("method", method)
    data["hparams_file"] = str(path)
    return data
