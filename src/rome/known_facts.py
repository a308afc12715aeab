"""``rome known-facts``: the facts a model knows, selected from COUNTERFACT records.

The selection rule and the ``known_1000.json`` format live in
:mod:`counterfact.known_facts` (no model code there); this module loads the model and
gives that rule its three callables: the greedy continuation, the argmax next token and
the first token of an object.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable

import torch


def _device(model) -> torch.device:
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def _ids(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text)["input_ids"])


@torch.no_grad()
def greedy_continuation(model, tokenizer, text: str, max_new_tokens: int = 10) -> list[int]:
    """Greedy token ids after ``text`` (stops at EOS).

    Uses ``model.generate(do_sample=False)`` when the model has it (Hugging Face models);
    otherwise a manual greedy loop that re-runs the whole sequence each step.
    """
    device = _device(model)
    ids = torch.tensor([_ids(tokenizer, text)], device=device)
    eos = getattr(tokenizer, "eos_token_id", None)
    if hasattr(model, "generate"):
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                             do_sample=False, num_beams=1, pad_token_id=eos if eos is not None else 0)
        gen = [int(t) for t in out[0, ids.shape[1]:]]
        if eos is not None and eos in gen:
            gen = gen[: gen.index(eos) + 1]
        return gen
    out_ids: list[int] = []
    for _ in range(max_new_tokens):
        nxt = int(model(input_ids=ids).logits[0, -1].argmax())
        out_ids.append(nxt)
        if eos is not None and nxt == eos:
            break
        ids = torch.cat([ids, torch.tensor([[nxt]], device=device)], dim=1)
    return out_ids


@torch.no_grad()
def argmax_next_token(model, tokenizer, text: str) -> int:
    ids = torch.tensor([_ids(tokenizer, text)], device=_device(model))
    return int(model(input_ids=ids).logits[0, -1].argmax())


def first_object_token(tokenizer, obj: str) -> str:
    ids = tokenizer(" " + obj, add_special_tokens=False)["input_ids"]
    return tokenizer.decode(ids[:1]).strip() if ids else ""


TextFn = Callable[[str], str]


def model_callables(model, tokenizer, max_new_tokens: int = 10) -> tuple[TextFn, TextFn, TextFn]:
    """``(continue_text, next_token, first_token)`` for :func:`counterfact.known_facts.select_known_facts`."""
    def continue_text(text: str) -> str:
        return tokenizer.decode(greedy_continuation(model, tokenizer, text, max_new_tokens))

    def next_token(text: str) -> str:
        return tokenizer.decode([argmax_next_token(model, tokenizer, text)])

    def first_token(obj: str) -> str:
        return first_object_token(tokenizer, obj)

    return continue_text, next_token, first_token


def select_with_model(model, tokenizer, records: list[dict], max_new_tokens: int = 10, limit: int | None = None,
                      max_known: int | None = None, progress: bool = False) -> list[dict]:
    """Known facts of ``model`` among ``records`` (the model is put in eval mode meanwhile)."""
    from counterfact.known_facts import select_known_facts

    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        return select_known_facts(records, *model_callables(model, tokenizer, max_new_tokens), limit=limit,
                                  max_known=max_known, progress=progress)
    finally:
        if was_training and hasattr(model, "train"):
            model.train()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from counterfact.cliargs import nonnegative_int, positive_int
    from replkit.cli import add_progress_option

    from .model_info import add_model_arguments

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

    from .model_info import load_from_args

    records = load_records(args.records)
    lm = load_from_args(args)
    known = select_with_model(lm.model, lm.tokenizer, records, max_new_tokens=args.max_new_tokens, limit=args.limit,
                              max_known=args.max_known, progress=not args.no_progress)
    write_known_facts(args.out, known)
    n = len(records) if args.limit is None else min(args.limit, len(records))
    print(f"{len(known)} known facts out of {n} records examined -> {args.out}")
    return 0


def build_parser_for_tests() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rome known-facts")
    add_arguments(parser)
    return parser
