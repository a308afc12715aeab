"""``rome known-facts``: the facts a model knows, selected from COUNTERFACT records.

The selection rule and the ``known_1000.json`` format live in
:mod:`counterfact.known_facts` (no model code there); this module loads the model and
gives that rule its three callables: the greedy continuation (the one generation path,
:mod:`rome.model.generation`), the argmax next token (:func:`rome.model.queries.next_token`,
one forward pass) and the first token of an object.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable

from ..model.generation import generate_ids
from ..model.queries import next_token as argmax_next_token
from ..model.scoring import encode_prompt


def greedy_continuation(lm, text: str, max_new_tokens: int = 10) -> list[int]:
    """Greedy token ids after ``text``, ending at the first end-of-sequence token (kept).

    Decoded by the package's one generation path (:func:`rome.model.generation.generate_ids`).
    """
    return generate_ids(lm, [encode_prompt(lm.tokenizer, text)], max_new_tokens, top_k=None, eos="stop")[0]


def first_object_token(tokenizer, obj: str) -> str:
    ids = tokenizer(" " + obj, add_special_tokens=False)["input_ids"]
    return tokenizer.decode(ids[:1]).strip() if ids else ""


TextFn = Callable[[str], str]


def model_callables(lm, max_new_tokens: int = 10) -> tuple[TextFn, TextFn, TextFn]:
    """``(continue_text, next_token, first_token)`` for :func:`counterfact.known_facts.select_known_facts`."""
    def continue_text(text: str) -> str:
        return lm.tokenizer.decode(greedy_continuation(lm, text, max_new_tokens))

    def next_token(text: str) -> str:
        return argmax_next_token(lm, text)

    def first_token(obj: str) -> str:
        return first_object_token(lm.tokenizer, obj)

    return continue_text, next_token, first_token


def select_with_model(lm, records: list[dict], max_new_tokens: int = 10, limit: int | None = None,
                      max_known: int | None = None, progress: bool = False) -> list[dict]:
    """Known facts of the loaded model ``lm`` among ``records`` (its model in eval mode meanwhile)."""
    from counterfact.known_facts import select_known_facts

    model = lm.model
    was_training = model.training
    model.eval()
    try:
        return select_known_facts(records, *model_callables(lm, max_new_tokens), limit=limit,
                                  max_known=max_known, progress=progress)
    finally:
        model.train(was_training)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from counterfact.cliargs import nonnegative_int, positive_int
    from replkit.cli import add_progress_option

    from ..model.info import add_model_arguments

    parser.add_argument("--records", required=True, help="COUNTERFACT-format records (ours or the released file)")
    parser.add_argument("--out", required=True, help="known facts JSON (known_1000.json format)")
    parser.add_argument("--limit", type=nonnegative_int, default=None, help="examine only the first N records")
    parser.add_argument("--max-known", type=positive_int, default=None, help="stop after N known facts")
    parser.add_argument("--max-new-tokens", type=positive_int, default=10)
    add_model_arguments(parser)
    add_progress_option(parser)


def run(args: argparse.Namespace) -> int:
    from counterfact.known_facts import write_known_facts
    from counterfact.records import load_records

    from ..model.info import load_from_args

    records = load_records(args.records)
    lm = load_from_args(args)
    known = select_with_model(lm, records, max_new_tokens=args.max_new_tokens, limit=args.limit,
                              max_known=args.max_known, progress=not args.no_progress)
    write_known_facts(args.out, known)
    n = len(records) if args.limit is None else min(args.limit, len(records))
    print(f"{len(known)} known facts out of {n} records examined -> {args.out}")
    return 0


def build_parser_for_tests() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rome known-facts")
    add_arguments(parser)
    return parser
