"""Table 2 statistics of a COUNTERFACT-format file (paper, Table 2), by the paper's definitions.

Three columns per row:

* ``total``: number of distinct strings over the whole file;
* ``per_relation``: mean over relations of the number of distinct strings among the
  records of that relation;
* ``per_record``: mean over records of the number of distinct strings in one record.

Rows (what is counted; on the released file these give the paper's numbers: 749 objects,
21,595 counterfactual statements):

* records: records (per record: 1);
* subjects: ``requested_rewrite.subject``;
* objects: the *new* targets ``requested_rewrite.target_new.str`` (the paper's "Objects");
* true_objects: ``requested_rewrite.target_true.str`` (not a row of the paper; shown for
  comparison);
* counterfactual statements: the rewrite prompt filled with its subject,
  ``prompt.replace("{}", subject)`` (without the target);
* paraphrase / neighborhood / attribute / generation prompts: the prompt strings
  (generation prompts are sampled with repetition, so fewer than 10 are distinct per record).
"""
from __future__ import annotations

import os
from collections import defaultdict
from typing import TypeGuard

ROWS = ("records", "subjects", "objects", "true_objects", "counterfactual_statements", "paraphrase_prompts",
        "neighborhood_prompts", "attribute_prompts", "generation_prompts")


def _strings(rec: dict) -> dict[str, list[str]]:
    rw = rec["requested_rewrite"]
    return {
        "records": [str(rec["case_id"])],
        "subjects": [rw["subject"]],
        "objects": [rw["target_new"]["str"]],
        "true_objects": [rw["target_true"]["str"]],
        "counterfactual_statements": [rw["prompt"].replace("{}", rw["subject"], 1)],
        "paraphrase_prompts": rec["paraphrase_prompts"],
        "neighborhood_prompts": rec["neighborhood_prompts"],
        "attribute_prompts": rec["attribute_prompts"],
        "generation_prompts": rec["generation_prompts"],
    }


def compute_stats(records: list[dict]) -> dict:
    """``{"n_records", "n_relations", "rows": {row: {"total", "per_relation", "per_record"}}, "relations": {...}}``."""
    total: dict[str, set] = {r: set() for r in ROWS}
    per_rel: defaultdict[str, dict[str, set]] = defaultdict(lambda: {r: set() for r in ROWS})
    per_record_sum = {r: 0 for r in ROWS}
    for rec in records:
        rel = rec["requested_rewrite"]["relation_id"]
        for row, strings in _strings(rec).items():
            uniq = set(strings)
            total[row] |= uniq
            per_rel[rel][row] |= uniq
            per_record_sum[row] += len(uniq)
    n = len(records)
    n_rel = len(per_rel)
    rows = {}
    for row in ROWS:
        rows[row] = {
            "total": len(total[row]),
            "per_relation": round(sum(len(v[row]) for v in per_rel.values()) / n_rel, 2) if n_rel else 0.0,
            "per_record": round(per_record_sum[row] / n, 2) if n else 0.0,
        }
    relations = {rel: {row: len(v[row]) for row in ROWS} for rel, v in sorted(per_rel.items())}
    return {"n_records": n, "n_relations": n_rel, "rows": rows, "relations": relations}


def format_stats(stats: dict) -> str:
    lines = [f"{'':28s}{'total':>10s}{'per relation':>14s}{'per record':>12s}"]
    for row, v in stats["rows"].items():
        lines.append(f"{row.replace('_', ' '):28s}{v['total']:>10,d}{v['per_relation']:>14,.1f}{v['per_record']:>12,.2f}")
    lines.append(f"({stats['n_records']} records, {stats['n_relations']} relations)")
    return "\n".join(lines)


def read_stats(path: str | os.PathLike) -> dict:
    """A statistics file written by ``counterfact stats --out``, checked: a
    :class:`~counterfact.errors.DataError` names the file and the field that is missing or
    not a number (instead of a ``KeyError`` deep inside the table writer)."""
    from .errors import DataError, read_json

    stats = read_json(path)
    if not isinstance(stats, dict):
        raise DataError(path, f"expected the object `counterfact stats --out` writes, got {type(stats).__name__}")
    for key in ("n_records", "n_relations"):
        if not is_number(stats.get(key)):
            raise DataError(path, "missing or not a number (write it with `counterfact stats --out`)", field=key)
    rows = stats.get("rows")
    if not isinstance(rows, dict):
        raise DataError(path, "missing or not an object (write it with `counterfact stats --out`)", field="rows")
    for row in ROWS:
        entry = rows.get(row)
        for col in ("total", "per_relation", "per_record"):
            if not (isinstance(entry, dict) and is_number(entry.get(col))):
                raise DataError(path, "missing or not a number", field=f"rows.{row}.{col}")
    return stats


def is_number(x) -> TypeGuard[int | float]:
    """A JSON number (an int or float, not a bool)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool)
