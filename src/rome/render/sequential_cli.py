"""``rome render-sequential``: sequential-editing figures and the mass-editing table (no model is loaded)."""
from __future__ import annotations

import argparse

from ..cli import paths as cli_paths
from .sequential import load_checkpoint_table, load_results, render_docs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--seq-dir", help="folder written by `rome sequential` (<method>/result.json)")
    source.add_argument("--from-table", metavar="CSV",
                        help="redraw from a sequential-checkpoints.csv that an earlier render wrote "
                             "(e.g. docs/reference/sequential-checkpoints.csv), without the result folder")
    parser.add_argument("--methods", nargs="+", default=None,
                        help="methods to draw, in this order (required with --seq-dir; with --from-table "
                             "every method of the file by default)")
    parser.add_argument("--model", required=True, help="the edited model's name (for the published rows)")
    parser.add_argument("--out-dir", default=str(cli_paths.FIGURES_DIR), help="figures folder")
    parser.add_argument("--title", default=None)
    parser.add_argument("--in-progress", action="store_true",
                        help="with --seq-dir: draw a method whose run has not finished from its checkpoint "
                             "files (the table's N column says 'n of N')")
    parser.set_defaults(parser=parser)  # for the checks argparse cannot express (exit 2, as any usage error)


def run(args: argparse.Namespace) -> int:
    if args.seq_dir is not None:
        if not args.methods:
            args.parser.error("--methods is required with --seq-dir")
        docs = load_results(args.seq_dir, args.methods, args.in_progress)
    else:
        if args.in_progress:
            args.parser.error("--in-progress reads a result folder, not --from-table (a table's unfinished "
                              "methods read as unfinished by themselves)")
        docs = load_checkpoint_table(args.from_table, args.methods)
    for p in render_docs(docs, args.out_dir, args.model, args.title):
        print(p)
    return 0
