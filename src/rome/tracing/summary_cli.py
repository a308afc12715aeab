"""``rome trace-summary``: AIE per token category and the tracing summary from per-fact results."""
from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", required=True, help="folder written by rome trace-batch")
    parser.add_argument("--out-dir", required=True, help="where aie_*.json, severed.json, summary.json/md go")
    parser.add_argument("--model", default="")
    parser.add_argument("--all-facts", action="store_true", help="also average facts the clean model gets wrong")
    parser.add_argument("--known-ids", default=None,
                        help="comma-separated known ids to average (default: those of the run's manifest.json)")


def run(args) -> int:
    from .summary import summarise
    ids = None
    if args.known_ids:
        ids = [int(x) if x.strip().lstrip("-").isdigit() else x.strip() for x in args.known_ids.split(",") if x.strip()]
    s = summarise(args.results, args.out_dir, args.model, only_correct=not args.all_facts, known_ids=ids)
    print(json.dumps({k: s[k] for k in ("n_loaded", "n_kept", "clean", "corrupted", "ate")}))
    return 0
