"""``rome render-localization``: the localization-vs-editing figure and table (no model is loaded).

    rome render-localization --analysis data/runs/<run>/localization/analysis.json \\
        --out figures/<run>/localization-vs-editing
"""
from __future__ import annotations

import argparse

from .localization import render_localization


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--analysis", required=True, help="JSON written by `rome localization`")
    parser.add_argument("--out", required=True, help="output stem (writes .pdf, .png, .md, .csv)")
    parser.add_argument("--title", default=None)


def run(args: argparse.Namespace) -> int:
    for p in render_localization(args.analysis, args.out, args.title):
        print(p)
    return 0
