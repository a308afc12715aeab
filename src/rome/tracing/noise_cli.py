"""``rome noise-scale``: σ of subject-token embeddings (and ν for a rule), cached as JSON."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..model_info import add_model_arguments, load_from_args
from counterfact.cliargs import positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--facts", default=None, help="known-facts JSON (default: shared known_1000.json)")
    parser.add_argument("--limit", type=positive_int, default=1000)
    parser.add_argument("--noise", default="s3")
    parser.add_argument("--stats-dir", default="data/tracing/noise")
    parser.add_argument("--covariance", action="store_true", help="also fit mean and covariance (rule m)")


def run(args) -> int:
    from ..runtime import shared_data_dir
    from .batch import load_known_facts
    from .noise import noise_scale, parse_noise, subject_embedding_stats
    lm = load_from_args(args)
    facts = load_known_facts(Path(args.facts) if args.facts else shared_data_dir() / "known_1000.json")[: args.limit]
    rule = parse_noise(args.noise)
    stats = subject_embedding_stats(lm, facts, args.stats_dir, covariance=args.covariance or rule.needs_covariance)
    print(json.dumps({"model": args.model, "sigma": stats.sigma, "n_tokens": stats.n_tokens,
                      "rule": rule.text, "nu": noise_scale(rule, stats)}))
    return 0
