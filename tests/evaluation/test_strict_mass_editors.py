"""The strict table covers the mass and sequential editors too: MEMIT, AlphaEdit and r-ROME go
through ``rome evaluate`` like any Table 4 method (one edit per record), their records carry the
strict fields, and ``table4-strict`` shows a row for each, named as in the sequential figures."""
from __future__ import annotations

import csv
import json

from rome.cli.main import main
from testpaths import WIKITEXT2

MASS = {"memit": "MEMIT", "alphaedit": "AlphaEdit", "r-rome": "r-ROME"}


def test_mass_editors_get_strict_rows(tmp_path, make_record):
    recs = tmp_path / "cf.json"
    recs.write_text(json.dumps([make_record(0), make_record(1, "Toko Yasuda")]), encoding="utf-8")
    ev = tmp_path / "eval"
    common = ["--model", "tiny-gpt2", "--dataset", "counterfact", "--records", str(recs), "--out-dir", str(ev),
              "--no-generation", "--no-progress", "--stats-dir", str(tmp_path / "stats"), "--corpus", WIKITEXT2,
              "--stats-tokens", "1500", "--templates-dir", str(tmp_path / "templates")]
    for method in ["none", *MASS]:
        assert main(["evaluate", "--method", method, *common]) == 0, method
    for method in MASS:
        doc = json.loads((ev / method / "case_1.json").read_text())
        post = doc["post"]
        # the CounterFact+ prompts, NKL and token accuracy were computed on the edited model
        assert len(post["distracting_neighborhood_prompts_probs"]) == len(post["neighborhood_prompts_probs"]) > 0
        assert all(kl >= 0 for kl in post["neighborhood_prompts_kl"])
        assert any(kl > 0 for kl in post["neighborhood_prompts_kl"]), method   # the edit moved something
        assert doc["cache_key"]["components"]["settings"]["strict"]["enabled"] is True
    summary = tmp_path / "s.json"
    assert main(["summarize", "--eval-dir", str(ev), "--out", str(summary)]) == 0
    assert main(["render-tables", "--table", "table4-strict", "--summary", str(summary),
                 "--out-dir", str(tmp_path / "t")]) == 0
    rows = {r["editor"]: r for r in csv.DictReader((tmp_path / "t" / "table4-strict.csv").open())
            if r["source"] == "ours"}
    for name in MASS.values():
        assert name in rows, sorted(rows)
        assert rows[name]["n_records"] == "2" and rows[name]["NS+"] != ""
