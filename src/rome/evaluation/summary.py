"""Summaries of per-record result files: every Table 4 / Table 1 metric per method.

``summarize_run(out_dir)`` reads every method folder under ``out_dir`` (see
:mod:`rome.evaluation.runner`) and returns a JSON-ready document with one row per method:
metric means × 100 with 95% intervals (1.96 · std / √N, N = records with a value), the
number of records, and RS coverage (records with a reference score). S is the harmonic
mean of the ES, PS and NS means (0 when any is 0) and has no interval. COUNTERFACT rows also
hold the strict columns (:mod:`rome.evaluation.strict`; ``strict_columns`` lists them), each
with its own N (``n``: records whose files hold that metric).

The pre-edit row ("role": "pre-edit") is the unedited model: the ``none`` run when there is
one (with GE and RS), otherwise the ``pre`` blocks of the edited runs (scores only).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..results.cache_key import MissingItemsError, MixedKeysError, check_consistent
from ..results.layout import is_unedited, method_dir
from ..results.paper_values import COUNTERFACT_COLUMNS, STRICT_COLUMNS, UNSCALED_COLUMNS, ZSRE_COLUMNS
from .metrics import counterfact_record_metrics, harmonic_mean, mean_ci, zsre_record_metrics
from .runner import load_selected, manifest_path
from .strict import strict_record_metrics


def aggregate(per_record: Sequence[dict], dataset: str) -> dict[str, dict]:
    """``{metric: {"value", "ci", "n"}}`` (× 100; NKL columns in nats) from per-record metric
    dicts; ``n`` is the column's own N (records that have the value)."""
    cols = (*COUNTERFACT_COLUMNS, *STRICT_COLUMNS) if dataset == "counterfact" else ZSRE_COLUMNS
    out: dict[str, dict] = {}
    for c in cols:
        if c == "S":
            continue
        m, ci, n = mean_ci([r.get(c) for r in per_record])
        scale = 1.0 if c in UNSCALED_COLUMNS else 100.0
        out[c] = {"value": scale * m if n else None, "ci": scale * ci if n else None, "n": n}
    if dataset == "counterfact":
        parts = [out[k]["value"] for k in ("ES", "PS", "NS")]
        s = harmonic_mean([p for p in parts if p is not None]) if all(p is not None for p in parts) else None
        out = {"S": {"value": s, "ci": None, "n": min(out[k]["n"] for k in ("ES", "PS", "NS"))}, **out}
    return out


def record_metrics(block: dict, dataset: str) -> dict:
    """The per-record metrics of one block: Table 4's and the strict ones, or Table 1's."""
    if dataset == "counterfact":
        return {**counterfact_record_metrics(block), **strict_record_metrics(block)}
    return zsre_record_metrics(block)


def _row(label: str, method: str, role: str, blocks: list[dict], dataset: str, case_ids: list) -> dict:
    per = [record_metrics(b, dataset) for b in blocks]
    row = {"label": label, "method": method, "role": role, "n_records": len(blocks),
           "metrics": aggregate(per, dataset)}
    if dataset == "counterfact":
        row["rs_coverage"] = sum(1 for p in per if p.get("RS") is not None)
        row["ge_coverage"] = sum(1 for p in per if p.get("GE") is not None)
    row["case_ids"] = [case_ids[0], case_ids[-1]] if case_ids else []
    return row


def method_folders(out_dir: str | Path) -> list[Path]:
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise FileNotFoundError(f"evaluation folder {out_dir} does not exist")
    return sorted(p for p in out_dir.iterdir() if p.is_dir() and (p / "run.json").is_file())


def _select_folders(out_dir, methods: Sequence[str] | None) -> list[Path]:
    folders = method_folders(out_dir)
    if methods is None:
        return folders
    chosen = []
    for m in methods:
        f = method_dir(out_dir, m)
        if not (f / "run.json").is_file():
            raise MissingItemsError(f"{out_dir}: no results of method {m!r} (no {f}/run.json); run rome evaluate")
        chosen.append(f)
    return chosen


def _configured_ids(folder: Path, case_ids: Sequence | None) -> tuple[list, dict | None]:
    """The case ids to summarise for one method and the key its manifest names."""
    manifest = None
    if manifest_path(folder).is_file():
        manifest = json.loads(manifest_path(folder).read_text(encoding="utf-8"))
    if case_ids is not None:
        return list(case_ids), (manifest or {}).get("cache_key")
    if manifest is None:
        raise MissingItemsError(f"{folder}: no manifest.json naming the records of the run (written by rome "
                                "evaluate); rerun it, or pass the case ids (--case-ids)")
    return list(manifest["case_ids"]), manifest.get("cache_key")


def _component(key: dict | None, *path: str):
    node: Any = (key or {}).get("components")
    for p in path:
        node = node.get(p) if isinstance(node, dict) else None
    return node


def summarize_run(out_dir: str | Path, common_records: bool = False, limit: int | None = None,
                  case_ids: Sequence | None = None, methods: Sequence[str] | None = None) -> dict[str, Any]:
    """Summary document of the methods evaluated under ``out_dir`` (see module docstring).

    Each method contributes exactly the records its run was asked for (the case ids in
    its ``manifest.json``, written by ``rome evaluate``), or ``case_ids`` when given; a
    missing record file is an error naming the ids, never skipped. Record files made
    under different keys (e.g. the records of an earlier run with other statistics) are
    refused, as are methods evaluated on another model or records file.
    ``methods``: only these methods (default: every method folder).
    ``common_records``: use only the case ids every method has (same records in every row).
    ``limit``: use only the first ``limit`` case ids of each method.
    """
    runs = []
    keys = []
    for folder in _select_folders(out_dir, methods):
        run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        ids, manifest_key = _configured_ids(folder, case_ids)
        docs = load_selected(folder, ids)
        pairs = [(str(folder / f"case_{d.get('case_id')}.json"), d.get("cache_key")) for d in docs]
        if manifest_key is not None and case_ids is None:
            pairs.insert(0, (str(manifest_path(folder)), manifest_key))
        key = check_consistent(pairs, f"rome summarize {folder}")
        keys.append((folder, key))
        runs.append((run["settings"], docs))
    if not runs:
        raise FileNotFoundError(f"no method folders with run.json under {out_dir}")
    for part in (("model",), ("inputs", "records")):
        seen = {json.dumps(_component(k, *part), sort_keys=True): f for f, k in keys}
        if len(seen) > 1:
            (a, fa), (b, fb) = list(seen.items())[:2]
            raise MixedKeysError(f"{out_dir}: methods were evaluated under different {'.'.join(part)} "
                                 f"({fa.name}: {a}; {fb.name}: {b}); rerun rome evaluate for the stale method")
    datasets = {s["dataset"] for s, _ in runs}
    models = {s["model"] for s, _ in runs}
    if len(datasets) != 1 or len(models) != 1:
        raise ValueError(f"{out_dir} mixes datasets {sorted(datasets)} / models {sorted(models)}; summarise one at a time")
    dataset, model = datasets.pop(), models.pop()
    if common_records:
        common = set.intersection(*[{d["case_id"] for d in docs} for _, docs in runs])
        runs = [(s, [d for d in docs if d["case_id"] in common]) for s, docs in runs]
    if limit is not None:
        runs = [(s, docs[:limit]) for s, docs in runs]

    rows = []
    unedited = [(s, docs) for s, docs in runs if is_unedited(s["method"])]
    edited = [(s, docs) for s, docs in runs if not is_unedited(s["method"])]
    if unedited:
        s, docs = unedited[0]
        rows.append(_row(model, s["method"], "pre-edit", [d["post"] for d in docs], dataset,
                         [d["case_id"] for d in docs]))
    elif edited:
        s, docs = edited[0]
        rows.append(_row(model, "none", "pre-edit", [d["pre"] for d in docs], dataset, [d["case_id"] for d in docs]))
    for s, docs in edited:
        rows.append(_row(s["method"], s["method"], "edited", [d["post"] for d in docs], dataset,
                         [d["case_id"] for d in docs]))
    return {"model": model, "dataset": dataset, "source": str(out_dir), "common_records": common_records,
            "columns": list(COUNTERFACT_COLUMNS if dataset == "counterfact" else ZSRE_COLUMNS), "rows": rows,
            **({"strict_columns": list(STRICT_COLUMNS)} if dataset == "counterfact" else {}),
            "settings": {s["method"]: s for s, _ in runs}}
