"""``rome saliency``: integrated-gradients saliency of one prompt (Fig. 16), saved as JSON.

The prompt is given directly (``--prompt``/``--subject``/``--expected``) or as one record
of a known-facts file (``--facts known.json --known-id N``: its prompt, subject and
attribute as the expected answer), which is what the workflow uses.
"""
from __future__ import annotations

import argparse

from counterfact.cliargs import positive_int

from ..model.info import add_model_arguments, load_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--prompt", default=None, help="the prompt (or use --facts/--known-id)")
    parser.add_argument("--subject", default=None, help="the subject inside the prompt")
    parser.add_argument("--expected", default=None, help="answer whose probability is attributed (default: argmax)")
    parser.add_argument("--facts", default=None, help="known-facts JSON (known_1000.json format)")
    parser.add_argument("--known-id", type=int, default=None, help="the record of --facts to explain")
    parser.add_argument("--steps", type=positive_int, default=10, help="integration steps (alpha = 1/steps ... 1)")
    parser.add_argument("--out", required=True, help="JSON file")


def prompt_from_args(args) -> tuple[str, str, str | None]:
    """(prompt, subject, expected) from the direct options or from a known-facts record."""
    if args.facts is None:
        if args.known_id is not None:
            raise SystemExit("rome saliency: --known-id needs --facts")
        if not args.prompt or not args.subject:
            raise SystemExit("rome saliency: give --prompt and --subject, or --facts and --known-id")
        return args.prompt, args.subject, args.expected
    if args.known_id is None:
        raise SystemExit("rome saliency: --facts needs --known-id")
    if args.prompt or args.subject:
        raise SystemExit("rome saliency: --prompt/--subject and --facts/--known-id exclude each other")
    from counterfact.known_facts import load_known_facts

    by_id = {rec["known_id"]: rec for rec in load_known_facts(args.facts)}
    if args.known_id not in by_id:
        raise SystemExit(f"rome saliency: {args.facts} has no record with known_id {args.known_id} "
                         f"(config key tracing.saliency_examples)")
    rec = by_id[args.known_id]
    return rec["prompt"], rec["subject"], args.expected or rec["attribute"]


def run(args) -> int:
    from atomicio import atomic_write_json

    from .saliency import integrated_gradients

    prompt, subject, expected = prompt_from_args(args)
    lm = load_from_args(args)
    sal = integrated_gradients(lm, prompt, subject, expected, args.steps)
    if args.known_id is not None:
        sal["known_id"] = args.known_id
    print(f"wrote {atomic_write_json(args.out, sal)}")
    return 0
