"""``rome trace-batch``: causal traces of many known facts into per-fact files (resumable)."""
from __future__ import annotations

import argparse
import json
import sys

from counterfact.cliargs import nonnegative_int
from replkit.cli import add_progress_option

from ..model.info import add_model_arguments, load_from_args
from .cli import add_trace_settings, resolve_noise_inputs, settings_from_args, stats_from_args
from .restore import KINDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    add_progress_option(parser)
    parser.add_argument("--facts", default=None, help="known-facts JSON (default: $ROME_SHARED_DATA/known_1000.json)")
    parser.add_argument("--start", type=nonnegative_int, default=0)
    parser.add_argument("--limit", type=nonnegative_int, default=None, help="trace at most this many facts")
    parser.add_argument("--known-ids-from", default=None,
                        help="trace only these facts (`rome localization-facts` output), after --start/--limit")
    parser.add_argument("--reuse-dir", default=None,
                        help="another trace-batch folder: its files made under the same key are copied, not traced")
    parser.add_argument("--kinds", default="hidden,mlp,attn")
    parser.add_argument("--no-severed", action="store_true", help="skip the severed-path curves")
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--refuse-stale", action="store_true",
                        help="stop (instead of recomputing) when a per-fact file was made under other settings")
    add_trace_settings(parser)


def run(args) -> int:
    from ..cli import paths as cli_paths
    from .batch import load_known_facts, trace_facts
    facts_path = cli_paths.known_facts(args.facts, "--facts")
    if args.known_facts is None:  # σ from the traced facts unless --known-facts names others
        args.known_facts = str(facts_path)
    resolve_noise_inputs(args)
    lm = load_from_args(args)
    from ..model.tokens import check_fits_context
    from ..results.cache_key import file_checksum

    facts = load_known_facts(facts_path)
    facts = facts[args.start: None if args.limit is None else args.start + args.limit]
    if args.known_ids_from:
        from ..results.localization import LocalizationInputError, read_selection

        wanted = [f["known_id"] for f in read_selection(args.known_ids_from)]
        by_id = {rec["known_id"]: rec for rec in facts}
        missing = [k for k in wanted if k not in by_id]
        if missing:
            raise LocalizationInputError(f"{args.known_ids_from}: known_id {missing[0]} is not among the facts of "
                                         f"{facts_path} (after --start/--limit)")
        facts = [by_id[k] for k in wanted]
    for rec in facts:
        check_fits_context(lm, f"{rec['prompt']} {rec['attribute']}", f"{facts_path}: record {rec['known_id']}")
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    for k in kinds:
        if k not in KINDS:
            raise SystemExit(f"unknown kind {k!r}; expected a subset of {KINDS}")
    stats = stats_from_args(lm, args)
    inputs = {"facts": file_checksum(facts_path),
              "noise_facts": file_checksum(args.known_facts) if stats is not None else None,
              "noise_facts_used": args.stats_facts if stats is not None else None}
    counts = trace_facts(lm, facts, args.out_dir, settings_from_args(args), stats, kinds,
                         severed=not args.no_severed, engine=args.engine, inputs=inputs,
                         refuse_stale=args.refuse_stale, progress=not args.no_progress, reuse_dir=args.reuse_dir)
    print(f"rome trace-batch: {len(facts)} facts: reused {counts['reused']}, computed {counts['computed']} new, "
          f"recomputed {counts['recomputed']} ({counts['recomputed_stale']} made under other settings, "
          f"{counts['recomputed_corrupted']} corrupted)", file=sys.stderr)
    print(json.dumps(counts))
    return 0
