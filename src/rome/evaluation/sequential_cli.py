"""``rome sequential``: sequential editing of one model with one method (resumable; see :mod:`.sequential`).

Example::

    rome sequential --method rome --model gemma-3-270m --records data/dataset/seed0/counterfact_eval.json \\
        --n-edits 10 --batch-size 1 --eval-every 5 --probe-records 4 --out-dir data/sequential

Bad input (exit 2, one line): more edits than the records file has distinct subjects, a batch
that edits one subject twice (``--case-ids``), an ``--eval-every`` that is not a multiple of
``--batch-size``, no held-out text for perplexity.
"""
from __future__ import annotations

import argparse
import json
import sys

from counterfact.cliargs import nonnegative_int, positive_int
from replkit.cli import add_progress_option, add_set_option, parse_overrides

from ..cli.paths import resolve_editing_paths
from ..model.info import add_model_arguments, load_from_args
from .cli import add_editor_arguments, check_record_lengths, load_eval_records
from .sequential import EVAL_SCHEDULES


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", required=True, help="editing method (registry name)")
    add_model_arguments(parser)
    parser.add_argument("--records", required=True, help="COUNTERFACT JSON list (the stream and the probes come from it)")
    parser.add_argument("--out-dir", required=True, help="folder of <method>/checkpoint-*.json and result.json")
    parser.add_argument("--n-edits", type=positive_int, required=True, help="edits in the stream (N)")
    parser.add_argument("--batch-size", type=positive_int, default=1, help="edits per editor call (b)")
    parser.add_argument("--eval-every", type=positive_int, default=10,
                        help="measure and checkpoint every K edits (a multiple of --batch-size)")
    parser.add_argument("--eval-schedule", choices=EVAL_SCHEDULES, default=EVAL_SCHEDULES[0],
                        help="linear: a checkpoint every K edits; log: at K x 1, 2, 5, 10, 20, 50, ... edits")
    parser.add_argument("--probe-records", type=nonnegative_int, default=4,
                        help="fixed records outside the stream, never edited, measured at every checkpoint")
    parser.add_argument("--case-ids", default=None,
                        help="comma-separated case ids: the stream in this order (default: a seeded sample)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the stream, the probes and the perplexity sample")
    parser.add_argument("--generation-tokens", type=positive_int, default=30,
                        help="generated text length, prompt included (GE and the disabling-edit entropy)")
    parser.add_argument("--top-k", type=positive_int, default=5)
    parser.add_argument("--ge-prompts", type=positive_int, default=2, help="generation prompts per probe record (GE)")
    parser.add_argument("--disabling-prompts", type=positive_int, default=2,
                        help="generation prompts of each batch's first record (disabling-edit entropy)")
    parser.add_argument("--disabling-entropy", type=_fraction, default=0.5,
                        help="an update is disabling when the normalised generation entropy falls below this")
    parser.add_argument("--disabling-norm-factor", type=float, default=10.0,
                        help="... or when its |Δ| exceeds this many times the median of the earlier updates")
    parser.add_argument("--ppl-corpus", default=None,
                        help="held-out perplexity corpus (default: the statistics corpus, minus what they read)")
    parser.add_argument("--ppl-tokens", type=positive_int, default=2000, help="token budget of the perplexity sample")
    parser.add_argument("--ppl-max-length", type=positive_int, default=128, help="longest paragraph piece (tokens)")
    parser.add_argument("--batch-scoring", type=positive_int, default=64, help="prompts per scoring forward pass")
    add_set_option(parser)
    add_editor_arguments(parser)
    parser.add_argument("--snapshot-every", type=nonnegative_int, default=0,
                        help="between checkpoints, also keep the state every this many edits, so a stopped run "
                             "resumes close to where it stopped (measures nothing, changes no result; 0: off)")
    parser.add_argument("--stop-after", type=positive_int, default=None,
                        help="stop after the checkpoint (or snapshot) at this many edits (a later run resumes from it)")
    add_progress_option(parser)


def _stats_budget(args, editor, lm) -> int | None:
    """The token budget the key statistics read (what perplexity must not use)."""
    if args.stats_tokens:
        return int(args.stats_tokens)
    hp = getattr(editor, "hparams", None)
    value = hp.get("mom2_tokens") if hp is not None and hasattr(hp, "get") else None
    if value is None:
        from ..editing.hparams import load_hparams

        try:
            value = load_hparams("rome", lm.name).get("mom2_tokens")
        except Exception:  # no ROME hyperparameters for this model: statistics read it all
            value = None
    return None if value is None else int(value)


def run(args: argparse.Namespace) -> int:
    from ..cli import paths as cli_paths
    from ..results.disabling import DisablingRule
    from .counterfact_eval import GenerationSettings
    from .editors import EditorUnavailableError, build_editor
    from .perplexity import PerplexitySettings, heldout_sample
    from .sequential import SequentialInputs, SequentialSettings, run_sequential

    resolve_editing_paths(args)
    records = load_eval_records(args.records, "counterfact")
    case_ids = None
    if args.case_ids:
        try:
            case_ids = [int(c) for c in args.case_ids.split(",") if c.strip()]
        except ValueError:
            print(f"rome sequential: --case-ids: expected comma-separated integers, got {args.case_ids!r}",
                  file=sys.stderr)
            return 2
    overrides = parse_overrides(args.set)
    settings = SequentialSettings(
        method=args.method, model=args.model, n_edits=args.n_edits, batch_size=args.batch_size,
        eval_every=args.eval_every, probe_records=args.probe_records, seed=args.seed,
        generation=GenerationSettings(tokens=args.generation_tokens, top_k=args.top_k, seed=args.seed),
        ge_prompts=args.ge_prompts, disabling_prompts=args.disabling_prompts,
        perplexity=PerplexitySettings(tokens=args.ppl_tokens, max_length=args.ppl_max_length, seed=args.seed),
        disabling=DisablingRule(entropy_below=args.disabling_entropy, norm_factor=args.disabling_norm_factor),
        overrides=overrides, batch_scoring=args.batch_scoring, eval_schedule=args.eval_schedule,
    )
    from .sequential import check_batches, make_stream

    stream, probe = make_stream(records, settings.n_edits, settings.probe_records, settings.seed, case_ids, args.records)
    check_batches(stream, settings.batch_size, args.records)
    stats_corpus = args.corpus or args.local_corpus
    ppl_corpus = cli_paths.corpus(args.ppl_corpus, "--ppl-corpus") if args.ppl_corpus or not stats_corpus \
        else stats_corpus
    lm = load_from_args(args)
    check_record_lengths(lm, stream + probe, args.records)
    try:
        editor = build_editor(args.method, lm, overrides, args)
    except EditorUnavailableError as err:
        print(f"rome sequential: {err}", file=sys.stderr)
        return 2
    heldout = heldout_sample(lm, ppl_corpus, settings.perplexity, stats_corpus, _stats_budget(args, editor, lm))
    inputs = SequentialInputs(records_file=args.records, heldout=heldout, corpus_file=ppl_corpus)
    out = run_sequential(lm, editor, records, args.out_dir, settings, inputs, case_ids=case_ids,
                         report=lambda line: print(line, file=sys.stderr), stop_after=args.stop_after,
                         snapshot_every=args.snapshot_every)
    last = out.result["checkpoints"][-1] if out.result else None
    print(json.dumps({
        "method": args.method, "folder": str(out.folder), "n_edits": args.n_edits,
        "resumed_from": max(out.resumed_from, 0), "finished": bool(out.result),
        "seconds": round(out.seconds, 1), "edit_seconds": round(out.edit_seconds, 1),
        "eval_seconds": round(out.eval_seconds, 1),
        "last": last,
    }))
    return 0
