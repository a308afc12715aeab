"""Time the full COUNTERFACT build on the local ParaRel copy and print the seconds.

    python benchmarks/counterfact_build.py [--data DIR] [--out FILE] [--seed N]

DIR defaults to $ROME_SHARED_DATA or <repo>/../shared/data; the output goes to a
temporary folder unless --out is given (never into the repository).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from counterfact.builder import build_to_file


def main() -> None:
    repo = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("ROME_SHARED_DATA", str(repo.parent / "shared" / "data")))
    ap.add_argument("--out", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--report", default=None, help="also write the build report here")
    a = ap.parse_args()
    data = Path(a.data)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(a.out) if a.out else Path(tmp) / "counterfact.json"
        load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        t0, c0 = time.perf_counter(), time.process_time()
        report = build_to_file(data / "pararel", out, data / "wikitext-2" / "wiki.test.raw", seed=a.seed,
                               report_path=a.report)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"records: {report['n_records']}  facts: {report['n_facts']}  dropped: {report['n_dropped']}")
    print(f"sha256: {report['output']['sha256']}")
    print(f"build seconds: {seconds:.2f} wall, {cpu:.2f} CPU of this process "
          f"(1-minute load average before: {load_before:.1f}, {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
