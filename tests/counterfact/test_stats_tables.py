import json

from counterfact_testdata import good_record

from counterfact.cli import main
from counterfact.stats import compute_stats
from counterfact.tables import PAPER_TABLE2, table2_rows, table3_rows, to_csv, to_latex, to_markdown, write_tables


def records():
    a, b, c = good_record(0, "Ann"), good_record(1, "Bob"), good_record(2, "Ann")
    c["requested_rewrite"]["relation_id"] = "P37"
    c["requested_rewrite"]["target_true"]["str"] = "German"
    b["generation_prompts"] = ["Bob x"] * 5 + ["Bob y"] * 5
    return [a, b, c]


def test_stats_definitions():
    s = compute_stats(records())
    rows = s["rows"]
    assert s["n_relations"] == 2
    assert rows["records"] == {"total": 3, "per_relation": 1.5, "per_record": 1.0}
    assert rows["subjects"]["total"] == 2                  # distinct strings
    assert rows["subjects"]["per_relation"] == 1.5          # P103: Ann, Bob; P37: Ann
    assert rows["objects"]["total"] == 1                   # the paper's Objects: distinct new targets (English)
    assert rows["true_objects"]["total"] == 2              # French, German
    assert rows["generation_prompts"]["per_record"] == round((1 + 2 + 1) / 3, 2)
    assert rows["neighborhood_prompts"]["total"] == 10      # shared strings counted once
    # distinct filled rewrite prompts: "The mother tongue of Ann is" twice, "... of Bob is"
    assert rows["counterfactual_statements"]["total"] == 2


def handmade_file():
    """Four records whose Table 2 counts are known by hand (the paper's definitions).

    * new targets: Spanish, Spanish, Tokyo, Spanish -> Objects = 2 (true objects: French, English, Paris = 3)
    * filled rewrite prompts: "The mother tongue of Ann is" (records 0 and 1, different new target
      and the same prompt), "Bob's mother tongue is", "Ann is the capital of" -> 3
    * paraphrase prompts: 8 strings, one repeated -> 7; neighbourhood: "N1".."N12" with overlaps -> 12;
      generation prompts: records repeat strings.
    """
    from counterfact.schema import make_record

    def rec(cid, prompt, rel, subject, new, true, para, neigh, gen):
        return make_record(cid, cid, prompt, rel, subject, new, true, para, neigh, [f"A{i}" for i in range(10)], gen)

    n = [f"N{i}" for i in range(1, 13)]
    return [
        rec(0, "The mother tongue of {} is", "P103", "Ann", "Spanish", "French",
            ["x. Ann speaks", "y. Ann speaks"], n[:10], ["Ann g1"] * 10),
        rec(1, "The mother tongue of {} is", "P103", "Ann", "Spanish", "English",
            ["x. Ann speaks", "z. Ann talks"], n[2:12], ["Ann g1"] * 5 + ["Ann g2"] * 5),
        rec(2, "{}'s mother tongue is", "P103", "Bob", "Spanish", "French",
            ["x. Bob speaks", "w. Bob talks"], n[:10], ["Bob g1"] * 10),
        rec(3, "{} is the capital of", "P36", "Ann", "Tokyo", "Paris",
            ["v. Ann, capital of", "u. Ann, the capital of"], n[:10], ["Ann g1"] * 10),
    ]


def test_table2_on_a_handmade_file_with_known_counts(tmp_path, capsys):
    f = tmp_path / "hand.json"
    f.write_text(json.dumps(handmade_file()), encoding="utf-8")
    assert main(["stats", str(f), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    total = {k: v["total"] for k, v in rows.items()}
    assert total == {"records": 4, "subjects": 2, "objects": 2, "true_objects": 3, "counterfactual_statements": 3,
                     "paraphrase_prompts": 7, "neighborhood_prompts": 12, "attribute_prompts": 10,
                     "generation_prompts": 3}
    # per relation: P103 has 2 objects (Spanish) -> 1, P36 -> 1; statements P103: 2, P36: 1
    assert rows["objects"]["per_relation"] == 1.0 and rows["counterfactual_statements"]["per_relation"] == 1.5
    assert rows["subjects"]["per_relation"] == 1.5 and rows["generation_prompts"]["per_record"] == 1.25
    assert rows["neighborhood_prompts"]["per_relation"] == (12 + 10) / 2


def test_tables_put_paper_beside_ours(tmp_path):
    s = compute_stats(records())
    t2 = table2_rows(s)
    assert t2[1][:3] == ["Records", f"{PAPER_TABLE2['records'][0]:,}", "3"]
    md = to_markdown(t2)
    assert "| Records | 21,919 | 3 |" in md
    csv_text = to_csv(t2)
    assert "Records,21919,3," in csv_text
    tex = to_latex(table3_rows(s), "cap", "tab:x")
    assert r"\checkmark" in tex and r"\begin{tabular}" in tex
    t3 = table3_rows(s, rs_coverage=0.0)
    assert t3[4][0] == "Consistency" and t3[4][-1] == "✗" and t3[4][-2] == "✓"
    files = write_tables(s, tmp_path / "t")
    assert sorted(p.name for p in files) == sorted(f"table{n}.{e}" for n in (2, 3) for e in ("md", "csv", "tex"))


def test_cli_stats_and_tables(tmp_path, capsys):
    f = tmp_path / "r.json"
    f.write_text(json.dumps(records()), encoding="utf-8")
    assert main(["stats", str(f), "--json", "--out", str(tmp_path / "s.json")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows"]["records"]["total"] == 3
    assert main(["tables", "--stats", str(tmp_path / "s.json"), "--out-dir", str(tmp_path / "tab")]) == 0
    assert (tmp_path / "tab" / "table2.tex").read_text().count(r"\\") >= 8


def test_tables_refuse_a_bad_stats_or_reference_report_naming_file_and_field(tmp_path, capsys):
    f = tmp_path / "r.json"
    f.write_text(json.dumps(records()), encoding="utf-8")
    good = tmp_path / "s.json"
    assert main(["stats", str(f), "--json", "--out", str(good)]) == 0
    stats = json.loads(good.read_text())
    del stats["rows"]["objects"]["total"]
    cases = {"list.json": ([1], None, "expected the object"),
             "norows.json": ({"n_records": 3, "n_relations": 2}, None, "field 'rows'"),
             "noobjects.json": (stats, None, "field 'rows.objects.total'"),
             "cov.json": ({"coverage_target_new": 1.5}, "report", "field 'coverage_target_new'")}
    for name, (doc, kind, expected) in cases.items():
        bad = tmp_path / name
        bad.write_text(json.dumps(doc), encoding="utf-8")
        argv = ["tables", "--stats", str(bad if kind is None else good), "--out-dir", str(tmp_path / "tab")]
        if kind == "report":
            argv += ["--reference-report", str(bad)]
        assert main(argv) == 2, name
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"{bad}" in err and expected in err, err
        assert "KeyError" not in err and "TypeError" not in err
    assert not (tmp_path / "tab").exists()
