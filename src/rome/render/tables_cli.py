"""``rome render-tables``: Tables 1, 4, 5, 6 and Table 4's strict companion (Markdown, CSV, LaTeX) from summary files."""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", required=True, choices=("table1", "table4", "table5", "table6", "table4-strict", "1", "4", "5", "6"),
                        help="table4-strict: Table 4's metrics beside the strict ones (docs/evaluation.md)")
    parser.add_argument("--summary", required=True, nargs="+", help="summary JSON(s) of `rome summarize`, one per model")
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--no-paper", action="store_true", help="leave out the paper's published numbers")


def run(args: argparse.Namespace) -> int:
    from .tables import render_table

    table = args.table if args.table.startswith("table") else f"table{args.table}"
    for p in render_table(table, args.summary, args.out_dir, paper_beside=not args.no_paper):
        print(p)
    return 0
