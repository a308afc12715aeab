"""Per-rule job times of a finished run, from its `benchmark:` files, as a Markdown table.

    python workflow/scripts/rule_times.py data/benchmarks/<run_name> [--out table.md]

Each rule writes one TSV per job under data/benchmarks/<run>/<rule>[/<wildcard>...].tsv
(Snakemake's benchmark directive: wall seconds `s`, peak memory `max_rss` in MB, ...).
The table sums the wall time of each rule's jobs, longest first; it is what the README's
per-rule time table is rendered from.
"""
from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path


def read_benchmarks(folder: Path) -> dict[str, list[dict[str, float]]]:
    """{rule: [{"s": seconds, "max_rss": MB}, ...]} of every benchmark TSV under ``folder``."""
    rules: dict[str, list[dict[str, float]]] = defaultdict(list)
    for tsv in sorted(folder.rglob("*.tsv")):
        rule = tsv.relative_to(folder).parts[0].removesuffix(".tsv")
        with tsv.open(newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                try:
                    seconds = float(row["s"])
                except (KeyError, ValueError):
                    raise SystemExit(f"{tsv}: no wall time (column 's') in a benchmark row") from None
                rss = row.get("max_rss", "")
                rules[rule].append({"s": seconds, "max_rss": float(rss) if rss not in ("", "NA", "-") else 0.0})
    return rules


def table(rules: dict[str, list[dict[str, float]]]) -> str:
    lines = ["| rule | jobs | seconds (sum) | longest job (s) | peak memory (MB) |", "|---|---:|---:|---:|---:|"]
    order = sorted(rules, key=lambda r: -sum(j["s"] for j in rules[r]))
    for rule in order:
        jobs = rules[rule]
        lines.append(f"| {rule} | {len(jobs)} | {sum(j['s'] for j in jobs):.0f} | {max(j['s'] for j in jobs):.0f} "
                     f"| {max(j['max_rss'] for j in jobs):.0f} |")
    total = sum(j["s"] for jobs in rules.values() for j in jobs)
    lines.append(f"| **all** | {sum(len(j) for j in rules.values())} | {total:.0f} | | |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="data/benchmarks/<run_name>")
    ap.add_argument("--out", type=Path, default=None, help="write the table here instead of stdout")
    args = ap.parse_args(argv)
    if not args.folder.is_dir():
        raise SystemExit(f"{args.folder}: no such folder (run the workflow first; benchmarks land in "
                         f"<paths.data>/benchmarks/<run_name>/)")
    rules = read_benchmarks(args.folder)
    if not rules:
        raise SystemExit(f"{args.folder}: no benchmark files")
    text = table(rules)
    if args.out:
        from atomicio import atomic_write_text

        atomic_write_text(args.out, text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
