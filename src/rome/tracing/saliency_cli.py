"""``rome saliency``: integrated-gradients saliency of one prompt (Fig. 16), saved as JSON."""
from __future__ import annotations

import argparse

from ..model_info import add_model_arguments, load_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--prompt", required=True)
    parser.add_argument("--subject", required=True)
    parser.add_argument("--expected", default=None)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--out", required=True, help="JSON file")


def run(args) -> int:
    from ..artifacts import atomic_write_json
    from .saliency import integrated_gradients
    lm = load_from_args(args)
    sal = integrated_gradients(lm, args.prompt, args.subject, args.expected, args.steps)
    print(f"wrote {atomic_write_json(args.out, sal)}")
    return 0
