"""``rome model-info``: load a model and show how the architecture map resolves it."""
from __future__ import annotations

import argparse
import json

from replkit.cli import add_model_options

from .loading import load_model


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The model options every model-using command shares (:func:`replkit.cli.add_model_options`)."""
    add_model_options(parser)


def load_from_args(args: argparse.Namespace):
    from ..cli.paths import models_dir
    return load_model(args.model, device=args.device, dtype=args.dtype, cache=models_dir(args.models_dir))


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
