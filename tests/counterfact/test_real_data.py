"""A few checks on the real local copies (ROME_SHARED_DATA, default <repo>/../shared/data)."""
import pytest
from counterfact_testdata import shared_data

from counterfact.config import default_relations
from counterfact.pararel import load_pararel
from counterfact.templates import load_template_resources, relation_templates

DATA = shared_data()
needs_data = pytest.mark.skipif(not (DATA / "pararel" / "facts").is_dir(),
                                reason=f"shared data not found at {DATA} (set ROME_SHARED_DATA)")


@needs_data
def test_every_default_relation_has_ten_templates():
    data = load_pararel(DATA / "pararel", default_relations())
    assert set(default_relations()) <= set(data.facts)
    res = load_template_resources()
    for rel in default_relations():
        t = relation_templates(rel, data.patterns[rel], res)
        assert len(t.templates) >= 10, rel
        assert all(x.count("{}") == 1 for x in t.templates)
    assert sum(len(v) for v in data.facts.values()) == 23522


@needs_data
def test_small_real_build_validates():
    from counterfact.builder import build_counterfact
    from counterfact.validate import validate_records

    data = load_pararel(DATA / "pararel", ["P103", "P1303"])
    sentences = [f"This is unrelated sentence {i}." for i in range(100)]
    records, report = build_counterfact(data, ["P103", "P1303"], sentences, seed=0)
    assert validate_records(records) == []
    rep = report.to_dict()
    assert rep["n_records"] + rep["n_dropped"] == rep["n_facts"] == 919 + 513
    assert rep["n_records"] > 1300


@needs_data
def test_released_known_facts_and_zsre_load():
    from counterfact.known_facts import load_known_facts
    from counterfact.zsre import load_zsre

    known = load_known_facts(DATA / "known_1000.json")
    assert len(known) == 1209 and len({k["relation_id"] for k in known}) == 33
    assert len(load_zsre(DATA / "zsre" / "zsre_eval_1037.json")) == 1037
