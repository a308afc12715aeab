import json

from counterfact.cli import main
from counterfact.stats import compute_stats
from counterfact.tables import PAPER_TABLE2, table2_rows, table3_rows, to_csv, to_latex, to_markdown, write_tables

from counterfact_testdata import good_record


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
    assert rows["objects"]["total"] == 2
    assert rows["generation_prompts"]["per_record"] == round((1 + 2 + 1) / 3, 2)
    assert rows["neighborhood_prompts"]["total"] == 10      # shared strings counted once
    assert rows["counterfactual_statements"]["total"] == 2  # "The mother tongue of Ann is English" twice


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
