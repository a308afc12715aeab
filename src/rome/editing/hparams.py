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

from counterfact.errors import BadInputError

HPARAMS_DIR = Path(__file__).resolve().parents[1] / "hparams"

# Names that mean the same model (after lower-casing and dropping an owner prefix).
_ALIASES = {
    "gemma3-270m": "gemma-3-270m",
    "embedded:gemma-3-270m": "gemma-3-270m",
}


class HparamsError(BadInputError, ValueError):
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


# Numeric hyperparameters and the values they may take (any method that has the key).
_POSITIVE_INT = ("v_steps", "context_top_k", "mom2_max_length", "hidden", "rank", "n_plain_examples",
                 "checkpoint_every")
_POSITIVE_INT_OR_NULL = ("mom2_tokens", "mom2_samples", "max_neurons")
_NONNEGATIVE_INT = ("layer", "context_seed")
_POSITIVE_FLOAT = ("v_lr", "lr", "train_lr", "init_lr", "lr_lr", "clamp_norm_factor")
_NONNEGATIVE_FLOAT = ("kl_factor", "v_weight_decay", "weight_decay", "kl_weight", "v_loss_stop", "early_stop_loss")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and v == v and abs(v) != float("inf")


def check_values(data: Mapping[str, Any], path: Path, overrides: Mapping[str, Any], method: str) -> None:
    """Refuse numeric hyperparameters out of their range (e.g. ``v_steps: 0``, which left ROME
    without an optimised value vector), naming the key and whether it came from ``--set``."""
    def fail(key, rule):
        where = f"--set {key}={overrides[key]!r}" if key in overrides else f"{path}"
        raise HparamsError(f"{where}: {method} hyperparameter {key!r} must be {rule}, got {data[key]!r}")

    for key, value in data.items():
        if key in _POSITIVE_INT or (key == "steps" and method == "kn"):
            if not (_is_int(value) and value >= 1):
                fail(key, "a positive integer")
        elif key in _POSITIVE_INT_OR_NULL:
            if value is not None and not (_is_int(value) and value >= 1):
                fail(key, "a positive integer or null")
        elif key in _NONNEGATIVE_INT or key == "steps":
            if not (_is_int(value) and value >= 0):
                fail(key, "an integer >= 0")
        elif key in _POSITIVE_FLOAT:
            if not (_is_number(value) and value > 0):
                fail(key, "a positive number")
        elif key in _NONNEGATIVE_FLOAT:
            if not (_is_number(value) and value >= 0):
                fail(key, "a number >= 0")
        elif key == "epsilon" and value is not None and not (_is_number(value) and value > 0):
            fail(key, "a positive number or null")


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
    check_values(data, path, overrides or {}, method)
    data.setdefault("method", method)
    data["hparams_file"] = str(path)
    return data
