"""rome known-facts: the model callables given to counterfact's selection rule (tiny GPT-2)."""
import pytest
import torch

from counterfact.known_facts import load_known_facts, write_known_facts
from rome.model.queries import next_token
from rome.tracing.known_facts import (
    build_parser_for_tests,
    greedy_continuation,
    select_with_model,
)


def _argmax_until_eos(lm, text: str, n: int) -> list[int]:
    """Greedy decoding written out: re-run the whole sequence, take the argmax, stop after EOS."""
    ids = list(lm.tokenizer(text)["input_ids"])
    out: list[int] = []
    with torch.no_grad():
        for _ in range(n):
            nxt = int(lm.model(input_ids=torch.tensor([ids])).logits[0, -1].argmax())
            out.append(nxt)
            if nxt == lm.tokenizer.eos_token_id:
                break
            ids.append(nxt)
    return out


@pytest.mark.parametrize("fixture", ["tiny_gpt2", "tiny_gemma"])
def test_greedy_continuation_is_argmax_decoding_stopping_at_eos(fixture, request):
    lm = request.getfixturevalue(fixture)
    for text in ["Person3 lives in", "The Eiffel Tower is in the city of"]:
        assert greedy_continuation(lm, text, 6) == _argmax_until_eos(lm, text, 6)
        assert next_token(lm, text) == lm.tokenizer.decode(_argmax_until_eos(lm, text, 1)).strip()


def test_greedy_continuation_ends_at_the_first_eos(tiny_gpt2):
    """A model whose every next token is EOS gives one token, the EOS, however many were asked for:
    the final norm outputs all ones and only EOS's output row is non-zero."""
    lm = tiny_gpt2
    eos = lm.tokenizer.eos_token_id
    head, norm = lm.model.get_output_embeddings().weight, lm.model.transformer.ln_f
    saved = [t.detach().clone() for t in (head, norm.weight, norm.bias)]
    try:
        with torch.no_grad():
            head.zero_()
            head[eos] = 1.0
            norm.weight.zero_()
            norm.bias.fill_(1.0)
        assert greedy_continuation(lm, "Person3 lives in", 5) == [eos]
        assert next_token(lm, "Person3 lives in") == lm.tokenizer.decode([eos]).strip()
    finally:
        with torch.no_grad():
            for t, v in zip((head, norm.weight, norm.bias), saved):
                t.copy_(v)


def record(case_id, subject, obj, prompt="{} lives in"):
    from counterfact.schema import make_record

    return make_record(case_id, 0, prompt, "P103", subject, "Zzyzxqq" if obj != "Zzyzxqq" else "Qq", obj,
                       [f"x. {subject} a", f"y. {subject} b"], ["n"] * 10, ["a"] * 10, [subject] * 10)


def test_selects_exactly_the_facts_the_model_predicts(tiny_gpt2, tmp_path):
    lm = tiny_gpt2
    tok = lm.tokenizer
    chosen = None
    for i in range(40):
        subject = f"Person{i}"
        first = tok.decode(greedy_continuation(lm, f"{subject} lives in", 3)[:1])
        if first.startswith(" ") and first.strip().isalpha() and first.strip()[0].islower():
            chosen = subject, first.strip()
            break
    assert chosen, "no subject with an alphabetic greedy continuation"
    subject, word = chosen
    recs = [record(0, subject, word), record(1, subject + "x", "Zzyzxqq"), record(2, subject, "Zzyzxqq", "{} was in")]
    known = select_with_model(lm, recs, max_new_tokens=5)
    assert len(known) == 1
    k = known[0]
    assert k["known_id"] == 0 and k["subject"] == subject and k["attribute"] == word
    assert k["prompt"] == f"{subject} lives in" and k["template"] == "{} lives in"
    assert k["prediction"].startswith(" " + word) and k["relation_id"] == "P103"
    out = tmp_path / "known.json"
    write_known_facts(out, known)
    assert load_known_facts(out) == known
    assert select_with_model(lm, recs, max_new_tokens=5, limit=0) == []


def test_rome_cli_has_known_facts():
    from rome.cli.main import COMMANDS

    assert COMMANDS["known-facts"][0] == "rome.tracing.known_facts"
    args = build_parser_for_tests().parse_args(["--records", "r.json", "--out", "k.json", "--limit", "5"])
    assert args.limit == 5 and args.model == "gemma-3-270m" and args.device == "cpu"
