"""Option groups shared by every command of the ``counterfact`` and ``rome`` CLIs.

Each group is defined once here so an option has the same name and meaning everywhere:

* model:    ``--model``, ``--device``, ``--dtype`` (the dtype the model runs in), and for
  commands that cache converted models ``--models-dir``;
* progress: ``--no-progress`` (alias ``--quiet``) turns progress bars off;
* ``--set KEY=VALUE`` (repeatable): a hyperparameter override; VALUE is read as YAML
  (``5`` -> int, ``1e-3`` -> float (also without a dot), ``[[5, 2]]`` -> list, ``null`` -> None, ``false``).
"""
from __future__ import annotations

import argparse
import re
from collections.abc import Iterable
from typing import Any

import yaml

DEFAULT_MODEL = "gemma-3-270m"
_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def parse_set_item(text: str) -> tuple[str, Any]:
    """``"layer=5"`` -> ``("layer", 5)``; the value is parsed as YAML (a plain string otherwise)."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--set expects KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key.isidentifier():
        raise argparse.ArgumentTypeError(f"--set expects KEY=VALUE with a hyperparameter name as KEY, got {text!r}")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
        value = float(value)  # YAML 1.1 reads "1e-3" (no dot) as a string
    return key, value


def parse_overrides(items: Iterable[str | tuple[str, Any]] | None) -> dict[str, Any]:
    """The ``--set`` items as a dict (later items win); items may be strings or parsed pairs."""
    out: dict[str, Any] = {}
    for item in items or []:
        try:
            key, value = parse_set_item(item) if isinstance(item, str) else item
        except argparse.ArgumentTypeError as err:
            raise SystemExit(str(err)) from None
        out[key] = value
    return out


def add_set_option(parser: argparse.ArgumentParser) -> None:
    """``--set KEY=VALUE`` (repeatable) into ``args.set``; read it with :func:`parse_overrides`."""
    parser.add_argument(
        "--set", dest="set", action="append", type=parse_set_item, default=[], metavar="KEY=VALUE",
        help="override one of the method's hyperparameters (repeatable; VALUE read as YAML)",
    )


def add_model_options(parser: argparse.ArgumentParser, *, required: bool = False, models_dir: bool = True) -> None:
    """``--model``, ``--device``, ``--dtype`` and (``models_dir``) ``--models-dir``."""
    group = parser.add_argument_group("model")
    if required:
        group.add_argument("--model", required=True, help="HF id, local folder or 'gemma-3-270m' (embedded)")
    else:
        group.add_argument("--model", default=DEFAULT_MODEL,
                           help="HF id, local folder or 'gemma-3-270m' (embedded; the default)")
    group.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps or auto (default cpu)")
    group.add_argument("--dtype", default="float32", help="dtype the model runs in: float32, float16, bfloat16")
    if models_dir:
        group.add_argument("--models-dir", default=None, help="cache of converted models (default $ROME_MODELS_DIR, else ./data/models)")


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    """``--no-progress`` (alias ``--quiet``) into ``args.no_progress``."""
    parser.add_argument("--no-progress", "--quiet", dest="no_progress", action="store_true",
                        help="no progress bars")
