"""``rome evaluate``: evaluate one editing method on COUNTERFACT or zsRE records (resumable).

Example::

    rome evaluate --method ROME --model gemma-3-270m --dataset counterfact \\
        --records data/counterfact.json --out-dir results/eval/counterfact/gemma-3-270m --limit 100
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from counterfact.cliargs import nonnegative_int, positive_int
from counterfact.errors import BadInputError
from replkit.cli import add_progress_option, add_set_option, parse_overrides

from ..cli.paths import resolve_editing_paths
from ..model.info import add_model_arguments, load_from_args
from ..results.paper_values import NKL_DIRECTIONS, NKL_REDUCTIONS
from .fluency import SENTENCE_SPLITTERS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", required=True, help="editing method (registry name), or 'none' for the unedited model")
    add_model_arguments(parser)
    parser.add_argument("--dataset", choices=("counterfact", "zsre"), default="counterfact")
    parser.add_argument("--records", required=True, help="COUNTERFACT JSON list, or zsRE file (MEND format or converted)")
    parser.add_argument("--out-dir", required=True, help="folder of per-(method, record) result files")
    parser.add_argument("--limit", type=nonnegative_int, default=None, help="evaluate only the first N records")
    parser.add_argument("--start", type=nonnegative_int, default=0, help="skip the first START records")
    parser.add_argument("--case-ids", default=None, help="comma-separated case ids to evaluate (instead of a range)")
    parser.add_argument("--generation-tokens", type=positive_int, default=100,
                        help="generated text length in tokens, prompt included (paper: 100)")
    parser.add_argument("--top-k", type=positive_int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="seed of the generation sampling")
    parser.add_argument("--ge-sentences", default="punkt", choices=list(SENTENCE_SPLITTERS),
                        help="sentence splitter of GE's word tokenization: punkt (NLTK's English Punkt, as the official "
                             "nltk.word_tokenize; default), spacy (spaCy's rule-based sentencizer, the earlier splitter) "
                             "or none (the whole text at once)")
    parser.add_argument("--no-generation", action="store_true", help="skip generation (no GE/RS)")
    parser.add_argument("--pre-generation", action="store_true",
                        help="also generate before the edit (otherwise pre-edit GE/RS come from --method none)")
    parser.add_argument("--no-strict", action="store_true",
                        help="COUNTERFACT: leave out the strict metrics (CounterFact+ NS+/NM+, NKL, generation "
                             "efficacy, token accuracy; rome.evaluation.strict)")
    parser.add_argument("--match-slack", type=nonnegative_int, default=1,
                        help="greedy tokens beyond the new target's own token count for ES-gen / PS-gen (default 1: one token to see where the word ends)")
    parser.add_argument("--nkl-direction", choices=NKL_DIRECTIONS, default=NKL_DIRECTIONS[0],
                        help="NKL: KL(edited || unedited) as the specificityplus code (default) or KL(unedited || edited) "
                             "as its paper's text")
    parser.add_argument("--nkl-reduction", choices=NKL_REDUCTIONS, default=NKL_REDUCTIONS[0],
                        help="NKL: the divergence divided by the vocabulary size as the specificityplus code "
                             "(reduction='batchmean', default) or the divergence itself (sum)")
    parser.add_argument("--reference-dir", default=None,
                        help="folder with reference_texts.json, tfidf_vocab.json, tfidf_idf.npz (for RS)")
    parser.add_argument("--batch-size", type=positive_int, default=64)
    add_set_option(parser)
    add_editor_arguments(parser)
    parser.add_argument("--no-restore-check", action="store_true", help="skip the all-parameter checksum after restore")
    parser.add_argument("--refuse-stale", action="store_true",
                        help="stop (instead of recomputing) when a record file was made under other settings")
    add_progress_option(parser)


def add_editor_arguments(parser: argparse.ArgumentParser) -> None:
    """The folders and statistics settings an editor needs, passed to the method registry
    (``rome evaluate``, ``rome sequential``)."""
    parser.add_argument("--stats-dir", default=None,
                        help="cache folder of key statistics C (ROME; passed to the registry; default ./data/stats)")
    parser.add_argument("--corpus", default=None,
                        help="text corpus for key statistics (passed to the registry; default: the method's hparams; "
                             "wikitext-2 = $ROME_SHARED_DATA/wikitext-2/wiki.test.raw)")
    parser.add_argument("--stats-tokens", type=positive_int, default=None, help="token budget of key statistics (passed to the registry)")
    parser.add_argument("--templates-dir", default=None,
                        help="cache folder of ROME context templates (passed to the registry; default ./data/context_templates)")
    parser.add_argument("--hypernet-dir", default=None, help="folder of trained KE / MEND checkpoints (passed to the registry)")
    parser.add_argument("--hypernet-checkpoint", default=None,
                        help="one trained KE / MEND checkpoint (.pt) to use instead of the newest in --hypernet-dir")


def load_eval_records(path: str, dataset: str) -> list[dict]:
    """The records of ``path``, checked at the door: a JSON list whose ``case_id`` are plain,
    unique tokens and, for COUNTERFACT, whose records read as the format says
    (:func:`rome.model.record_prompts.check_records`); a :class:`counterfact.errors.DataError`
    names the file, record and field."""
    from counterfact.errors import read_json_list
    from counterfact.records import check_record_ids

    head = read_json_list(path)
    if dataset == "zsre" and head and isinstance(head[0], dict) and "src" in head[0]:
        from counterfact.zsre import load_zsre

        return load_zsre(path)
    check_record_ids(head, path)
    if dataset == "counterfact":
        from ..model.record_prompts import check_records

        check_records(head, path)
        check_neighbourhoods(head, path)
    else:
        from counterfact.errors import DataError

        from .zsre_eval import RecordError, zsre_items

        for i, record in enumerate(head):
            try:
                zsre_items(record)
            except RecordError as exc:
                raise DataError(path, str(exc), index=i) from None
    return head


def check_neighbourhoods(records: list[dict], path: str) -> None:
    """Every COUNTERFACT record needs at least one neighbourhood prompt: NS, NS+ and NKL are means
    over them, and a record without one would silently drop out of those columns' N."""
    from counterfact.errors import DataError

    for i, record in enumerate(records):
        if not record.get("neighborhood_prompts"):
            raise DataError(path, "no neighbourhood prompts: NS, NS+ and NKL need at least one (case_id "
                                  f"{record.get('case_id')!r})", index=i, field="neighborhood_prompts")


def check_record_targets(lm, records: list[dict], path: str) -> None:
    """Both targets of every record must give at least one token (the one target tokenisation,
    :func:`rome.model.scoring.encode_target`); otherwise one line naming file, record and field."""
    from ..model.record_prompts import RecordError
    from ..model.scoring import encode_target
    from ..model.tokens import TargetTokenError

    for r in records:
        rw = r.get("requested_rewrite") or {}
        for key in ("target_new", "target_true"):
            text = (rw.get(key) or {}).get("str") if isinstance(rw.get(key), dict) else None
            if text is None:
                continue
            try:
                encode_target(lm.tokenizer, text)
            except TargetTokenError as err:
                raise RecordError(f"{path}: record {r.get('case_id')}: field 'requested_rewrite.{key}.str': {err} "
                                  "(every score needs at least one target token)") from None


class SelectionError(BadInputError, ValueError):
    """--start / --limit / --case-ids that select no valid records."""


def select_records(records: list[dict], start: int = 0, limit: int | None = None, case_ids: str | None = None):
    if start < 0 or (limit is not None and limit < 0):
        raise SelectionError(f"--start and --limit must be >= 0, got start={start}, limit={limit}")
    if case_ids:
        try:
            wanted = [int(c) for c in case_ids.split(",") if c.strip()]
        except ValueError:
            raise SelectionError(f"--case-ids: expected comma-separated integers, got {case_ids!r}") from None
        by_id = {r.get("case_id"): r for r in records}
        missing = [c for c in wanted if c not in by_id]
        if missing:
            raise SelectionError(f"--case-ids: case ids not in the records file: {missing}")
        return [by_id[c] for c in wanted]
    end = None if limit is None else start + limit
    return records[start:end]


def check_record_lengths(lm, records: list[dict], path: str) -> None:
    """Every prompt of every record (with its longest target) must fit the model's context;
    otherwise a :class:`rome.model.tokens.ContextLengthError` names the file, record and field
    (it used to be an ``IndexError`` in the position embedding, after some records were done)."""
    from ..model.tokens import check_fits_context

    for r in records:
        rw = r.get("requested_rewrite") or {}
        targets = [((rw.get(k) or {}).get("str") or "") for k in ("target_new", "target_true")
                   if isinstance(rw.get(k), dict)]
        longest = max(targets, key=len, default="")
        where = f"{path}: record {r.get('case_id')}"
        if isinstance(rw.get("prompt"), str) and isinstance(rw.get("subject"), str):
            check_fits_context(lm, rw["prompt"].replace("{}", rw["subject"]) + " " + longest, where,
                               "requested_rewrite.prompt")
        for kind in ("paraphrase_prompts", "neighborhood_prompts", "attribute_prompts", "generation_prompts"):
            for i, text in enumerate(r.get(kind) or []):
                if isinstance(text, str):
                    check_fits_context(lm, text + " " + longest, where, f"{kind}[{i}]")
        nb = r.get("neighborhood")
        if isinstance(nb, dict) and isinstance(nb.get("prompt"), str):
            check_fits_context(lm, f"{nb['prompt']} {nb.get('target') or ''}", where, "neighborhood.prompt")


def run(args: argparse.Namespace) -> int:
    from .consistency import ReferenceModel
    from .counterfact_eval import GenerationSettings
    from .editors import EditorUnavailableError, build_editor
    from .runner import EvalSettings, evaluate_records
    from .strict import StrictSettings

    resolve_editing_paths(args)
    records = select_records(load_eval_records(args.records, args.dataset), args.start, args.limit, args.case_ids)
    overrides = parse_overrides(args.set)
    references = None
    if args.reference_dir and args.dataset == "counterfact" and not args.no_generation:
        references = ReferenceModel.load(args.reference_dir)
    elif args.dataset == "counterfact" and not args.no_generation:
        print("rome evaluate: no --reference-dir given: RS will be missing (None) for every record", file=sys.stderr)
    settings = EvalSettings(
        dataset=args.dataset, model=args.model, method=args.method,
        generation=GenerationSettings(tokens=args.generation_tokens, top_k=args.top_k, seed=args.seed,
                                      enabled=not args.no_generation, ge_sentences=args.ge_sentences),
        strict=StrictSettings(enabled=not args.no_strict, match_slack=args.match_slack,
                              nkl_direction=args.nkl_direction, nkl_reduction=args.nkl_reduction),
        pre_generation=args.pre_generation, batch_size=args.batch_size, overrides=overrides,
        check_restore=not args.no_restore_check,
    )
    lm = load_from_args(args)
    check_record_lengths(lm, records, args.records)
    if args.dataset == "counterfact":
        check_record_targets(lm, records, args.records)
    try:
        editor = build_editor(args.method, lm, overrides, args)
    except EditorUnavailableError as err:
        print(f"rome evaluate: {err}", file=sys.stderr)
        return 2
    input_files = {"records": args.records}
    if references is not None:
        ref = Path(args.reference_dir)
        input_files.update({f"reference/{n}": str(ref / n) for n in
                            ("reference_texts.json", "tfidf_vocab.json", "tfidf_idf.npz") if (ref / n).is_file()})
    stats = evaluate_records(lm, editor, records, args.out_dir, settings, references=references,
                             records_source=str(Path(args.records)), progress=not args.no_progress,
                             input_files=input_files, refuse_stale=args.refuse_stale)
    print(stats.reuse.line(f"rome evaluate {args.method}: {len(records)} records"), file=sys.stderr)
    print(json.dumps({"method": args.method, "out_dir": args.out_dir, "evaluated": stats.done,
                      "skipped_existing": stats.skipped, **stats.reuse.as_json(), "seconds": round(stats.seconds, 1),
                      "records_per_minute": round(stats.records_per_minute, 2) if stats.done else None}))
    return 0
