import json

import pytest
import torch

from counterfact.errors import DataError
from counterfact.known_facts import (greedy_continuation, load_known_facts, named_first, select_known_facts,
                                     write_known_facts)

from counterfact_testdata import good_record


def test_named_first_rule():
    assert named_first(" of Antarctica. It is", "Antarctica") == 4
    assert named_first(" Amazon.com, Inc.", "Amazon") == 1
    assert named_first(" the city of Paris", "Paris") == 13
    assert named_first(" in London, not Paris", "Paris") is None     # another capitalised word first
    assert named_first(" in Parisian style", "Paris") == 4             # word start suffices (as released)
    assert named_first(" in suburbParis", "Paris") is None             # not at a word start
    assert named_first(" nowhere", "Paris") is None


@pytest.fixture(scope="module")
def tiny():
    from transformers import GPT2Config, GPT2LMHeadModel

    try:
        from rome.testing import gpt2_tokenizer
    except ImportError:  # pragma: no cover
        pytest.skip("rome.testing.gpt2_tokenizer not available")
    tok = gpt2_tokenizer()
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=len(tok), n_positions=64))
    model.eval()
    return model, tok


def record(case_id, subject, obj, prompt="{} lives in"):
    r = good_record(case_id, subject)
    r["requested_rewrite"]["prompt"] = prompt
    r["requested_rewrite"]["target_true"]["str"] = obj
    return r


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
    known = select_known_facts(model, tok, recs, max_new_tokens=5)
    assert len(known) == 1
    k = known[0]
    assert k["known_id"] == 0 and k["subject"] == subject and k["attribute"] == word
    assert k["prompt"] == f"{subject} lives in" and k["template"] == "{} lives in"
    assert k["prediction"].startswith(" " + word) and k["relation_id"] == "P103"
    out = tmp_path / "known.json"
    write_known_facts(out, known)
    assert load_known_facts(out) == known
    assert select_known_facts(model, tok, recs, max_new_tokens=5, limit=0) == []


def test_known_facts_validation_errors(tmp_path):
    good = {"known_id": 0, "subject": "A", "attribute": "B", "template": "{} is in", "prediction": " B",
            "prompt": "A is in", "relation_id": "P1"}
    for change, field in (({"known_id": "0"}, "known_id"), ({"template": "is in"}, "template"),
                          ({"prompt": "X is in"}, "prompt")):
        p = tmp_path / "k.json"
        p.write_text(json.dumps([good, {**good, "known_id": 1, **change}]), encoding="utf-8")
        with pytest.raises(DataError) as exc:
            load_known_facts(p)
        assert exc.value.index == 1 and exc.value.field == field
