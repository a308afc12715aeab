"""``rome human-eval``: export the rating kit, or render Fig. 26 from returned ratings.

* ``--action export --eval-dir DIR --case-ids 1 2 3 --out-dir KIT [--seed 0]``
* ``--action render --out-dir FIGS [--ratings ratings.csv --answer-key KIT/answer_key.csv]``
  (without ``--ratings`` the figure says plainly that no ratings exist)
"""
from __future__ import annotations

import argparse
from pathlib import Path

from counterfact.cliargs import nonnegative_int, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--action", choices=("export", "render"), required=True)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--eval-dir", help="evaluation folder with ROME, FT+L and none results (export)")
    parser.add_argument("--case-ids", nargs="+", type=int, help="records to put on the sheets (export)")
    parser.add_argument("--first", type=positive_int, default=None,
                        help="instead of --case-ids: the first N records every method has results for (export)")
    parser.add_argument("--methods", nargs="+", default=["ROME", "FT+L", "none"])
    parser.add_argument("--seed", type=int, default=0, help="seed of the shuffling (export)")
    parser.add_argument("--text-index", type=nonnegative_int, default=0, help="which generated text of each record (export)")
    parser.add_argument("--ratings", help="filled-in ratings CSV (render)")
    parser.add_argument("--answer-key", help="answer_key.csv of the exported kit (render)")


def run(args: argparse.Namespace) -> int:
    from atomicio import atomic_write_json

    from .human_eval import render_fig26
    from .human_eval_kit import export_kit, tally_ratings

    if args.action == "export":
        if not args.eval_dir or not (args.case_ids or args.first):
            raise SystemExit("rome human-eval --action export needs --eval-dir and --case-ids or --first")
        case_ids = args.case_ids
        if not case_ids:
            from ..results.layout import common_case_ids

            case_ids = common_case_ids(args.eval_dir, args.methods, args.first)
        paths = export_kit(args.eval_dir, case_ids, args.out_dir, args.seed, args.methods, args.text_index)
    else:
        tally = None
        if args.ratings:
            if not args.answer_key:
                raise SystemExit("rome human-eval: --ratings needs --answer-key")
            tally = tally_ratings(args.ratings, args.answer_key)
            paths = [atomic_write_json(Path(args.out_dir) / "fig26_tally.json", tally)]
        else:
            paths = []
        paths += render_fig26(tally, Path(args.out_dir) / "fig26_human_eval")
    for p in paths:
        print(p)
    return 0
