"""Provenance records: which inputs, configuration, model and package version made an artifact.

The workflow calls ``rome provenance`` after every rule; it writes one JSON file per rule
run under ``<data>/provenance/`` holding the sha256 of every input and output file (a
folder is hashed as its sorted file list and contents), the rule's parameters, the model
and the package version. :mod:`rome.audit` re-hashes them later and reports any artifact
whose inputs or own bytes changed since it was made.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

from atomicio import atomic_write_json, sha256_file, stable_key


def package_version() -> str:
    try:
        return metadata.version("rome-replication")
    except metadata.PackageNotFoundError:  # running from a source tree without install
        return "unknown"


def sha256_path(path: str | os.PathLike) -> str:
    """sha256 of a file, or of a folder's sorted relative names and file contents."""
    p = Path(path)
    if p.is_file():
        return sha256_file(p)
    if p.is_dir():
        h = hashlib.sha256()
        for f in sorted(x for x in p.rglob("*") if x.is_file() and not x.name.startswith(".")):
            h.update(str(f.relative_to(p)).encode("utf-8") + b"\0")
            h.update(sha256_file(f).encode("ascii"))
        return h.hexdigest()
    raise FileNotFoundError(f"cannot hash {path}: it does not exist")


def provenance_record(
    rule: str, inputs: Iterable[str], outputs: Iterable[str], params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "rule": rule,
        "package_version": package_version(),
        "params": params or {},
        "inputs": {str(p): sha256_path(p) for p in sorted(set(map(str, inputs)))},
        "outputs": {str(p): sha256_path(p) for p in sorted(set(map(str, outputs)))},
    }


def provenance_path(directory: str | os.PathLike, rule: str, outputs: Iterable[str]) -> Path:
    return Path(directory) / f"{rule}-{stable_key(sorted(map(str, outputs)), length=12)}.json"


def write_provenance(directory, rule, inputs, outputs, params=None) -> Path:
    record = provenance_record(rule, inputs, outputs, params)
    return atomic_write_json(provenance_path(directory, rule, record["outputs"]), record)


def load_provenance(directory: str | os.PathLike) -> list[dict[str, Any]]:
    out = []
    for f in sorted(Path(directory).glob("*.json")):
        try:
            rec = json.loads(f.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{f}: not valid JSON ({err})") from None
        rec["_file"] = str(f)
        out.append(rec)
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rule", required=True)
    parser.add_argument("--inputs", nargs="*", default=[])
    parser.add_argument("--outputs", nargs="+", required=True)
    parser.add_argument("--params-json", default="{}", help="the rule's parameters as JSON")
    parser.add_argument("--dir", default="data/provenance")


def run(args: argparse.Namespace) -> int:
    try:
        params = json.loads(args.params_json)
    except json.JSONDecodeError as err:
        raise SystemExit(f"rome provenance: --params-json is not valid JSON ({err})")
    path = write_provenance(args.dir, args.rule, args.inputs, args.outputs, params)
    print(f"provenance: {path}")
    return 0
