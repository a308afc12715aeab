import json

import pytest
from counterfact_testdata import P1_FACTS, write_jsonl

from counterfact.errors import DataError
from counterfact.pararel import load_pararel, read_facts, read_patterns, relation_sort_key


def test_reads_facts_and_patterns(pararel_dir):
    data = load_pararel(pararel_dir)
    assert data.relations() == ["P1", "P2"]
    assert [(f.subject, f.object) for f in data.facts["P1"]] == P1_FACTS
    assert data.patterns["P1"][0].text == "The language of [X] is [Y]."


def test_pararel_idx_is_global_and_independent_of_selection(pararel_dir):
    full = load_pararel(pararel_dir)
    only_p2 = load_pararel(pararel_dir, ["P2"])
    assert "P1" not in only_p2.facts
    assert [f.pararel_idx for f in only_p2.facts["P2"]] == [f.pararel_idx for f in full.facts["P2"]]
    assert only_p2.facts["P2"][0].pararel_idx == len(P1_FACTS)


def test_relation_order_is_numeric():
    assert sorted(["P101", "P17", "P1412", "P19"], key=relation_sort_key) == ["P17", "P19", "P101", "P1412"]


@pytest.mark.parametrize("line, reason", [
    ("{not json", "invalid JSON"),
    (json.dumps({"obj_label": "x"}), "missing field 'sub_label'"),
    (json.dumps({"sub_label": 3, "obj_label": "x"}), "must be a string"),
    (json.dumps({"sub_label": "  ", "obj_label": "x"}), "is empty"),
    (json.dumps(["a", "b"]), "expected a JSON object"),
])
def test_bad_fact_line_names_file_line_and_reason(tmp_path, line, reason):
    p = tmp_path / "P9.jsonl"
    p.write_text(json.dumps({"sub_label": "a", "obj_label": "b"}) + "\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(DataError) as exc:
        read_facts(p, "P9")
    assert exc.value.line == 3
    assert str(p) in str(exc.value) and "line 3" in str(exc.value) and reason in str(exc.value)


def test_bad_pattern_line(tmp_path):
    p = write_jsonl(tmp_path / "P9.jsonl", [{"pattern": "[X] is [Y]."}, {"pattern": "no placeholders"}])
    with pytest.raises(DataError, match=r"P9.jsonl, line 2: pattern must contain \[X\] and \[Y\]"):
        read_patterns(p, "P9")


def test_missing_directory_mentions_config_key(tmp_path):
    with pytest.raises(DataError, match="paths.pararel"):
        load_pararel(tmp_path / "nowhere")
