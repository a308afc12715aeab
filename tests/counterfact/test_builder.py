from collections import Counter

import pytest

from counterfact.builder import build_counterfact, build_to_file, usable_facts
from counterfact.errors import CorpusError
from counterfact.pararel import load_pararel
from counterfact.records import load_records
from counterfact.validate import validate_records

from counterfact_testdata import TEMPLATE_RESOURCES

SENTENCES = [f"Sentence number {i} is here." for i in range(50)]


def build(pararel_dir, seed=0, **kw):
    data = load_pararel(pararel_dir)
    return build_counterfact(data, ["P1", "P2"], SENTENCES, seed=seed, template_resources=TEMPLATE_RESOURCES, **kw)


def test_drop_reasons_are_reported(pararel_dir):
    records, report = build(pararel_dir, drop_incomplete=False)  # default policy: keep-first
    rep = report.to_dict()
    assert rep["policy"]["ambiguous"] == "keep-first"
    reasons = Counter((d["subject"], d["reason"]) for d in rep["dropped_facts"])
    assert reasons[("Fr0", "duplicate_fact")] == 1
    # keep-first: Amb's first fact (French) is a record, its second (English) is reported
    assert reasons[("Amb", "ambiguous_subject")] == 1
    assert [d["object"] for d in rep["dropped_facts"] if d["subject"] == "Amb"] == ["English"]
    assert reasons[("La0", "no_neighbor_subject")] == 1
    assert all(reasons[(f"Only{i}", "no_alternative_object")] == 1 for i in range(3))
    subjects = {r["requested_rewrite"]["subject"] for r in records}
    assert subjects == {f"Fr{i}" for i in range(6)} | {f"En{i}" for i in range(4)} | {"De0", "De1", "Amb"}
    # every fact is either a record or a dropped fact
    assert rep["n_records"] + rep["n_dropped"] == rep["n_facts"] == 16 + 3
    # German has one neighbour and 7 templates: 7 neighbourhood prompts, reported as a shortfall
    de = [r for r in records if r["requested_rewrite"]["subject"] == "De0"][0]
    assert len(de["neighborhood_prompts"]) == 7
    assert rep["shortfalls"]["neighborhood_prompts"] >= 2


def test_drop_policy_leaves_out_every_fact_of_an_ambiguous_subject(pararel_dir):
    records, report = build(pararel_dir, ambiguous="drop", drop_incomplete=False)
    rep = report.to_dict()
    assert rep["policy"]["ambiguous"] == "drop"
    reasons = Counter((d["subject"], d["reason"]) for d in rep["dropped_facts"])
    assert reasons[("Amb", "ambiguous_subject")] == 2
    subjects = {r["requested_rewrite"]["subject"] for r in records}
    assert subjects == {f"Fr{i}" for i in range(6)} | {f"En{i}" for i in range(4)} | {"De0", "De1"}
    assert rep["n_records"] + rep["n_dropped"] == rep["n_facts"] == 16 + 3
    default_records, _ = build(pararel_dir, drop_incomplete=False)
    assert len(default_records) == len(records) + 1


def test_incomplete_records_dropped_by_default(pararel_dir):
    records, report = build(pararel_dir)
    assert not validate_records(records)
    assert {"De0", "De1"} <= {d["subject"] for d in report.dropped if d["reason"] == "incomplete_prompts"}


def test_keep_first_policy_keeps_one_fact_of_ambiguous_subject(pararel_dir):
    records, report = build(pararel_dir, drop_incomplete=False)  # keep-first is the default
    amb = [r for r in records if r["requested_rewrite"]["subject"] == "Amb"]
    assert len(amb) == 1
    assert amb[0]["requested_rewrite"]["target_true"]["str"] == "French"  # the first line
    assert amb[0]["requested_rewrite"]["target_new"]["str"] not in {"French", "English"}
    # ambiguous subjects never serve as neighbours or attribute subjects
    assert not any("Amb" in p for r in records for p in r["neighborhood_prompts"] + r["attribute_prompts"])


def test_record_contents_follow_the_construction(pararel_dir):
    records, _ = build(pararel_dir, drop_incomplete=False)
    data = load_pararel(pararel_dir)
    obj_of = {}
    for f in data.facts["P1"]:
        obj_of.setdefault(f.subject, f.object)  # keep-first: an ambiguous subject's first object
    subjects_of = {}  # neighbour / attribute pools: unambiguous subjects only
    for s, o in obj_of.items():
        if s != "Amb":
            subjects_of.setdefault(o, set()).add(s)
    assert "Amb" in {r["requested_rewrite"]["subject"] for r in records}
    for i, r in enumerate(records):
        rw = r["requested_rewrite"]
        assert r["case_id"] == i
        assert rw["target_new"]["str"] != rw["target_true"]["str"]
        assert obj_of[rw["subject"]] == rw["target_true"]["str"]
        assert data.facts["P1"][r["pararel_idx"]].subject == rw["subject"]
        for p in r["paraphrase_prompts"]:
            prefix = p.split(". ", 1)[0] + "."
            assert prefix in SENTENCES and rw["subject"] in p
        for p, pool in (("neighborhood_prompts", subjects_of[rw["target_true"]["str"]] - {rw["subject"]}),
                        ("attribute_prompts", subjects_of[rw["target_new"]["str"]])):
            for prompt in r[p]:
                assert any(s in prompt.split() or prompt.startswith(s) or f" {s} " in prompt or f" {s}'" in prompt
                           or prompt.endswith(f" {s}") or f"{s}," in prompt for s in pool), (p, prompt)
            assert len(set(r[p])) == len(r[p])
        assert len(r["generation_prompts"]) == 10


def test_same_seed_same_bytes_other_seed_other_bytes(pararel_dir, corpus_file, templates_yaml, tmp_path):
    outs = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        build_to_file(pararel_dir, tmp_path / f"{name}.json", corpus_file, seed=seed, relations=["P1", "P2"],
                      templates_path=templates_yaml, drop_incomplete=False, report_path=tmp_path / f"{name}.rep.json")
        outs.append((tmp_path / f"{name}.json").read_bytes())
    assert outs[0] == outs[1]
    assert outs[0] != outs[2]
    assert load_records(tmp_path / "a.json")


def test_counterfactual_follows_object_frequency(tmp_path):
    """Over many subjects sharing one true object, o_new follows the other objects' frequencies."""
    from counterfact_testdata import make_pararel

    facts = ([(f"A{i}", "Alpha") for i in range(600)] + [(f"B{i}", "Beta") for i in range(100)]
             + [(f"C{i}", "Gamma") for i in range(300)])
    root = make_pararel(tmp_path / "pp", {"P3": (facts, ["[X] is in [Y].", "[X] lies in [Y].", "[X], in [Y]."])})
    data = load_pararel(root, ["P3"])
    res = {"P3": {"rewrites": [], "generation": ["{} is"]}}
    records, _ = build_counterfact(data, ["P3"], SENTENCES, seed=1, template_resources=res, drop_incomplete=False)
    new_for_alpha = Counter(r["requested_rewrite"]["target_new"]["str"] for r in records
                            if r["requested_rewrite"]["target_true"]["str"] == "Alpha")
    assert "Alpha" not in new_for_alpha
    share_gamma = new_for_alpha["Gamma"] / sum(new_for_alpha.values())
    assert abs(share_gamma - 0.75) < 0.06  # 300 / (300 + 100), n = 600


def test_missing_relation_is_reported_not_fatal(pararel_dir):
    data = load_pararel(pararel_dir)
    records, report = build_counterfact(data, ["P1", "P404"], SENTENCES, template_resources=TEMPLATE_RESOURCES,
                                        drop_incomplete=False)
    assert report.missing_relations == ["P404"] and records


def test_corpus_is_required(pararel_dir, tmp_path):
    with pytest.raises(CorpusError, match="corpus"):
        build_counterfact(load_pararel(pararel_dir), ["P1"], [], template_resources=TEMPLATE_RESOURCES)
    with pytest.raises(CorpusError, match="not found"):
        build_to_file(pararel_dir, tmp_path / "x.json", tmp_path / "missing.raw", relations=["P1"])
    assert not (tmp_path / "x.json").exists()


def test_usable_facts_default_is_keep_first(pararel_dir):
    facts = load_pararel(pararel_dir).facts["P1"]
    record_facts, pool, true_objects = usable_facts(facts)
    assert [(f.subject, f.object) for f in record_facts if f.subject == "Amb"] == [("Amb", "French")]
    assert "Amb" not in {f.subject for f in pool} and true_objects["Amb"] == {"French", "English"}
    dropped, _, _ = usable_facts(facts, ambiguous="drop")
    assert "Amb" not in {f.subject for f in dropped} and len(dropped) == len(record_facts) - 1


def test_usable_facts_rejects_unknown_policy(pararel_dir):
    with pytest.raises(ValueError):
        usable_facts(load_pararel(pararel_dir).facts["P1"], ambiguous="maybe")
