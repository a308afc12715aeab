import json

import pytest

from counterfact.errors import DataError
from counterfact.zsre import load_zsre

RAW = {"subject": "Ramalinaceae", "src": "Which family does Ramalinaceae belong to?", "pred": "Ramalinales",
       "rephrase": "What family are Ramalinaceae?", "alt": "Lamiinae", "answers": ["Lecanorales", "x"],
       "loc": "nq question: types of skiing", "loc_ans": "Downhill", "cond": "Ramalinales >> Lamiinae || ..."}


def write(tmp_path, data):
    p = tmp_path / "z.json"
    p.write_text(json.dumps(data), encoding="utf-8")
    return p


def test_mapping(tmp_path):
    [req] = load_zsre(write(tmp_path, [RAW]))
    rw = req["requested_rewrite"]
    assert rw["prompt"] == "Which family does {} belong to?" and rw["subject"] == "Ramalinaceae"
    assert rw["target_new"]["str"] == "Lecanorales" and rw["target_true"] is None
    assert req["paraphrase_prompts"] == ["What family are Ramalinaceae?"]
    assert req["neighborhood"] == {"prompt": "nq question: types of skiing", "target": "Downhill"}
    assert req["zsre"]["alt"] == "Lamiinae"


@pytest.mark.parametrize("change, field", [
    ({"answers": []}, "answers"),
    ({"answers": "Lecanorales"}, "answers"),
    ({"rephrase": ""}, "rephrase"),
    ({"src": "Which family is it?"}, "src"),
    ({"loc_ans": 3}, "loc_ans"),
])
def test_errors_name_file_index_field(tmp_path, change, field):
    p = write(tmp_path, [RAW, {**RAW, **change}])
    with pytest.raises(DataError) as exc:
        load_zsre(p)
    assert exc.value.index == 1 and exc.value.field == field
    assert str(p) in str(exc.value) and "record 1" in str(exc.value)


def test_missing_field(tmp_path):
    bad = dict(RAW)
    del bad["loc"]
    with pytest.raises(DataError, match="record 0, field 'loc': missing field"):
        load_zsre(write(tmp_path, [bad]))


def test_limit(tmp_path):
    assert len(load_zsre(write(tmp_path, [RAW] * 5), limit=2)) == 2
