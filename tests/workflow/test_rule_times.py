"""workflow/scripts/rule_times.py: the per-rule time table from benchmark files."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _bench(path: Path, seconds: float, rss: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{seconds}\t0:00:00\t{rss}\t1\t1\t1\t0\t0\t0\t0\n")


def test_table_sums_each_rules_jobs_longest_first(tmp_path):
    _bench(tmp_path / "trace_batch" / "main.tsv", 30.0, 500.0)
    _bench(tmp_path / "trace_batch" / "extra1.tsv", 12.5, 700.0)
    _bench(tmp_path / "fig5.tsv", 2.0, 100.0)
    run = subprocess.run([sys.executable, str(REPO / "workflow" / "scripts" / "rule_times.py"), str(tmp_path)],
                         capture_output=True, text=True, check=True)
    lines = run.stdout.splitlines()
    assert lines[2] == "| trace_batch | 2 | 42 | 30 | 700 |"   # 30 + 12.5 = 42.5 -> 42 (half to even)
    assert lines[3] == "| fig5 | 1 | 2 | 2 | 100 |"
    assert lines[4] == "| **all** | 3 | 44 | | |"


def test_missing_folder_says_where_benchmarks_land(tmp_path):
    run = subprocess.run([sys.executable, str(REPO / "workflow" / "scripts" / "rule_times.py"), str(tmp_path / "x")],
                         capture_output=True, text=True)
    assert run.returncode != 0 and "benchmarks/<run_name>" in run.stderr
