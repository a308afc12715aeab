"""``rome render-text``: text figures from cached files.

* ``--figure fig06|fig19|fig20|fig25 --eval-dir DIR --methods none ROME FT ... --case-ids 1338 1741``
* ``--figure fig21 --records counterfact.json --case-id 0``
* ``--figure fig22 --records zsre.json --case-id 0``
"""
from __future__ import annotations

import argparse
from pathlib import Path

from counterfact.cliargs import positive_int

from .catalogue import CATALOGUE

GENERATION_FIGURES = ("fig06", "fig19", "fig20", "fig25")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--figure", required=True, choices=GENERATION_FIGURES + ("fig21", "fig22"))
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--eval-dir", help="evaluation folder (generation figures)")
    parser.add_argument("--methods", nargs="+", default=["none", "FT", "FT+L", "KE", "MEND", "ROME"])
    parser.add_argument("--case-ids", nargs="+", type=int, help="records to show (generation figures)")
    parser.add_argument("--first", type=positive_int, default=None,
                        help="instead of --case-ids: the first N records every method has results for")
    parser.add_argument("--texts-per-method", type=positive_int, default=1)
    parser.add_argument("--records", help="records file (Figs. 21, 22)")
    parser.add_argument("--case-id", type=int, default=0, help="record to show (Figs. 21, 22)")
    parser.add_argument("--title", default=None)


def run(args: argparse.Namespace) -> int:
    from .text_figures import render_generations, render_record

    fig = args.figure
    stem = Path(args.out_dir) / fig
    title = args.title or f"{fig}: {CATALOGUE[fig]['title']}"
    if fig in GENERATION_FIGURES:
        if not args.eval_dir or not (args.case_ids or args.first):
            raise SystemExit(f"rome render-text: {fig} needs --eval-dir and --case-ids or --first")
        case_ids = args.case_ids
        if not case_ids:
            from ..results.layout import common_case_ids

            case_ids = common_case_ids(args.eval_dir, args.methods, args.first)
        paths = render_generations(args.eval_dir, args.methods, case_ids, stem, title, args.texts_per_method)
    else:
        if not args.records:
            raise SystemExit(f"rome render-text: {fig} needs --records")
        paths = render_record(args.records, args.case_id, "counterfact" if fig == "fig21" else "zsre", stem)
    for p in paths:
        print(p)
    return 0
