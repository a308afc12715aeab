"""``rome render-sweep``: Fig. 5 from cached sweep files (no model is loaded)."""
from __future__ import annotations

import argparse

from ..cli import paths as cli_paths
from .sweep import render_fig5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sweep-dir", required=True, help="folder written by `rome sweep`")
    parser.add_argument("--out", default=str(cli_paths.FIGURES_DIR / "fig5"), help="output stem (writes .pdf, .png, .json)")
    parser.add_argument("--title", default=None)


def run(args: argparse.Namespace) -> int:
    for p in render_fig5(args.sweep_dir, args.out, args.title):
        print(p)
    return 0
