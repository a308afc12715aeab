"""Table rendering with the paper's colouring rule."""
from __future__ import annotations

import json

from rome.render.tables import build_blocks, render_table, to_latex, to_markdown


def metric(v, ci=1.0, n=10):
    return {"value": v, "ci": ci, "n": n}


def summary(model, rows):
    cols = ("S", "ES", "EM", "PS", "PM", "NS", "NM", "GE", "RS")
    out = []
    for label, method, role, vals in rows:
        out.append({"label": label, "method": method, "role": role, "n_records": 10,
                    "metrics": {c: metric(v, None if c == "S" else 1.0) for c, v in zip(cols, vals)}})
    return {"model": model, "dataset": "counterfact", "rows": out}


ROWS = [("gemma-3-270m", "none", "pre-edit", (30.0, 20.0, -5.0, 25.0, -5.0, 80.0, 5.0, 620.0, 30.0)),
        ("rome", "rome", "edited", (90.0, 100.0, 95.0, 90.0, 60.0, 70.0, 3.0, 615.0, 40.0)),
        ("FT", "ft", "edited", (40.0, 100.0, 99.0, 50.0, 40.0, 30.0, -8.0, 590.0, 35.0))]


def test_colouring_marks():
    blocks = build_blocks("table4", [summary("gemma-3-270m", ROWS)])
    ours = blocks[0].rows
    pre, rome, ft = ours
    assert rome.method == "ROME" and ft.label == "FT"
    assert "best" in rome.marks["S"] and "best" not in ft.marks.get("S", set())
    assert "best" in rome.marks["ES"] and "best" in ft.marks["ES"]          # tie: both best
    assert "best" in ft.marks["EM"]
    assert "below" in ft.marks["S"] and "below" in ft.marks["NS"] and "below" in ft.marks["GE"]
    assert "below" in ft.marks["NM"]                                         # -8 < -5
    assert "below" not in rome.marks.get("NM", set())
    assert pre.marks.get("S") == {"below"}                                   # pre-edit never "best"
    # not a paper model: the GPT-2 XL rows follow as an orientation block
    assert blocks[1].model == "paper:gpt2-xl" and blocks[1].rows[-1].values["S"] == 89.2
    md = to_markdown("table4", blocks)
    assert "| ROME | **90.0** |" in md and "40.0 ↓" in md
    tex = to_latex("table4", blocks)
    assert "\\cellcolor{green!25}90.0" in tex and "\\cellcolor{red!25}40.0" in tex


def test_paper_rows_beside_paper_model(tmp_path):
    p = tmp_path / "s.json"
    p.write_text(json.dumps(summary("gpt2-xl", ROWS)))
    md, csv_, tex = render_table("table4", [p], tmp_path / "out")
    text = md.read_text()
    assert "gemma" in text  # our pre-edit row keeps its label
    lines = [l for l in text.splitlines() if l.startswith("| ROME")]
    assert len(lines) == 2 and "(paper)" in lines[1] and "89.2" in lines[1]
    assert "orientation" not in text
    rows = csv_.read_text().splitlines()
    assert rows[0].startswith("block,model,source,editor,n_records,S,S_ci,S_mark")
    assert any(",paper,ROME," in r for r in rows)
    assert tex.read_text().count("\\\\") >= 7


def test_unequal_record_counts_are_shown_per_row():
    s = summary("gemma-3-270m", ROWS)
    assert "N = 10)" in build_blocks("table4", [s])[0].title          # all equal: one N in the title
    s["rows"][2]["n_records"] = 4                                     # FT stopped early
    block = build_blocks("table4", [s])[0]
    assert block.title == "gemma-3-270m (ours, N = 4-10, per row)"
    md = to_markdown("table4", [block])
    assert "| FT (N = 4) |" in md and "| ROME (N = 10) |" in md


def test_generation_thresholds_follow_the_unedited_row():
    short = [("gemma-3-270m", "none", "pre-edit", (30.0, 22.0, -6.0, 24.0, -5.0, 80.0, 6.0, 437.2, 27.5)),
             ("rome", "rome", "edited", (86.0, 99.0, 94.0, 90.0, 38.0, 73.0, 4.5, 435.6, 25.0)),
             ("ke", "ke", "edited", (50.0, 95.0, 61.0, 78.0, 20.0, 27.0, -25.0, 390.9, 18.6))]
    blocks = build_blocks("table4", [summary("gemma-3-270m", short)])
    pre, rome, ke = blocks[0].rows
    th = blocks[0].thresholds
    assert abs(th["GE"] - 600 * 437.2 / 626.6) < 1e-9 and abs(th["RS"] - 31 * 27.5 / 31.9) < 1e-9
    assert th["S"] == 50.0                                  # the other thresholds stay absolute
    # 30-token generations: ROME's GE is at the unedited level, so not red; KE's is well below
    assert "below" not in rome.marks.get("GE", set()) and "below" not in pre.marks.get("GE", set())
    assert "below" in ke.marks["GE"] and "below" in rome.marks["RS"] and "below" in ke.marks["RS"]
    # the paper's GPT-2 XL block keeps the paper's colouring (scale 1)
    assert blocks[1].thresholds["GE"] == 600.0 and blocks[1].thresholds["RS"] == 31.0
    md = to_markdown("table4", blocks)
    assert "↓ for GE < 418.6, RS < 26.7 in this block" in md and md.count("in this block") == 1
    # without an unedited row the absolute thresholds apply
    alone = build_blocks("table4", [summary("gemma-3-270m", short[1:])])[0]
    assert alone.thresholds["GE"] == 600.0 and "below" in alone.rows[0].marks["GE"]


def test_render_tables_refuses_what_is_not_a_summary_naming_file_and_field(tmp_path, capsys):
    from rome.cli.main import main

    good = summary("gemma-3-270m", ROWS)
    bad_metrics = json.loads(json.dumps(good))
    bad_metrics["rows"][1]["metrics"] = 3
    no_label = json.loads(json.dumps(good))
    del no_label["rows"][0]["label"]
    cases = {"list.json": ([1], "expected an object"), "nomodel.json": ({"rows": []}, "field 'model'"),
             "rows.json": (dict(good, rows={"a": 1}), "field 'rows'"),
             "metrics.json": (bad_metrics, "row 1, field 'rows.metrics'"),
             "label.json": (no_label, "row 0, field 'rows.label'")}
    for name, (doc, expected) in cases.items():
        p = tmp_path / name
        p.write_text(json.dumps(doc))
        assert main(["render-tables", "--table", "table4", "--summary", str(p), "--out-dir", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and str(p) in err and expected in err and "Error:" not in err, err
    assert main(["render-tables", "--table", "table4", "--summary", str(tmp_path / "none.json"),
                 "--out-dir", str(tmp_path / "o")]) == 2
    assert "none.json: summary file not found (run `rome summarize` first)" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
