"""``rome edit``: apply one edit and show its effect before and after.

    rome edit --model gemma-3-270m --prompt "{} plays the sport of" \\
        --subject "LeBron James" --target football

prints p(new) and p(true) on the prompt (true = the model's argmax next token before the
edit unless ``--target-true`` is given) and a short greedy generation, before and after.
Methods come from :data:`rome.editing.registry.METHODS` (``--method``).
"""
from __future__ import annotations

import argparse
import json

from counterfact.cliargs import nonnegative_int, positive_int
from replkit.cli import add_set_option, parse_overrides

from ..cli.paths import resolve_editing_paths
from ..model.info import add_model_arguments, load_from_args
from ..model.queries import greedy_generation, next_token, score_pairs
from ..model.tokens import check_fits_context
from .base import EditRequest
from .registry import METHODS, make_editor


def add_stats_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stats-dir", default=None, help="cache of key statistics (default ./data/stats)")
    parser.add_argument("--corpus", default=None,
                        help="statistics corpus: text file or name (default: the method's hparams; wikitext-2 = "
                             "$ROME_SHARED_DATA/wikitext-2/wiki.test.raw)")
    parser.add_argument("--stats-tokens", type=positive_int, default=None, help="statistics token budget (default: the hparams)")
    parser.add_argument("--templates-dir", default=None, help="cache of context templates (default ./data/context_templates)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--prompt", required=True, help='relation prompt with {} for the subject, e.g. "{} plays the sport of"')
    parser.add_argument("--subject", required=True)
    parser.add_argument("--target", required=True, help="the new object")
    parser.add_argument("--target-true", default=None, help="the true object (default: the model's argmax before the edit)")
    parser.add_argument("--method", default="rome", choices=sorted(METHODS))
    parser.add_argument("--layer", type=nonnegative_int, default=None, help="override the hparams layer")
    add_set_option(parser)
    parser.add_argument("--max-new-tokens", type=positive_int, default=20)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    add_stats_arguments(parser)


def run(args: argparse.Namespace) -> int:
    resolve_editing_paths(args)
    overrides = parse_overrides(args.set)
    if args.layer is not None:
        overrides["layer"] = args.layer
    request = EditRequest(args.prompt, args.subject, args.target, args.target_true)
    lm = load_from_args(args)
    check_fits_context(lm, f"{request.text} {request.target_new}", "command line",
                       "--prompt (with --subject and --target filled in)")
    editor = make_editor(args.method, lm, overrides, args)
    text = request.text
    true = args.target_true or next_token(lm, text)

    def snapshot() -> dict:
        s = score_pairs(lm, [text], request.target_new, true)[0]
        return {"p_new": s.p_new, "p_true": s.p_true, "generation": greedy_generation(lm, text, args.max_new_tokens)}

    before = snapshot()
    result = editor.apply(lm, [request])
    try:
        after = snapshot()
    finally:
        result.restore(lm.model)
    report = {"method": args.method, "prompt": text, "target_new": request.target_new, "target_true": true,
              "before": before, "after": after, "info": result.info}
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    print(f"prompt: {text!r}   new: {request.target_new!r}   true: {true!r}")
    for label, s in (("before", before), ("after", after)):
        print(f"[{label:6}] p(new)={s['p_new']:.4f}  p(true)={s['p_true']:.4f}")
        print(f"         {s['generation']!r}")
    reqs = result.info.get("requests") or [{}]
    r0 = reqs[0]
    extras = {k: r0[k] for k in ("layer", "delta_w_norm", "steps", "seconds") if k in r0}
    if extras:
        print("edit: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in extras.items()))
    return 0
