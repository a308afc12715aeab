from collections import Counter

import numpy as np
import pytest
from counterfact_testdata import TEMPLATE_RESOURCES, make_pararel

from counterfact.builder import build_counterfact, build_to_file, usable_facts
from counterfact.errors import CorpusError
from counterfact.pararel import load_pararel
from counterfact.records import load_records
from counterfact.sampling import PrefixSampler
from counterfact.validate import validate_records

# Every sentence is 5 words: complete prefixes are these sentences, fragments their first 3 or 4 words.
SENTENCES = [f"Sentence number {i} is here." for i in range(50)]


def build(pararel_dir, seed=0, **kw):
    data = load_pararel(pararel_dir)
    return build_counterfact(data, ["P1", "P2"], SENTENCES, seed=seed, template_resources=TEMPLATE_RESOURCES, **kw)


def by_subject(records):
    out = {}
    for r in records:
        out.setdefault(r["requested_rewrite"]["subject"], []).append(r)
    return out


def test_default_keeps_one_record_per_subject_object_and_reports_every_loss(pararel_dir):
    records, report = build(pararel_dir)
    rep = report.to_dict()
    assert rep["policy"]["ambiguous"] == "per-object"
    # 16 P1 lines: one duplicate, Latin has no other subject; P2 has a single object
    assert rep["dropped_by_reason_and_relation"] == {"duplicate_fact": {"P1": 1}, "no_alternative_object": {"P2": 3},
                                                     "no_neighbor_subject": {"P1": 1}}
    assert rep["n_records"] == len(records) == 14 and rep["n_records"] + rep["n_dropped"] == rep["n_facts"] == 19
    amb = by_subject(records)["Amb"]
    assert sorted(r["requested_rewrite"]["target_true"]["str"] for r in amb) == ["English", "French"]
    # the counterfactual is never one of the subject's true objects: German is the only other kept object
    assert {r["requested_rewrite"]["target_new"]["str"] for r in amb} == {"German"}
    for r in amb:  # a record's neighbourhood never uses its own subject
        assert not any("Amb" in p for p in r["neighborhood_prompts"])
    # ... while Amb, a true French and English speaker, is a neighbour of the other records
    assert any("Amb" in p for r in records for p in r["neighborhood_prompts"])
    assert rep["records_sharing_relation_subject"] == 2
    assert not validate_records(records)


def test_targets_are_kept_true_objects_only(pararel_dir):
    """Latin is a ParaRel object of P1 but no record's true object (La0 has no neighbour)."""
    for seed in range(5):
        records, _ = build(pararel_dir, seed=seed)
        targets = {r["requested_rewrite"]["target_new"]["str"] for r in records}
        assert targets <= {"French", "English", "German"} and "Latin" not in targets


def test_short_neighbourhoods_are_kept_and_counted(pararel_dir):
    records, report = build(pararel_dir)
    rep = report.to_dict()
    de = by_subject(records)
    # German: one other subject x 7 templates = 7 neighbourhood prompts, kept (not dropped)
    assert len(de["De0"][0]["neighborhood_prompts"]) == 7 and len(de["De1"][0]["neighborhood_prompts"]) == 7
    assert all(p.count("De1") == 1 for p in de["De0"][0]["neighborhood_prompts"])
    assert rep["neighborhood_counts"] == {"7": 2, "10": 12}
    assert sorted(x["case_id"] for x in rep["records_with_short_neighborhood"]) == sorted(
        r["case_id"] for r in de["De0"] + de["De1"])
    assert rep["shortfalls"]["neighborhood_prompts"] == 2


def test_keep_first_policy_keeps_one_fact_of_ambiguous_subject(pararel_dir):
    records, report = build(pararel_dir, ambiguous="keep-first")
    rep = report.to_dict()
    amb = by_subject(records)["Amb"]
    assert len(amb) == 1 and amb[0]["requested_rewrite"]["target_true"]["str"] == "French"  # the first line
    assert amb[0]["requested_rewrite"]["target_new"]["str"] == "German"
    assert [d["object"] for d in rep["dropped_facts"] if d["reason"] == "ambiguous_subject"] == ["English"]
    # under keep-first, ambiguous subjects never serve as neighbours or attribute subjects
    assert not any("Amb" in p for r in records for p in r["neighborhood_prompts"] + r["attribute_prompts"])
    assert rep["n_records"] == 13 and rep["n_records"] + rep["n_dropped"] == rep["n_facts"]


def test_drop_policy_leaves_out_every_fact_of_an_ambiguous_subject(pararel_dir):
    records, report = build(pararel_dir, ambiguous="drop")
    rep = report.to_dict()
    assert rep["dropped_by_reason"]["ambiguous_subject"] == 2 and "Amb" not in by_subject(records)
    assert rep["n_records"] == 12 and rep["n_records"] + rep["n_dropped"] == rep["n_facts"]


def group_build(tmp_path, pool=11, seed=1, extra=None):
    facts = ([(f"A{i}", "Alpha") for i in range(60)] + [(f"B{i}", "Beta") for i in range(10)]
             + [(f"C{i}", "Gamma") for i in range(30)] + [("Solo", "Delta")])
    rels = {"P3": (facts, ["[X] is in [Y].", "[X] lies in [Y].", "[X], in [Y]."])}
    rels.update(extra or {})
    root = make_pararel(tmp_path / f"pp{pool}{seed}{bool(extra)}", rels)
    data = load_pararel(root, list(rels))
    res = {"P3": {"rewrites": [f"{{}} template {i} is" for i in range(8)], "generation": ["{} is"]},
           "P4": {"rewrites": [f"{{}} other {i} is" for i in range(8)], "generation": ["{} was"]}}
    return build_counterfact(data, list(rels), SENTENCES, seed=seed, template_resources=res, neighbour_pool=pool)


def test_neighbourhoods_reuse_a_pool_per_relation_and_true_object(tmp_path):
    records, _ = group_build(tmp_path, pool=11)
    alpha = [r for r in records if r["requested_rewrite"]["target_true"]["str"] == "Alpha"]
    assert len(alpha) == 60
    distinct = {p for r in alpha for p in r["neighborhood_prompts"]}
    # 60 records share one pool of 11 prompts (10 + 1 spare for a record whose subject is in it)
    assert len(distinct) == 11
    for r in alpha:
        own = r["requested_rewrite"]["subject"]
        assert len(set(r["neighborhood_prompts"])) == 10
        assert not any(p.startswith((own + " ", own + ",")) for p in r["neighborhood_prompts"])
    records30, _ = group_build(tmp_path, pool=30)
    alpha30 = [r for r in records30 if r["requested_rewrite"]["target_true"]["str"] == "Alpha"]
    assert 11 < len({p for r in alpha30 for p in r["neighborhood_prompts"]}) <= 30
    # a relation added to the build leaves this relation's pools unchanged
    more, _ = group_build(tmp_path, pool=11, extra={"P4": ([(f"X{i}", "Xo") for i in range(5)]
                                                           + [(f"Y{i}", "Yo") for i in range(5)], ["[X] has [Y]."])})
    assert {p for r in more if r["requested_rewrite"]["target_true"]["str"] == "Alpha"
            for p in r["neighborhood_prompts"]} == distinct


def test_counterfactual_follows_kept_record_frequency(tmp_path):
    """Over the Alpha records, o_new is Beta or Gamma in proportion 10 : 30; Delta (no kept record) never."""
    new = Counter()
    for seed in range(4):
        records, _ = group_build(tmp_path, seed=seed)
        new.update(r["requested_rewrite"]["target_new"]["str"] for r in records
                   if r["requested_rewrite"]["target_true"]["str"] == "Alpha")
    assert set(new) == {"Beta", "Gamma"}
    share_gamma = new["Gamma"] / sum(new.values())
    assert abs(share_gamma - 0.75) < 5 * (0.75 * 0.25 / 240) ** 0.5


def test_prefix_sampler_lengths_and_fragments():
    sentences = ([f"W{i} " * (n - 1) + "end." for n in range(3, 11) for i in range(5)]
                 + ["Long " * 20 + "sentence." for _ in range(3)])
    whole = {s.strip() for s in sentences}
    sampler = PrefixSampler([s.strip() for s in sentences])
    rng = np.random.default_rng(0)
    draws = [sampler(rng) for _ in range(4000)]
    lengths = [len(d.split()) for d in draws]
    assert min(lengths) == 3 and max(lengths) == 10 and np.median(lengths) == 7
    fragments = [d for d in draws if d not in whole]
    assert all(any(s.startswith(d) for s in whole) for d in fragments)
    assert abs(len(fragments) / len(draws) - 0.27) < 0.03


def test_paraphrases_are_prefix_plus_template(pararel_dir):
    records, report = build(pararel_dir)
    for r in records:
        subject = r["requested_rewrite"]["subject"]
        for p in r["paraphrase_prompts"]:
            words = p.split()
            # 5-word sentences: a whole one, or its first 3 or 4 words
            assert words[:2] == ["Sentence", "number"] and subject in p
    pw = report.to_dict()["paraphrase_prefix_words"]
    assert pw["released"]["median"] == 7 and 3 <= pw["ours"]["min"] and pw["ours"]["max"] <= 5


def test_same_seed_same_bytes_other_seed_other_bytes(pararel_dir, corpus_file, templates_yaml, tmp_path):
    outs = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        build_to_file(pararel_dir, tmp_path / f"{name}.json", corpus_file, seed=seed, relations=["P1", "P2"],
                      templates_path=templates_yaml, report_path=tmp_path / f"{name}.rep.json")
        outs.append((tmp_path / f"{name}.json").read_bytes())
    assert outs[0] == outs[1]
    assert outs[0] != outs[2]
    assert load_records(tmp_path / "a.json")
    # the report too (no wall-clock time in it): rebuilding "a" gives the same report bytes
    first = (tmp_path / "a.rep.json").read_bytes()
    again = build_to_file(pararel_dir, tmp_path / "a.json", corpus_file, seed=3, relations=["P1", "P2"],
                          templates_path=templates_yaml, report_path=tmp_path / "a.rep.json")
    assert (tmp_path / "a.rep.json").read_bytes() == first
    assert b"seconds" not in first and again["seconds"] >= 0


def test_missing_relation_is_reported_not_fatal(pararel_dir):
    data = load_pararel(pararel_dir)
    records, report = build_counterfact(data, ["P1", "P404"], SENTENCES, template_resources=TEMPLATE_RESOURCES)
    assert report.missing_relations == ["P404"] and records


def test_corpus_is_required(pararel_dir, tmp_path):
    with pytest.raises(CorpusError, match="corpus"):
        build_counterfact(load_pararel(pararel_dir), ["P1"], [], template_resources=TEMPLATE_RESOURCES)
    with pytest.raises(CorpusError, match="not found"):
        build_to_file(pararel_dir, tmp_path / "x.json", tmp_path / "missing.raw", relations=["P1"])
    assert not (tmp_path / "x.json").exists()


def test_usable_facts_policies(pararel_dir):
    facts = load_pararel(pararel_dir).facts["P1"]
    record_facts, pool, true_objects = usable_facts(facts)  # per-object
    assert [(f.subject, f.object) for f in record_facts if f.subject == "Amb"] == [("Amb", "French"), ("Amb", "English")]
    assert "Amb" in {f.subject for f in pool} and true_objects["Amb"] == {"French", "English"}
    first, pool_first, _ = usable_facts(facts, ambiguous="keep-first")
    assert [(f.subject, f.object) for f in first if f.subject == "Amb"] == [("Amb", "French")]
    assert "Amb" not in {f.subject for f in pool_first}
    dropped, _, _ = usable_facts(facts, ambiguous="drop")
    assert "Amb" not in {f.subject for f in dropped} and len(dropped) == len(record_facts) - 2
    with pytest.raises(ValueError):
        usable_facts(facts, ambiguous="maybe")
