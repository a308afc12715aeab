import json

import pytest
from counterfact_testdata import good_record

from counterfact.errors import DataError
from counterfact.known_facts import (
    check_known,
    load_known_facts,
    named_first,
    select_known_facts,
    write_known_facts,
)


def test_named_first_rule():
    assert named_first(" of Antarctica. It is", "Antarctica") == 4
    assert named_first(" Amazon.com, Inc.", "Amazon") == 1
    assert named_first(" the city of Paris", "Paris") == 13
    assert named_first(" in London, not Paris", "Paris") is None     # another capitalised word first
    assert named_first(" in Parisian style", "Paris") == 4             # word start suffices (as released)
    assert named_first(" in suburbParis", "Paris") is None             # not at a word start
    assert named_first(" nowhere", "Paris") is None


def record(case_id, subject, obj, prompt="{} lives in"):
    r = good_record(case_id, subject)
    r["requested_rewrite"]["prompt"] = prompt
    r["requested_rewrite"]["target_true"]["str"] = obj
    return r


# A scripted "model": continuations and next tokens looked up in tables (no model code).
CONTINUATIONS = {"Ann lives in": " the city of Paris, where", "Bob lives in": " London and Paris",
                 "Cid lives in": " Rome.", "Ann was in": " Paris."}
NEXT = {"Ann lives in the city of": " Paris", "Cid lives in": " Milan", "Ann was in": " Paris"}


def continue_text(text):
    return CONTINUATIONS.get(text, " nothing")


def next_token(text):
    return NEXT.get(text, " ?")


def first_token(obj):
    return " " + obj.split()[0]


def test_check_known_hand_computed():
    hit = check_known("{} lives in", "Ann", "Paris", continue_text, next_token, first_token)
    assert hit == {"subject": "Ann", "attribute": "Paris", "template": "{} lives in",
                   "prediction": " the city of Paris, where", "prompt": "Ann lives in the city of"}
    # London is named before Paris: not known
    assert check_known("{} lives in", "Bob", "Paris", continue_text, next_token, first_token) is None
    # named first, but the argmax after the prompt is another token: not known
    assert check_known("{} lives in", "Cid", "Rome", continue_text, next_token, first_token) is None


def test_select_known_facts_once_per_subject_relation(tmp_path):
    recs = [record(0, "Ann", "Paris"), record(1, "Bob", "Paris"), record(2, "Ann", "Paris", "{} was in"),
            record(3, "Cid", "Rome")]
    known = select_known_facts(recs, continue_text, next_token, first_token)
    # record 2 has the same (subject, relation) as record 0: not tried again
    assert [(k["known_id"], k["subject"], k["prompt"]) for k in known] == [(0, "Ann", "Ann lives in the city of")]
    assert known[0]["relation_id"] == "P103"
    out = tmp_path / "known.json"
    write_known_facts(out, known)
    assert load_known_facts(out) == known
    assert select_known_facts(recs, continue_text, next_token, first_token, limit=0) == []


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
