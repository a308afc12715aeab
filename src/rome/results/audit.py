"""``rome audit``: re-check the checksums recorded by the workflow.

For every provenance record it reports
* ``modified``: an output whose bytes differ from what its rule wrote;
* ``stale``: an output whose inputs changed since it was made (re-run the workflow);
* ``missing``: a recorded input or output that no longer exists;
* ``corrupted``: a recorded per-item file (one traced fact, one evaluated record) whose
  size or sha256 differs from what its step wrote, named one by one (a rerun of the step
  recomputes it).
The exit status is 1 when anything is reported, so the audit can gate a CI job.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ..cli import paths as cli_paths
from .provenance import load_provenance, sha256_path


@dataclass(frozen=True)
class Finding:
    status: str  # modified | stale | missing | corrupted
    artifact: str
    rule: str
    detail: str


def audit(directory: str | Path) -> tuple[list[Finding], int]:
    """Findings over all provenance records in ``directory`` and how many records were read."""
    records = load_provenance(directory)
    findings: list[Finding] = []
    for rec in records:
        rule = rec.get("rule", "?")
        outputs = list(rec.get("outputs", {}))
        for kind, table in (("output", rec.get("outputs", {})), ("input", rec.get("inputs", {}))):
            for path, digest in table.items():
                if not Path(path).exists():
                    findings.append(Finding("missing", path, rule, f"recorded {kind} is gone"))
                    continue
                now = sha256_path(path)
                if now == digest:
                    continue
                if kind == "output":
                    findings.append(Finding("modified", path, rule, "bytes differ from what the rule wrote"))
                else:
                    for out in outputs:
                        findings.append(Finding("stale", out, rule, f"input {path} changed since it was made"))
        findings += audit_items(rec.get("items", {}), rule)
    return findings, len(records)


def audit_items(items: dict, rule: str) -> list[Finding]:
    """A finding for each per-item file that is gone or whose size or sha256 changed."""
    out = []
    for path, want in sorted(items.items()):
        p = Path(path)
        if not p.is_file():
            out.append(Finding("missing", path, rule, "recorded per-item file is gone"))
            continue
        size = p.stat().st_size
        if size != want.get("size"):
            out.append(Finding("corrupted", path, rule, f"size {size} bytes, recorded {want.get('size')}"))
        elif sha256_path(p) != want.get("sha256"):
            out.append(Finding("corrupted", path, rule, "sha256 differs from the recorded one"))
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", nargs="+", default=[str(cli_paths.PROVENANCE_DIR)],
                        help="folders of provenance records (the workflow's: data/provenance/<run_name> and, for "
                             "the outputs runs share, data/provenance/shared)")
    parser.add_argument("--json", action="store_true", help="print findings as JSON")


def run(args: argparse.Namespace) -> int:
    dirs = args.dir  # nargs="+": always a list
    missing = [d for d in dirs if not Path(d).is_dir()]
    if missing:
        print(f"rome audit: no provenance folder {', '.join(missing)} (run the workflow first)")
        return 1
    findings: list[Finding] = []
    n = 0
    for d in dirs:
        found, count = audit(d)
        findings += found
        n += count
    if args.json:
        print(json.dumps([asdict(f) for f in findings], indent=2))
    else:
        for f in findings:
            print(f"{f.status:9s} {f.artifact}  [{f.rule}] {f.detail}")
        print(f"audit: {n} records, {len(findings)} findings")
    return 1 if findings else 0
