"""``rome model-info``: load a model and show how the architecture map resolves it."""
from __future__ import annotations

import argparse
import json

from .models import load_model


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The model options every model-using command shares."""
    parser.add_argument("--model", default="gemma-3-270m", help="HF id, local folder or 'gemma-3-270m' (embedded)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps or auto")
    parser.add_argument("--dtype", default="float32", help="float32, float16, bfloat16")
    parser.add_argument("--models-dir", default=None, help="cache of converted models (default data/models)")


def load_from_args(args: argparse.Namespace):
    return load_model(args.model, device=args.device, dtype=args.dtype, cache=args.models_dir)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    lm = load_from_args(args)
    spec = lm.spec
    info = {
        "model": args.model, "architecture": spec.name, "class": type(lm.model).__name__,
        "n_layers": lm.n_layers, "device": str(lm.device), "dtype": str(lm.dtype),
        "edited_weight": spec.edit_weight_name(0).replace(".0.", ".{l}."), "edit_kind": spec.edit_kind,
        "key_dim": spec.key_dim(lm.model, 0), "value_dim": spec.value_dim(lm.model, 0),
        "embed": spec.embed, "final_norm": spec.final_norm, "unembed": spec.unembed,
        "n_parameters": sum(p.numel() for p in lm.model.parameters()),
    }
    print(json.dumps(info, indent=2))
    return 0
