"""The README's measured numbers are rendered from files (workflow/scripts/readme_numbers.py),
and the README says what those files say today."""
from __future__ import annotations

import importlib.util
import json

import pytest

from testpaths import REPO

spec = importlib.util.spec_from_file_location("readme_numbers", REPO / "workflow" / "scripts" / "readme_numbers.py")
rn = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rn)


def test_readme_blocks_match_the_files_and_todays_dag(shared_data):
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert rn.rendered_readme(text) == text, "README.md is stale: python workflow/scripts/readme_numbers.py write"


def test_reference_sentence_from_a_made_up_table():
    rows = [
        {"model": "m", "editor": "m", "n_records": "100", "S": "35.04", "ES": "28", "PS": "27.5", "NS": "74.7"},
        {"model": "m", "editor": "ROME", "n_records": "100", "S": "83.41", "ES": "100", "PS": "91.5", "NS": "66.5"},
        {"model": "m", "editor": "FT", "n_records": "100", "S": "69.6", "ES": "100", "PS": "96", "NS": "44.1"},
    ]
    assert rn.render_reference_table4(rows) == (
        "The reference Table 4 in `docs/reference/` (`table4.csv`) holds 3 rows on 100 COUNTERFACT records: ROME has "
        "the best score (S 83.4; ES 100.0, PS 91.5, NS 66.5), the unedited model S 35.0.\n")


def test_record_run_reads_the_log_and_the_benchmarks(tmp_path):
    bench = tmp_path / "bench"
    (bench / "trace_batch").mkdir(parents=True)
    for name, s in (("main", 700.5), ("extra1", 250.0)):
        (bench / "trace_batch" / f"{name}.tsv").write_text(f"s\th:m:s\tmax_rss\n{s}\t0:00:00\t900\n")
    (bench / "report.tsv").write_text("s\th:m:s\tmax_rss\n2.0\t0:00:02\t80\n")
    log = tmp_path / "run.log"
    log.write_text("Building DAG of jobs...\n[Tue Nov 24 10:00:05 2026]\nrule a:\n1 of 3 steps (33%) done\n"
                   "[Tue Nov 24 10:38:06 2026]\n3 of 3 steps (100%) done\n")
    run = rn.record_run(bench, log, None, None)
    assert run == {"date": "2026-11-24", "jobs_done": 3, "elapsed_s": 38 * 60 + 1.0,
                   "rules": {"trace_batch": {"jobs": 2, "seconds": 950.5}, "report": {"jobs": 1, "seconds": 2.0}}}
    assert "0:38:01" in rn.render_default_run(json.loads(json.dumps(run)))


def test_record_run_refuses_an_unfinished_log(tmp_path):
    log = tmp_path / "run.log"
    log.write_text("[Tue Nov 24 10:00:05 2026]\n1 of 3 steps (33%) done\n")
    with pytest.raises(SystemExit, match="not a finished run's log"):
        rn.record_run(tmp_path, log, None, None)
