import json

import pytest

from counterfact.cli import main
from counterfact.compare import compare_records, format_markdown, paraphrase_prefixes
from counterfact.errors import DataError
from counterfact.export import EASYEDIT_FIELDS, export_records
from counterfact.schema import make_record


def rec(cid, rel, subject, true, new, prompt="The capital of {} is", prefixes=("One two three.", "A b c d e")):
    para = [f"{prefixes[0]} {subject} has capital", f"{prefixes[1]} {prompt.replace('{}', subject)}"]
    return make_record(cid, cid, prompt, rel, subject, new, true, para,
                       [f"The capital of N{i} is" for i in range(10)], [f"A{i}" for i in range(10)],
                       [f"{subject} is"] * 10)


def ours():
    return [rec(0, "P36", "France", "Paris", "Rome"), rec(1, "P36", "Italy", "Rome", "Paris"),
            rec(2, "P36", "Chad", "N'Djamena", "Rome", prompt="{} has capital"),
            rec(3, "P17", "Lyon", "France", "Italy", prompt="{} is located in")]


def other():
    # released-like: Wikidata ids; shares France-Paris and Italy-Rome, adds Spain-Madrid and a P17 fact we lack
    recs = [rec(0, "P36", "France", "Paris", "Madrid"), rec(1, "P36", "Italy", "Rome", "Berlin"),
            rec(2, "P36", "Spain", "Madrid", "Paris", prompt="{}'s capital is"),
            rec(3, "P17", "Milan", "Italy", "France", prompt="{} is located in")]
    for r in recs:
        r["requested_rewrite"]["target_new"]["id"] = "Q1"
        r["requested_rewrite"]["target_true"]["id"] = "Q2"
    return recs


def test_compare_hand_computed():
    res = compare_records(ours(), other())
    # facts: ours {France-Paris, Italy-Rome, Chad-N'Djamena, Lyon-France}, other {France-Paris, Italy-Rome,
    # Spain-Madrid, Milan-Italy}: 2 shared, recall 2/4, precision 2/4
    assert res["facts"] == {"shared": 2, "recall": 0.5, "precision": 0.5}
    assert res["per_relation"]["P36"]["recall"] == round(2 / 3, 4) and res["per_relation"]["P36"]["precision"] == round(2 / 3, 4)
    assert res["per_relation"]["P17"]["shared_facts"] == 0
    # templates: ours P36 {The capital of {} is, {} has capital}, P17 {{} is located in};
    # other P36 {The capital of {} is, {}'s capital is}, P17 {{} is located in}: 2 of 3 shared
    assert res["templates"] == {"ours": 3, "other": 3, "shared": 2, "share_of_other_used_by_ours": round(2 / 3, 4)}
    # new targets: ours Rome (a true object in P36), Paris (true), Rome, Italy (no P17 record has Italy as true)
    assert res["ours"]["new_target_not_a_true_object_of_relation"] == 1
    # other: Madrid and Paris are P36 true objects, Berlin is not; France is no P17 true object
    assert res["other"]["new_target_not_a_true_object_of_relation"] == 2
    assert res["ours"]["distinct_new_targets"] == 3
    # (relation, new target): ours {P36 Rome: 2, P36 Paris: 1, P17 Italy: 1}, other {P36 Madrid, P36 Berlin,
    # P36 Paris, P17 France}: overlap only P36 Paris (1/4 each) -> TV = 1 - 1/4
    assert res["new_target_total_variation"] == 0.75
    md = format_markdown(res, "ours", "released")
    assert "| P36 | 3 | 3 | 2 | 0.667 | 0.667 | 2 / 2 / 1 |" in md and "recall 0.500" in md


def test_prefixes_are_found_by_template_and_counted_in_words():
    prefixes, unmatched = paraphrase_prefixes(ours())
    # the first paraphrase uses "{} has capital", a rewrite template only in P36's record 2
    assert prefixes.count("One two three.") == 3 and prefixes.count("A b c d e") == 4 and unmatched == 1
    res = compare_records(ours(), ours())
    assert res["ours"]["prefix_words"]["max"] == 5 and res["ours"]["prefix_words"]["complete_sentence_share"] == round(3 / 7, 4)


def test_compare_cli_prints_markdown(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(ours()), encoding="utf-8")
    b.write_text(json.dumps(other()), encoding="utf-8")
    assert main(["compare", str(a), str(b), "--other-label", "released", "--out", str(tmp_path / "c.md")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# COUNTERFACT comparison: ours against released") and "## Per relation" in out
    assert (tmp_path / "c.md").read_text() == out


def test_easyedit_export_of_a_handmade_record(tmp_path, capsys):
    r = rec(7, "P36", "France", "Paris", "Rome")
    r["case_id"] = 0
    f = tmp_path / "cf.json"
    f.write_text(json.dumps([r]), encoding="utf-8")
    assert main(["export", str(f), "--format", "easyedit", "--out", str(tmp_path / "ee.json")]) == 0
    [row] = json.loads((tmp_path / "ee.json").read_text())
    assert tuple(row) == EASYEDIT_FIELDS
    assert row == {"case_id": 0, "prompt": "The capital of France is", "target_new": "Rome", "ground_truth": "Paris",
                   "subject": "France", "rephrase_prompt": "One two three. France has capital",
                   "locality_prompt": "The capital of N0 is", "locality_ground_truth": "Paris"}
    bad = dict(r, neighborhood_prompts=[])
    with pytest.raises(DataError, match="case_id 0.*neighborhood_prompts"):
        export_records([bad], "easyedit", "x.json")


def _malformed(kind: str) -> list[dict]:
    """ours() with one defect in record 1 (a hand-made bad input per kind)."""
    recs = ours()
    rw = recs[1]["requested_rewrite"]
    if kind == "record_not_object":
        recs[1] = 5  # type: ignore[call-overload]
    elif kind == "target_not_object":
        rw["target_new"] = 5
    elif kind == "prompt_without_slot":
        rw["prompt"] = "The capital is"
    elif kind == "missing_subject":
        del rw["subject"]
    elif kind == "prompts_not_strings":
        recs[1]["neighborhood_prompts"] = [1, 2]
    return recs


@pytest.mark.parametrize("kind, field", [
    ("record_not_object", None), ("target_not_object", "requested_rewrite.target_new"),
    ("prompt_without_slot", "requested_rewrite.prompt"), ("missing_subject", "requested_rewrite.subject"),
    ("prompts_not_strings", "neighborhood_prompts")])
@pytest.mark.parametrize("command", ["stats", "compare"])
def test_stats_and_compare_refuse_a_malformed_record_naming_file_record_and_field(tmp_path, capsys, kind, field, command):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(ours()), encoding="utf-8")
    bad.write_text(json.dumps(_malformed(kind)), encoding="utf-8")
    argv = ["stats", str(bad)] if command == "stats" else ["compare", str(good), str(bad)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and "TypeError" not in err
    assert f"{bad}, record 1" in err
    if field:
        assert f"field '{field}'" in err


def test_readers_accept_what_reads_fine_and_released_conventions(tmp_path, capsys):
    # short prompt lists, non-dense case ids and Wikidata ids break invariants, not reading
    recs = other()
    recs[0]["attribute_prompts"] = recs[0]["attribute_prompts"][:1]
    recs[1]["case_id"] = 17
    f = tmp_path / "released-like.json"
    f.write_text(json.dumps(recs), encoding="utf-8")
    assert main(["stats", str(f), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"]["records"]["total"] == 4
    assert main(["compare", str(f), str(f)]) == 0
