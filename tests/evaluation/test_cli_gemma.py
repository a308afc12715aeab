"""The documented command chain on the real Gemma: evaluate -> summarize -> render-tables."""
from __future__ import annotations

import json

import pytest

from rome.cli.main import main


@pytest.mark.gemma
def test_command_chain_counterfact_and_zsre(tmp_path, make_record, shared_data, gemma):
    recs = tmp_path / "cf.json"
    recs.write_text(json.dumps([make_record(0), make_record(1, "Toko Yasuda")]))
    ev = tmp_path / "eval"
    args = ["evaluate", "--method", "none", "--model", "gemma-3-270m", "--dataset", "counterfact",
            "--records", str(recs), "--out-dir", str(ev), "--limit", "2", "--generation-tokens", "8", "--no-progress"]
    assert main(args) == 0
    doc = json.loads((ev / "none" / "case_1.json").read_text())
    assert len(doc["post"]["text"]) == 2 and doc["post"]["ngram_entropy"] > 0
    assert main(["summarize", "--eval-dir", str(ev), "--out", str(tmp_path / "s.json")]) == 0
    assert main(["render-tables", "--table", "4", "--summary", str(tmp_path / "s.json"), "--out-dir", str(tmp_path)]) == 0
    assert "gemma-3-270m (ours, N = 2)" in (tmp_path / "table4.md").read_text()

    zev = tmp_path / "zsre"
    assert main(["evaluate", "--method", "none", "--model", "gemma-3-270m", "--dataset", "zsre", "--records",
                 str(shared_data / "zsre" / "zsre_eval_1037.json"), "--out-dir", str(zev), "--limit", "2",
                 "--no-progress"]) == 0
    assert main(["summarize", "--eval-dir", str(zev), "--out", str(tmp_path / "z.json")]) == 0
    z = json.loads((tmp_path / "z.json").read_text())
    assert z["dataset"] == "zsre" and z["rows"][0]["n_records"] == 2
    assert 0 <= z["rows"][0]["metrics"]["Efficacy"]["value"] <= 100


@pytest.mark.gemma
def test_gemma_knows_a_famous_fact(gemma):
    """Scoring on the real model: Paris beats Rome as France's capital."""
    from rome.model.scoring import score_targets

    paris, rome = score_targets(gemma, [("The capital of France is", " Paris"), ("The capital of France is", " Rome")])
    assert paris.nll < rome.nll and len(paris.correct) == 1
