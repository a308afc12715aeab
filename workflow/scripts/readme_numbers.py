"""The README's measured numbers, rendered from files instead of typed by hand.

    python workflow/scripts/readme_numbers.py record-run data/benchmarks/<run_name> --log .snakemake/log/<file>.log
    python workflow/scripts/readme_numbers.py write      # re-render README.md's generated blocks
    python workflow/scripts/readme_numbers.py check      # exit 1 if README.md differs from what the files say

``record-run`` stores what one timed default run measured (jobs done, elapsed time, per-rule
job seconds from the ``benchmark:`` files) in ``docs/reference/default-run.json``. The README's
blocks between ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->`` are rendered from that
file and from ``docs/reference/table4.csv`` (the reference Table 4); ``tests/workflow/
test_readme_numbers.py`` checks that they agree, and that the README's count of the default
DAG's jobs is the one ``snakemake -n`` plans today.
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
RUN_FILE = REPO / "docs" / "reference" / "default-run.json"
TABLE4 = REPO / "docs" / "reference" / "table4.csv"
BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end: (?P=name) -->)", re.S)


def planned_jobs(configfile: str = "config/config.yaml") -> int:
    """Jobs ``snakemake -n`` plans for a fresh run of ``configfile`` (the ``all`` target included)."""
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--configfile", configfile,
                          "--config", 'paths={"data": "/nonexistent-readme-numbers/data", '
                                      '"figures": "/nonexistent-readme-numbers/figures"}'],
                         cwd=REPO, capture_output=True, text=True, timeout=600)
    m = re.search(r"^total\s+(\d+)\s*$", out.stdout + out.stderr, re.M)
    if out.returncode != 0 or not m:
        raise SystemExit(f"snakemake -n failed:\n{(out.stdout + out.stderr)[-2000:]}")
    return int(m.group(1))


SMALL_RULE_S = 30.0  # rules whose jobs took less than this in all share one row of the README's table


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def render_default_run(run: dict) -> str:
    lines = ["```", "$ time snakemake --cores all", f"{run['jobs_done']} of {run['jobs_done']} steps (100%) done",
             f"Elapsed time: {_clock(run['elapsed_s'])}", "```", "",
             f"That is **{run['elapsed_s'] / 60:.0f} minutes for the whole default DAG** as it stood on {run['date']} "
             f"({run['jobs_done']} jobs; goal: 40 minutes). "
             + ("The run included converting the embedded model once (about a minute)."
                if run.get("converted_model", True) else
                "The embedded model was converted before (`paths.models`); converting it once adds about a "
                "minute.")]
    if run.get("note"):
        lines += ["", run["note"]]
    lines += ["", "| rule | jobs | seconds |", "|---|---:|---:|"]
    rules = sorted(run["rules"].items(), key=lambda kv: -kv[1]["seconds"])
    small = [(k, r) for k, r in rules if r["seconds"] < SMALL_RULE_S]
    for rule, r in rules:
        if r["seconds"] >= SMALL_RULE_S or len(small) == 1:
            lines.append(f"| {rule} | {r['jobs']} | {r['seconds']:.0f} |")
    if len(small) > 1:  # dataset steps, summaries, rendering: one row
        lines.append(f"| {len(small)} other rules (dataset, summaries, figures, tables, report), each under "
                     f"{SMALL_RULE_S:.0f} s | {sum(r['jobs'] for _, r in small)} | "
                     f"{sum(r['seconds'] for _, r in small):.0f} |")
    return "\n".join(lines) + "\n"


def render_reference_table4(rows: list[dict]) -> str:
    """One sentence on the reference Table 4: our rows (``source`` ``ours``) and, for
    orientation, the paper's unedited model and ROME where the table carries them."""
    ours = [r for r in rows if r.get("source", "ours") == "ours"]
    paper_rows = [r for r in rows if r.get("source") == "paper"]
    paper = {r["editor"]: r for r in paper_rows}
    best = max(ours, key=lambda r: float(r["S"]))
    unedited = next(r for r in ours if r["editor"] == r["model"])
    text = (f"The reference Table 4 in `docs/reference/` (`table4.csv`) holds {len(ours)} rows on "
            f"{'/'.join(sorted({r['n_records'] for r in ours}))} COUNTERFACT records: {best['editor']} has the best "
            f"score (S {float(best['S']):.1f}; ES {float(best['ES']):.1f}, PS {float(best['PS']):.1f}, "
            f"NS {float(best['NS']):.1f}), the unedited model S {float(unedited['S']):.1f}")
    p_unedited = paper_rows[0] if paper_rows else None  # the paper's block opens with its unedited model
    if p_unedited and "ROME" in paper:
        text += (f" (the paper's {p_unedited['editor']}, a different model: unedited S {float(p_unedited['S']):.1f}, "
                 f"ROME S {float(paper['ROME']['S']):.1f})")
    return text + ".\n"


def blocks() -> dict[str, str]:
    run = json.loads(RUN_FILE.read_text(encoding="utf-8"))
    with TABLE4.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return {"default-run": render_default_run(run), "reference-table4": render_reference_table4(rows),
            "planned-jobs": f"Today `snakemake -n` plans **{planned_jobs()} jobs** for the default configuration "
                            "(`all` included).\n"}


def rendered_readme(text: str) -> str:
    want = blocks()
    seen = set()

    def sub(m: re.Match) -> str:
        name = m.group("name")
        if name not in want:
            raise SystemExit(f"README.md: unknown generated block {name!r}")
        seen.add(name)
        return m.group(1) + want[name] + m.group(4)

    out = BLOCK.sub(sub, text)
    missing = set(want) - seen
    if missing:
        raise SystemExit(f"README.md: generated block(s) missing: {', '.join(sorted(missing))}")
    return out


def record_run(benchmarks: Path, log: Path, date: str | None, note: str | None) -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    from rule_times import read_benchmarks

    text = log.read_text(encoding="utf-8", errors="replace")
    done = re.findall(r"^(\d+) of (\d+) steps \(100%\) done", text, re.M)
    if not done:
        raise SystemExit(f"{log}: no 'N of N steps (100%) done' line: not a finished run's log")
    stamps = re.findall(r"^\[(\w{3} \w{3}\s+\d+ \d\d:\d\d:\d\d \d{4})\]", text, re.M)
    if len(stamps) < 2:
        raise SystemExit(f"{log}: no job timestamps to measure the elapsed time from")
    from datetime import datetime

    t0, t1 = (datetime.strptime(re.sub(r"\s+", " ", s), "%a %b %d %H:%M:%S %Y") for s in (stamps[0], stamps[-1]))
    rules = {rule: {"jobs": len(jobs), "seconds": round(sum(j["s"] for j in jobs), 1)}
             for rule, jobs in read_benchmarks(benchmarks).items()}
    return {"date": date or t0.date().isoformat(), "jobs_done": int(done[-1][0]),
            "elapsed_s": (t1 - t0).total_seconds(), "rules": rules, **({"note": note} if note else {})}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="action", required=True)
    rec = sub.add_parser("record-run", help="store a timed default run in docs/reference/default-run.json")
    rec.add_argument("benchmarks", type=Path)
    rec.add_argument("--log", type=Path, required=True, help="the run's .snakemake/log/*.snakemake.log")
    rec.add_argument("--date", default=None)
    rec.add_argument("--note", default=None)
    sub.add_parser("write", help="re-render README.md's generated blocks")
    sub.add_parser("check", help="exit 1 when README.md's generated blocks are stale")
    args = ap.parse_args(argv)
    from atomicio import atomic_write_json, atomic_write_text

    if args.action == "record-run":
        atomic_write_json(RUN_FILE, record_run(args.benchmarks, args.log, args.date, args.note))
    text = README.read_text(encoding="utf-8")
    new = rendered_readme(text)
    if args.action == "check":
        if new != text:
            print("README.md: generated numbers are stale; run python workflow/scripts/readme_numbers.py write",
                  file=sys.stderr)
            return 1
        return 0
    if new != text:
        atomic_write_text(README, new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
