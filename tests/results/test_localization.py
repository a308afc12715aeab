"""Localization vs editing (Hase et al. 2023): statistics on made-up tables with values
computed by hand, the join of hand-made trace and sweep files, rendering from a hand-made
analysis file, and bad input (one line naming the fact or file, exit 2).

Definitions under test: google/belief-localization ``third_party/data-analysis.ipynb``
(fraction restored, ``subj_effect_fraction``, ``max_fraction_restored``, the R² cell with
``anova``) and ``experiments/evaluate.py`` (``rewrite_score``); see rome.results.localization.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rome.cli.main import main
from rome.results import localization as loc
from rome.results.layout import sweep_file, sweep_pre_file
from rome.results.traces import TraceResult, result_path

# -- statistics --------------------------------------------------------------------------


def test_average_ranks_share_ties():
    # sorted 1, 1, 3, 4, 5: the two 1s take ranks 1 and 2 -> 1.5 each
    assert loc.average_ranks([3, 1, 4, 1, 5]).tolist() == [3, 1.5, 4, 1.5, 5]


def test_spearman_with_ties_by_hand():
    # ranks x = [1, 2.5, 2.5, 4], ranks y = [1, 3, 2, 4]; centred: dx = [-1.5, 0, 0, 1.5],
    # dy = [-1.5, .5, -.5, 1.5]; sum dx*dy = 4.5, sum dx^2 = 4.5, sum dy^2 = 5 -> 4.5 / sqrt(22.5) = sqrt(0.9)
    assert loc.spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(math.sqrt(0.9))
    assert loc.spearman([1, 2, 3], [5, 5, 5]) is None  # constant: undefined
    assert loc.spearman([1], [2]) is None


def test_r2_two_layers_saturated_by_hand():
    # layer means 0.2 and 0.7, grand mean 0.45: SST = .35, SSE(layer) = .10 -> R2 = 5/7;
    # effect 0/1 groups 0.3 and 0.6: SSE = .26 -> R2 = 9/35; layer x effect fits 4 points exactly
    out = loc.regressions([0, 0, 1, 1], [0, 1, 0, 1], [0.1, 0.3, 0.5, 0.9])
    assert out["r2_layer"] == pytest.approx(5 / 7)
    assert out["r2_trace"] == pytest.approx(9 / 35)
    assert out["r2_both"] == pytest.approx(1.0)
    assert out["df2"] == 0 and out["f"] is None and out["p_value"] is None


def test_r2_added_and_f_test_by_hand():
    # layer 0: x 0,1,2 -> y 0,1,1 (slope .5, SSE 1/6); layer 1: y 1,1,2 (slope .5, SSE 1/6)
    # SSE(layer) = 2/3 + 2/3 = 4/3, SST = 2 -> R2_layer 1/3; SSE(both) = 1/3 -> R2_both 5/6
    # F = ((4/3 - 1/3)/2) / ((1/3)/2) = 3 on (2, 2) df; P(F(2,2) > 3) = 1/(1+3) = 0.25
    # pooled: slope 2/4 = .5, SSR = .25*4 = 1 -> R2_trace 1/2, r = 2/sqrt(8)
    out = loc.regressions([0, 0, 0, 1, 1, 1], [0, 1, 2, 0, 1, 2], [0, 1, 1, 1, 1, 2])
    assert out["r2_layer"] == pytest.approx(1 / 3)
    assert out["r2_both"] == pytest.approx(5 / 6)
    assert out["r2_added"] == pytest.approx(1 / 2)
    assert (out["df1"], out["df2"]) == (2, 2)
    assert out["f"] == pytest.approx(3)
    assert out["p_value"] == pytest.approx(0.25)
    assert out["r2_trace"] == pytest.approx(0.5)
    assert out["pearson"] == pytest.approx(2 / math.sqrt(8))


def test_f_survival_closed_forms():
    # d1 = 2: P(F > f) = (1 + 2 f / d2) ** (-d2 / 2)
    assert loc.f_sf(1.0, 2, 4) == pytest.approx(1.5 ** -2, rel=1e-10)
    assert loc.f_sf(7.5, 2, 10) == pytest.approx((1 + 1.5) ** -5, rel=1e-10)
    assert loc.betainc(3.0, 3.0, 0.5) == pytest.approx(0.5)
    assert loc.f_sf(0.0, 3, 5) == 1.0


# -- tracing effect and rewrite score ----------------------------------------------------------

GRID = np.array([[0.1, 0.1, 0.1],    # before the subject (= corrupted score)
                 [0.2, 0.5, 0.1],    # first subject token
                 [0.3, 0.1, 0.05],   # last subject token
                 [0.1, 0.2, 0.7]])   # after the subject


def trace(known_id, grid=GRID, clean=0.6, corrupted=0.1):
    return TraceResult(prompt="a b c d", subject="b c", tokens=["a", "b", "c", "d"], subject_range=(1, 3),
                       corrupt_range=(1, 3), answer=" x", answer_id=5, clean=clean, corrupted=corrupted,
                       scores={"mlp": grid}, meta={"known_id": known_id})


def test_tracing_effects_by_hand():
    # high = max(clean .6, largest restored .7) = .7; |corrupted - high| = .6
    eff = loc.trace_effects(trace(0))
    assert eff["last_subject"] == pytest.approx([0.2 / 0.6, 0.0, -0.05 / 0.6])  # not clipped
    # rows from the subject's first, clipped at 0, largest per layer: (.1/.6, .2/.6, 0), (.4/.6, 0, .1/.6), (0, 0, 1)
    assert eff["max_token"] == pytest.approx([1 / 3, 2 / 3, 1.0])
    with pytest.raises(loc.LocalizationInputError, match="undefined"):
        loc.trace_effects(trace(0, grid=np.full((4, 3), 0.1), clean=0.1))


def test_rewrite_score_by_hand():
    assert loc.rewrite_score(0.2, 0.6) == pytest.approx(0.5)  # 1 - .4/.8
    assert loc.rewrite_score(0.2, 0.1) == 2e-8  # 1 - .9/.8 < 0: the floor of evaluate.py
    with pytest.raises(loc.LocalizationInputError, match="undefined"):
        loc.rewrite_score(1.0, 0.5)


# -- the join ------------------------------------------------------------------------------------

def record(case_id, subject, relation, true, new="Z"):
    return {"case_id": case_id, "requested_rewrite": {"prompt": "{} is in", "subject": subject, "relation_id": relation,
                                                      "target_true": {"str": true}, "target_new": {"str": new}}}


def known(kid, subject, relation, attribute):
    return {"known_id": kid, "subject": subject, "relation_id": relation, "attribute": attribute}


RECORDS = [record(7, "Paris", "P17", "France"), record(8, "Paris", "P17", "Texas"), record(9, "Rome", "P17", "Italy"),
           record(11, "Oslo", "P17", "Norway")]
KNOWN = [known(0, "Paris", "P17", "France"), known(1, "Lyon", "P17", "France"), known(2, "Rome", "P17", "Spain"),
         known(3, "Oslo", "P17", "Norway")]


def test_select_facts_joins_first_record_of_subject_and_relation():
    doc = loc.select_facts(KNOWN, RECORDS, 2)
    assert [(f["known_id"], f["case_id"]) for f in doc["facts"]] == [(0, 7), (3, 11)]  # record 7, not 8
    assert [u["known_id"] for u in doc["unmatched"]] == [1, 2]
    assert "Italy" in doc["unmatched"][1]["reason"]
    with pytest.raises(loc.LocalizationInputError, match="only 2 of its 4 known facts"):
        loc.select_facts(KNOWN, RECORDS, 3, "known.json", "cf.json")


def write_inputs(tmp_path, facts=((0, 7), (3, 11)), layers=(0, 2)):
    sel = tmp_path / "facts.json"
    sel.write_text(json.dumps({"facts": [{"known_id": k, "case_id": c} for k, c in facts]}))
    traces, sweep = tmp_path / "traces", tmp_path / "sweep"
    for k, c in facts:
        trace(k).save(result_path(traces, "mlp", k))
        p = sweep_pre_file(sweep, c)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps({"p_rewrite": [[0.2, 0.7]]}))
        for layer in layers:
            p = sweep_file(sweep, "last_subject", layer, c)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(json.dumps({"p_rewrite": [[0.6 if layer == 0 else 0.1, 0.3]]}))
    return sel, traces, sweep


def test_collect_joins_trace_and_sweep_files(tmp_path):
    sel, traces, sweep = write_inputs(tmp_path)
    rows, excluded = loc.collect(loc.read_selection(sel), traces, sweep, [0, 2])
    assert excluded == []
    assert [(r["known_id"], r["case_id"], r["layer"]) for r in rows] == [(0, 7, 0), (0, 7, 2), (3, 11, 0), (3, 11, 2)]
    assert rows[0]["last_subject"] == pytest.approx(1 / 3) and rows[1]["max_token"] == pytest.approx(1.0)
    assert rows[0]["rewrite_score"] == pytest.approx(0.5) and rows[1]["rewrite_score"] == 2e-8


def test_skipped_edit_leaves_the_fact_out_and_says_so(tmp_path):
    sel, traces, sweep = write_inputs(tmp_path)
    sweep_file(sweep, "last_subject", 2, 11).write_text(json.dumps({"skipped": "no token after the subject"}))
    rows, excluded = loc.collect(loc.read_selection(sel), traces, sweep, [0, 2])
    assert {r["known_id"] for r in rows} == {0}
    assert excluded[0]["known_id"] == 3 and "no token after the subject" in excluded[0]["reason"]


@pytest.mark.parametrize("missing", ["trace", "sweep", "pre"])
def test_fact_missing_on_one_side_exits_2_naming_the_file(tmp_path, capsys, missing):
    sel, traces, sweep = write_inputs(tmp_path)
    gone = {"trace": result_path(traces, "mlp", 3), "sweep": sweep_file(sweep, "last_subject", 2, 11),
            "pre": sweep_pre_file(sweep, 11)}[missing]
    gone.unlink()
    code = main(["localization", "--facts", str(sel), "--traces", str(traces), "--sweep-dir", str(sweep),
                 "--layers", "0,2", "--out", str(tmp_path / "a.json")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and str(gone) in err[0]
    assert not (tmp_path / "a.json").exists()


def test_cli_writes_the_analysis(tmp_path):
    sel, traces, sweep = write_inputs(tmp_path)
    out = tmp_path / "a.json"
    assert main(["localization", "--facts", str(sel), "--traces", str(traces), "--sweep-dir", str(sweep),
                 "--layers", "0,2", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["n_facts"] == 2 and len(doc["rows"]) == 4
    # both facts have the same trace, so the layer alone explains everything here
    assert doc["analysis"]["last_subject"]["pooled"]["r2_layer"] == pytest.approx(1.0)


def test_bad_selection_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "facts.json"
    bad.write_text(json.dumps({"facts": [{"known_id": "0", "case_id": 1}]}))
    code = main(["localization", "--facts", str(bad), "--traces", str(tmp_path), "--sweep-dir", str(tmp_path),
                 "--layers", "0", "--out", str(tmp_path / "a.json")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "known_id" in err[0] and str(bad) in err[0]


# -- rendering from a hand-made analysis file -------------------------------------------------------

def hand_analysis():
    rows = [{"known_id": k, "case_id": k + 10, "layer": layer, "last_subject": x, "max_token": x,
             "rewrite_score": y} for k, layer, x, y in [(0, 0, 0.1, 0.9), (1, 0, 0.5, 0.8), (0, 3, 0.2, 0.3),
                                                          (1, 3, 0.4, 0.5)]]
    per = {"0": {"n": 2, "mean_effect": 0.3, "mean_rewrite_score": 0.85, "spearman": -1.0, "pearson": -1.0,
                 "r2": 1.0},
           "3": {"n": 2, "mean_effect": 0.3, "mean_rewrite_score": 0.4, "spearman": 1.0, "pearson": 1.0, "r2": 1.0}}
    pooled = {"n": 4, "r2_layer": 0.9, "r2_trace": 0.0123, "r2_both": 1.0, "r2_added": 0.1, "f": None, "df1": 2,
              "df2": 0, "p_value": None, "spearman": -0.2, "pearson": -0.1}
    return {"layers": [0, 3], "n_facts": 2, "rows": rows, "excluded": [],
            "analysis": {"last_subject": {"pooled": pooled, "per_layer": per},
                         "max_token": {"pooled": pooled, "per_layer": per}}}


def test_render_from_hand_made_analysis(tmp_path):
    src = tmp_path / "analysis.json"
    src.write_text(json.dumps(hand_analysis()))
    stem = tmp_path / "out" / "localization-vs-editing"
    assert main(["render-localization", "--analysis", str(src), "--out", str(stem)]) == 0
    for suffix in (".pdf", ".png", ".md", ".csv"):
        assert stem.with_suffix(suffix).is_file(), suffix
    md = stem.with_suffix(".md").read_text()
    assert "| 0 | 2 | 0.300 | 0.850 | -1.000 | -1.000 | 1.000 | -1.000 |" in md
    assert "| last subject token | 4 | 0.900 | 0.012 | 1.000 | 0.100 | – | – | -0.200 |" in md


def test_render_rejects_a_file_without_the_analysis(tmp_path, capsys):
    src = tmp_path / "analysis.json"
    doc = hand_analysis()
    del doc["analysis"]["max_token"]
    src.write_text(json.dumps(doc))
    code = main(["render-localization", "--analysis", str(src), "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "analysis.max_token" in err[0]
