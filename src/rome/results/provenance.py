"""Provenance records: which inputs, configuration, model and package version made an artifact.

The workflow calls ``rome provenance`` after every rule; it writes one JSON file per rule
run under ``<data>/provenance/`` holding the sha256 of every input and output file (a
folder is hashed as its sorted file list and contents), the rule's parameters, the model
and the package version. :mod:`rome.results.audit` re-hashes them later and reports any artifact
whose inputs or own bytes changed since it was made.

Per-item files (one traced fact, one evaluated record) are recorded one by one under
``items`` with their size and sha256, so the audit names each corrupted one. They come from
the ``manifest.json`` that ``rome trace-batch`` and ``rome evaluate`` write in their
result folder: given with ``--items``, or found by the workflow's convention that an output
``<name>.done`` marks the folder ``<name>/`` (``tracing/main.done`` -> ``tracing/main/``,
``eval/counterfact/rome.done`` -> ``eval/counterfact/rome/``).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from atomicio import atomic_write_json, sha256_file, stable_key

from ..cli import paths as cli_paths


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


def item_manifests(outputs: Iterable[str], explicit: Iterable[str] = ()) -> list[Path]:
    """Manifests of per-item files: ``explicit`` ones, and ``<name>/manifest.json`` beside each ``<name>.done``."""
    found = [Path(m) for m in explicit]
    for out in outputs:
        p = Path(out)
        if p.suffix == ".done" and (p.with_suffix("") / "manifest.json").is_file():
            found.append(p.with_suffix("") / "manifest.json")
    return sorted(set(found))


def item_checksums(manifests: Iterable[str | os.PathLike]) -> dict[str, dict]:
    """``{path: {"size", "sha256"}}`` of every per-item file the manifests list, hashed now."""
    out: dict[str, dict] = {}
    for m in manifests:
        m = Path(m)
        try:
            listed = json.loads(m.read_text(encoding="utf-8")).get("items", {})
        except (OSError, ValueError, AttributeError) as err:
            raise ValueError(f"{m}: not a readable per-item manifest ({err})") from None
        for rel in sorted(listed):
            f = m.parent / rel
            if not f.is_file():
                raise FileNotFoundError(f"{m} lists {f}, which does not exist")
            out[str(f)] = {"size": f.stat().st_size, "sha256": sha256_file(f)}
    return out


def provenance_record(
    rule: str, inputs: Iterable[str], outputs: Iterable[str], params: dict[str, Any] | None = None,
    items: Iterable[str] = (),
) -> dict[str, Any]:
    outputs = sorted(set(map(str, outputs)))
    record = {
        "rule": rule,
        "package_version": package_version(),
        "params": params or {},
        "inputs": {str(p): sha256_path(p) for p in sorted(set(map(str, inputs)))},
        "outputs": {str(p): sha256_path(p) for p in outputs},
    }
    manifests = item_manifests(outputs, items)
    if manifests:
        record["item_manifests"] = [str(m) for m in manifests]
        record["items"] = item_checksums(manifests)
    return record


def provenance_path(directory: str | os.PathLike, rule: str, outputs: Iterable[str]) -> Path:
    return Path(directory) / f"{rule}-{stable_key(sorted(map(str, outputs)), length=12)}.json"


def write_provenance(directory, rule, inputs, outputs, params=None, items=()) -> Path:
    record = provenance_record(rule, inputs, outputs, params, items)
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
    parser.add_argument("--items", nargs="*", default=[],
                        help="manifest.json files whose per-item files are recorded one by one (size, sha256)")
    parser.add_argument("--dir", default=str(cli_paths.PROVENANCE_DIR))


def run(args: argparse.Namespace) -> int:
    try:
        params = json.loads(args.params_json)
    except json.JSONDecodeError as err:
        raise SystemExit(f"rome provenance: --params-json is not valid JSON ({err})") from None
    path = write_provenance(args.dir, args.rule, args.inputs, args.outputs, params, args.items)
    print(f"provenance: {path}")
    return 0
