"""``rome summarize``: Table 4 / Table 1 metrics per method from per-record result files."""
from __future__ import annotations

import argparse
import json

from atomicio import atomic_write_json
from counterfact.cliargs import nonnegative_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--eval-dir", required=True, help="the --out-dir of `rome evaluate` (one model, one dataset)")
    parser.add_argument("--out", required=True, help="summary JSON to write")
    parser.add_argument("--common-records", action="store_true",
                        help="use only the records every method has (same N in every row)")
    parser.add_argument("--limit", type=nonnegative_int, default=None, help="use only the first N records of each method")
    parser.add_argument("--case-ids", default=None,
                        help="comma-separated case ids to summarise (default: those each method's run was asked for, "
                             "from its manifest.json)")
    parser.add_argument("--methods", default=None, help="comma-separated methods (default: every method folder)")


def run(args: argparse.Namespace) -> int:
    from .summary import summarize_run

    ids = [int(c) for c in args.case_ids.split(",") if c.strip()] if args.case_ids else None
    methods = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else None
    doc = summarize_run(args.eval_dir, common_records=args.common_records, limit=args.limit, case_ids=ids,
                        methods=methods)
    atomic_write_json(args.out, doc)
    for row in doc["rows"]:
        vals = ", ".join(f"{k} {v['value']:.1f}" if v["value"] is not None else f"{k} -"
                         for k, v in row["metrics"].items())
        print(f"{row['label']:>16} (N={row['n_records']}): {vals}")
    print(json.dumps({"summary": args.out}))
    return 0
