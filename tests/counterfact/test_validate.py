import copy
import json

import pytest
from counterfact_testdata import good_record

from counterfact.cli import main
from counterfact.validate import load_valid_records, validate_records


def checks(records, **kw):
    return [(v.case_id, v.check) for v in validate_records(records, **kw)]


def test_good_records_pass():
    assert checks([good_record(0), good_record(1, "Léon Blum")]) == []


def mutate(fn, case_id=0):
    rec = good_record(case_id)
    fn(rec)
    return rec


@pytest.mark.parametrize("fn, check", [
    (lambda r: r["requested_rewrite"].__setitem__("prompt", "The mother tongue of is"), "prompt_placeholder"),
    (lambda r: r["requested_rewrite"].__setitem__("prompt", "{} and {} is"), "prompt_placeholder"),
    (lambda r: r["requested_rewrite"]["target_new"].__setitem__("str", "French"), "target_equal"),
    (lambda r: r.__setitem__("paraphrase_prompts", r["paraphrase_prompts"][:1]), "prompt_count"),
    (lambda r: r.__setitem__("neighborhood_prompts", []), "prompt_count"),
    (lambda r: r.__setitem__("neighborhood_prompts", r["neighborhood_prompts"] + ["x"]), "prompt_count"),
    (lambda r: r.__setitem__("attribute_prompts", r["attribute_prompts"] + ["x"]), "prompt_count"),
    (lambda r: r.__setitem__("generation_prompts", []), "prompt_count"),
    (lambda r: r["paraphrase_prompts"].__setitem__(1, "A sentence. Somebody else speaks"), "subject_missing"),
    (lambda r: r["neighborhood_prompts"].__setitem__(3, "The mother tongue of Danielle Darrieux is"),
     "neighborhood_own_subject"),
    (lambda r: r.pop("attribute_prompts"), "missing_key"),
    (lambda r: r["requested_rewrite"].pop("subject"), "missing_key"),
    (lambda r: r["requested_rewrite"]["target_true"].pop("id"), "missing_key"),
    (lambda r: r.__setitem__("extra", 1), "unexpected_key"),
    (lambda r: r.__setitem__("pararel_idx", "7"), "type"),
    (lambda r: r.__setitem__("neighborhood_prompts", "not a list"), "type"),
    (lambda r: r["requested_rewrite"].__setitem__("target_new", "English"), "type"),
])
def test_each_invariant_is_detected(fn, check):
    recs = [good_record(0), mutate(fn, 1), good_record(2, "Léon Blum")]
    found = checks(recs)
    assert (1, check) in found
    assert all(cid == 1 for cid, _ in found), found


def test_case_ids_must_be_dense_and_unique():
    recs = [good_record(0), good_record(2), good_record(2)]
    found = checks(recs)
    assert (2, "case_id_dense") in found and (2, "case_id_duplicate") in found
    bad = good_record(0)
    bad["case_id"] = "0"
    assert ("#0", "type") in checks([bad])


def test_all_violations_reported_not_only_first():
    recs = [mutate(lambda r: r["requested_rewrite"]["target_new"].__setitem__("str", "French"), i) for i in range(5)]
    assert [cid for cid, c in checks(recs) if c == "target_equal"] == [0, 1, 2, 3, 4]


def test_lenient_counts():
    rec = mutate(lambda r: r.__setitem__("generation_prompts", r["generation_prompts"][:4]))
    assert checks([rec], strict_counts=False) == []
    assert checks([rec]) == [(0, "prompt_count")]


def test_fewer_than_ten_neighbourhood_and_attribute_prompts_are_valid():
    """A record keeps the neighbourhood that exists (the metrics average over it)."""
    rec = mutate(lambda r: (r.__setitem__("neighborhood_prompts", r["neighborhood_prompts"][:4]),
                            r.__setitem__("attribute_prompts", r["attribute_prompts"][:1])))
    assert checks([rec]) == []


def test_released_conventions_are_accepted(tmp_path):
    """The released file's Wikidata ids and pararel_idx; every loader takes them."""
    from counterfact.splits import write_split
    from counterfact.stats import compute_stats

    recs = [good_record(0), good_record(1, "Léon Blum")]
    for r, idx in zip(recs, (2796, 11)):
        r["pararel_idx"] = idx
        r["requested_rewrite"]["target_new"]["id"] = "Q1860"
        r["requested_rewrite"]["target_true"]["id"] = "Q150"
    f = tmp_path / "released_like.json"
    f.write_text(json.dumps(recs), encoding="utf-8")
    assert main(["validate", str(f)]) == 0
    assert load_valid_records(f) == recs
    assert compute_stats(recs)["n_records"] == 2
    assert write_split(f, tmp_path / "split.json", eval_fraction=0.5, seed=0)["n"] == 2
    empty_id = copy.deepcopy(recs)
    empty_id[1]["requested_rewrite"]["target_new"]["id"] = ""
    assert checks(empty_id) == [(1, "type")]


def test_cli_exit_codes(tmp_path, capsys):
    good = tmp_path / "good.json"
    good.write_text(json.dumps([good_record(0)]), encoding="utf-8")
    assert main(["validate", str(good)]) == 0
    bad = tmp_path / "bad.json"
    recs = [good_record(0), mutate(lambda r: r["requested_rewrite"].__setitem__("prompt", "x"), 1)]
    bad.write_text(json.dumps(recs), encoding="utf-8")
    assert main(["validate", str(bad)]) == 1
    assert "case_id 1: [prompt_placeholder]" in capsys.readouterr().out
    notjson = tmp_path / "broken.json"
    notjson.write_text("[{", encoding="utf-8")
    assert main(["validate", str(notjson)]) == 2
