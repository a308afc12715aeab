"""``rome noise-scale``: the embedding statistics of a noise rule (σ and ν, or corpus μ, Σ), cached."""
from __future__ import annotations

import argparse
import json

from ..model.info import add_model_arguments, load_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .cli import add_noise_stats_arguments
    add_model_arguments(parser)
    parser.add_argument("--facts", default=None, help="known-facts JSON (same as --known-facts)")
    parser.add_argument("--noise", default="s3")
    parser.add_argument("--covariance", action="store_true", help="also fit mean and covariance of the subjects")
    add_noise_stats_arguments(parser)


def run(args) -> int:
    from .cli import resolve_noise_inputs, stats_from_args
    from .noise import noise_scale, parse_noise
    if args.facts and not args.known_facts:
        args.known_facts = args.facts
    rule = parse_noise(args.noise)
    if args.covariance and rule.stats_source == "subjects" and not rule.needs_covariance:
        rule = parse_noise("ms")  # same facts and estimate, with mean and covariance
    resolve_noise_inputs(args, rule)
    lm = load_from_args(args)
    stats = stats_from_args(lm, args, rule)
    out = {"model": args.model, "rule": args.noise}
    if stats is not None:
        out.update(stats.to_json())
        out["nu"] = noise_scale(parse_noise(args.noise), stats)
    print(json.dumps(out))
    return 0
