"""``rome trace``: causal trace of one prompt; prints the score tables and saves the result."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from counterfact.cliargs import nonnegative_int, positive_int
from replkit.cli import add_progress_option

from ..cli import paths as cli_paths
from ..model.info import add_model_arguments, load_from_args
from .noise import CHI2_DRAWS, SIGMA_ESTIMATES
from .prepare import TraceSettings
from .restore import KINDS


def add_trace_settings(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--noise", default="s3",
                        help="noise rule: s<f>, m, t<dof>, ms, ts<dof>, u<x> or a number (default s3; "
                             "see rome.tracing.noise)")
    parser.add_argument("--samples", type=positive_int, default=10, help="noise samples per prompt (default 10)")
    parser.add_argument("--window", type=positive_int, default=10, help="MLP/attention window in layers (paper: 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--extra-tokens", type=nonnegative_int, default=0, help="also corrupt N tokens after the subject")
    parser.add_argument("--replace", action="store_true", help="replace subject embeddings by noise instead of adding")
    parser.add_argument("--severed-noise", default="same", choices=["same", "official"],
                        help="severed paths (Fig. 3): freeze states recorded under the same noise as the patched "
                             "pass (same, the paper's text) or under the previous draw of the noise stream "
                             "(official, trace_with_repatch)")
    parser.add_argument("--chi2-draws", default="fixed", choices=list(CHI2_DRAWS),
                        help="rule t<d>: the chi2 scale factors are the official fixed draws of RandomState(2), the "
                             "same for every prompt (fixed, collect_embedding_tdist) or fresh draws of each prompt's "
                             "seeded stream (fresh)")
    parser.add_argument("--engine", default="fast", choices=["fast", "reference"])
    add_noise_stats_arguments(parser)


def add_noise_stats_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--known-facts", default=None,
                        help="known-facts JSON whose subjects give σ for s/ms/ts rules "
                             "(default: $ROME_SHARED_DATA/known_1000.json)")
    parser.add_argument("--stats-dir", default=str(cli_paths.TRACING_NOISE_DIR), help="cache folder of embedding statistics")
    parser.add_argument("--stats-facts", type=positive_int, default=None,
                        help="estimate σ from the first N known facts (default: all, as the official code)")
    parser.add_argument("--sigma-estimate", default="bare", choices=list(SIGMA_ESTIMATES),
                        help="σ from each bare subject string tokenized alone (bare, official) or from the "
                             "subject's tokens inside each prompt (in-prompt)")
    parser.add_argument("--corpus", default=None,
                        help="text corpus whose token embeddings give μ, Σ for rules m and t<d> "
                             "(file or wikitext-2; default and wikitext-2: $ROME_SHARED_DATA/wikitext-2/wiki.test.raw; "
                             "config paths.corpus)")
    parser.add_argument("--corpus-texts", type=positive_int, default=1000,
                        help="corpus documents sampled for μ, Σ (official: 1,000; all when fewer)")
    parser.add_argument("--corpus-max-len", type=positive_int, default=None,
                        help="tokens kept per corpus document (default: as the official get_embedding_cov, the "
                             "model configuration's n_positions, 100 when it has none)")


def settings_from_args(args) -> TraceSettings:
    return TraceSettings(noise=args.noise, samples=args.samples, window=args.window, seed=args.seed,
                         extra_tokens=args.extra_tokens, replace=args.replace,
                         severed_noise=getattr(args, "severed_noise", "same"),
                         chi2_draws=getattr(args, "chi2_draws", "fixed"))


def resolve_noise_inputs(args, rule=None) -> None:
    """Fill in the input the noise rule needs (``args.corpus`` or ``args.known_facts``) from
    :mod:`rome.cli.paths`, in place; call it before loading the model so a missing input
    stops the command at once."""
    from .noise import parse_noise
    rule = parse_noise(rule if rule is not None else args.noise)
    if rule.stats_source == "corpus":
        args.corpus = cli_paths.corpus(args.corpus)
    elif rule.stats_source == "subjects":
        args.known_facts = str(cli_paths.known_facts(args.known_facts))


def stats_from_args(lm, args, rule=None):
    """The embedding statistics a noise rule needs (None for rules that need none)."""
    from .noise import corpus_embedding_stats, parse_noise, subject_embedding_stats
    resolve_noise_inputs(args, rule)
    rule = parse_noise(rule if rule is not None else args.noise)
    if rule.stats_source == "corpus":
        return corpus_embedding_stats(lm, args.corpus, args.stats_dir, max_texts=args.corpus_texts,
                                      max_len=args.corpus_max_len)
    if rule.stats_source != "subjects":
        return None
    from .batch import load_known_facts
    facts = load_known_facts(Path(args.known_facts))
    if args.stats_facts is not None:
        facts = facts[: args.stats_facts]
    return subject_embedding_stats(lm, facts, args.stats_dir, covariance=rule.needs_covariance,
                                   estimate=args.sigma_estimate)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    add_progress_option(parser)
    parser.add_argument("--prompt", required=True, help="prompt text containing the subject, or a template with {}")
    parser.add_argument("--subject", required=True)
    parser.add_argument("--expected", default=None, help="expected answer (default: the clean argmax)")
    parser.add_argument("--kind", default="all", choices=list(KINDS) + ["all"])
    add_trace_settings(parser)
    parser.add_argument("--out", default=None, help="result file (.npz or .json)")


def format_table(result, kind: str) -> str:
    grid = result.scores[kind]
    lines = [f"[{kind}] p({result.answer!r}) after restoring; rows = tokens, columns = layers"]
    lines.append("token".ljust(18) + " ".join(f"{l:>5d}" for l in range(grid.shape[1])))
    s0, s1 = result.subject_range
    for i, tok in enumerate(result.tokens):
        star = "*" if s0 <= i < s1 else " "
        lines.append((repr(tok)[:16] + star).ljust(18) + " ".join(f"{v:5.3f}" for v in grid[i]))
    return "\n".join(lines)


def run(args) -> int:
    from ..model.tokens import check_fits_context
    from .trace import trace_prompt
    resolve_noise_inputs(args)
    lm = load_from_args(args)
    check_fits_context(lm, args.prompt.replace("{}", args.subject), "command line", "--prompt (with --subject filled in)")
    settings = settings_from_args(args)
    stats = stats_from_args(lm, args)
    kinds = list(KINDS) if args.kind == "all" else [args.kind]
    res = trace_prompt(lm, args.prompt, args.subject, kinds, settings, stats, args.expected, args.engine,
                      progress=not args.no_progress)
    print(json.dumps({"prompt": res.prompt, "answer": res.answer, "clean": res.clean, "corrupted": res.corrupted,
                      "noise_nu": res.noise_nu}, ensure_ascii=False))
    for kind in kinds:
        print(format_table(res, kind))
    if args.out:
        print(f"wrote {res.save(args.out)}")
    return 0
