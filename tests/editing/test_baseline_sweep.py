import json
import math

import pytest

from counterfact.errors import DataError
from rome.editing.baseline_sweep import load_records, run_sweep, settings_grid
from rome.render.baselines import (
    boxplot_groups,
    load_results,
    record_scores,
    render_boxplots,
    render_epsilon_sweep,
    render_layer_sweep,
    summarise_sweep,
)

RECORD = {
    "case_id": 7, "pararel_idx": 0,
    "requested_rewrite": {"prompt": "The mother tongue of {} is", "relation_id": "P103",
                          "target_new": {"str": "English", "id": "x"}, "target_true": {"str": "French", "id": "y"},
                          "subject": "Danielle Darrieux"},
    "paraphrase_prompts": ["Danielle Darrieux speaks the language", "Danielle Darrieux, a native speaker of"],
    "neighborhood_prompts": ["The mother tongue of Léon Blum is"],
    "attribute_prompts": [], "generation_prompts": [],
}
BASE = {"layer": 0, "lr": 5e-2, "steps": 3, "epsilon": 1e-3, "early_stop_loss": 1e-3}


def test_record_scores_by_hand():
    probs = {"rewrite_prompts_probs": [{"target_new": 0.1, "target_true": 2.0}],
             "paraphrase_prompts_probs": [{"target_new": 3.0, "target_true": 1.0}, {"target_new": 0.5, "target_true": 0.7}],
             "neighborhood_prompts_probs": [{"target_new": 2.0, "target_true": 1.0}]}
    s = record_scores(probs)
    assert s["ES"] == 100 and s["PS"] == 50 and s["NS"] == 100
    assert s["EM"] == pytest.approx(100 * (math.exp(-0.1) - math.exp(-2.0)))
    assert s["NM"] == pytest.approx(100 * (math.exp(-1.0) - math.exp(-2.0)))


def test_sweep_writes_one_file_per_setting_and_record_and_resumes(tiny_gpt2, tmp_path):
    lm = tiny_gpt2
    settings = settings_grid("ft-l", BASE, [0, 1], [1e-4, None]) + settings_grid("attn", dict(BASE, layer=2), None,
                                                                                  [1e-4, 1e-3])
    before = {n: p.clone() for n, p in lm.model.named_parameters()}
    paths = run_sweep(lm, [RECORD], settings, tmp_path, progress=False)
    assert len(paths) == len(set(paths)) == 6 and all(p.exists() for p in paths)
    assert all((p - before[n]).abs().max() == 0 for n, p in lm.model.named_parameters())
    data = json.loads(paths[0].read_text())
    assert data["case_id"] == 7 and len(data["post"]["paraphrase_prompts_probs"]) == 2
    assert data["pre"]["rewrite_prompts_probs"][0].keys() == {"target_new", "target_true"}
    # ε bound respected; unconstrained marked None
    for p in paths:
        d = json.loads(p.read_text())
        if d["setting"]["epsilon"] is not None:
            assert d["edit"]["max_abs_delta"] <= d["setting"]["epsilon"] * (1 + 1e-5) + 1e-7
    mtimes = [p.stat().st_mtime_ns for p in paths]
    assert run_sweep(lm, [RECORD], settings, tmp_path, progress=False) == paths
    assert [p.stat().st_mtime_ns for p in paths] == mtimes

    results = load_results(tmp_path)
    summary = summarise_sweep(results)
    assert set(summary) == {("ft-l", 0, 1e-4), ("ft-l", 0, None), ("ft-l", 1, 1e-4), ("ft-l", 1, None),
                            ("attn", 2, 1e-4), ("attn", 2, 1e-3)}
    figs = tmp_path / "figs"
    assert all(p.exists() for p in render_layer_sweep(results, figs / "f17"))
    assert all(p.exists() for p in render_epsilon_sweep(results, figs / "f23"))
    groups = boxplot_groups(None, tmp_path / "attn", attn_epsilon=1e-3)
    assert set(groups) == {"none", "AttnEdit"} and len(groups["AttnEdit"]) == 1
    assert all(p.exists() for p in render_boxplots(groups, figs / "f24"))


def test_settings_grid_rejects_unknown_method():
    with pytest.raises(ValueError, match="unknown sweep method"):
        settings_grid("rome", BASE, None, None)


def test_load_records_selects_case_ids_and_reports_bad_files(tmp_path):
    p = tmp_path / "cf.json"
    p.write_text(json.dumps([dict(RECORD, case_id=i) for i in range(5)]))
    assert [r["case_id"] for r in load_records(p, case_ids=[4, 1, 3])] == [1, 3, 4]
    assert [r["case_id"] for r in load_records(p, n=2, case_ids=[4, 1, 3])] == [1, 3]
    with pytest.raises(DataError, match="nope.json: file not found"):
        load_records(tmp_path / "nope.json")
    p.write_text("not json")
    with pytest.raises(DataError, match="cf.json, line 1: invalid JSON"):
        load_records(p)
