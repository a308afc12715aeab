"""``rome render-sequential``: sequential-editing figures and the mass-editing table (no model is loaded)."""
from __future__ import annotations

import argparse

from ..cli import paths as cli_paths
from .sequential import render_all


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seq-dir", required=True, help="folder written by `rome sequential` (<method>/result.json)")
    parser.add_argument("--methods", nargs="+", required=True, help="methods to draw, in this order")
    parser.add_argument("--model", required=True, help="the edited model's name (for the published rows)")
    parser.add_argument("--out-dir", default=str(cli_paths.FIGURES_DIR), help="figures folder")
    parser.add_argument("--title", default=None)
    parser.add_argument("--in-progress", action="store_true",
                        help="draw a method whose run has not finished from its checkpoint files "
                             "(the table's N column says 'n of N')")


def run(args: argparse.Namespace) -> int:
    for p in render_all(args.seq_dir, args.methods, args.out_dir, args.model, args.title, args.in_progress):
        print(p)
    return 0
