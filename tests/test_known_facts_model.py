"""rome known-facts: the model callables given to counterfact's selection rule (tiny GPT-2)."""
import pytest
import torch

from counterfact.known_facts import load_known_facts, write_known_facts
from rome.known_facts import (
    build_parser_for_tests,
    greedy_continuation,
    select_with_model,
)


@pytest.fixture(scope="module")
def tiny():
    from transformers import GPT2Config, GPT2LMHeadModel

    from rome.testing import gpt2_tokenizer

    tok = gpt2_tokenizer()
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=len(tok), n_positions=64))
    model.eval()
    return model, tok


def record(case_id, subject, obj, prompt="{} lives in"):
    from counterfact.schema import make_record

    return make_record(case_id, 0, prompt, "P103", subject, "Zzyzxqq" if obj != "Zzyzxqq" else "Qq", obj,
                       [f"x. {subject} a", f"y. {subject} b"], ["n"] * 10, ["a"] * 10, [subject] * 10)


def test_selects_exactly_the_facts_the_model_predicts(tiny, tmp_path):
    model, tok = tiny
    chosen = None
    for i in range(40):
        subject = f"Person{i}"
        first = tok.decode(greedy_continuation(model, tok, f"{subject} lives in", 3)[:1])
        if first.startswith(" ") and first.strip().isalpha() and first.strip()[0].islower():
            chosen = subject, first.strip()
            break
    assert chosen, "no subject with an alphabetic greedy continuation"
    subject, word = chosen
    recs = [record(0, subject, word), record(1, subject + "x", "Zzyzxqq"), record(2, subject, "Zzyzxqq", "{} was in")]
    known = select_with_model(model, tok, recs, max_new_tokens=5)
    assert len(known) == 1
    k = known[0]
    assert k["known_id"] == 0 and k["subject"] == subject and k["attribute"] == word
    assert k["prompt"] == f"{subject} lives in" and k["template"] == "{} lives in"
    assert k["prediction"].startswith(" " + word) and k["relation_id"] == "P103"
    out = tmp_path / "known.json"
    write_known_facts(out, known)
    assert load_known_facts(out) == known
    assert select_with_model(model, tok, recs, max_new_tokens=5, limit=0) == []


def test_rome_cli_has_known_facts():
    from rome.cli import COMMANDS

    assert COMMANDS["known-facts"][0] == "rome.known_facts"
    args = build_parser_for_tests().parse_args(["--records", "r.json", "--out", "k.json", "--limit", "5"])
    assert args.limit == 5 and args.model == "gemma-3-270m" and args.device == "cpu"
