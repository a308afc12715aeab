"""Writing COUNTERFACT records in other frameworks' formats.

``easyedit``: the flattened records EasyEdit's ``CounterFactDataset``
(``easyeditor/dataset/counterfact.py``) reads and its collate functions index:
``prompt`` (the rewrite prompt filled with the subject), ``target_new``, ``ground_truth``
(the true object), ``rephrase_prompt``, ``locality_prompt``, ``locality_ground_truth``, plus
``subject`` and ``case_id`` as in EasyEdit's own CounterFact files. One record per
COUNTERFACT record: the first paraphrase prompt is the rephrase (its corpus prefix kept, as
COUNTERFACT evaluates it), the first neighbourhood prompt the locality prompt, whose answer
is the true object (a neighbour shares the record's relation and true object).
"""
from __future__ import annotations

import os
from pathlib import Path

from atomicio import atomic_write_json

from .errors import DataError
from .records import load_records

FORMATS = ("easyedit",)
EASYEDIT_FIELDS = ("case_id", "prompt", "target_new", "ground_truth", "subject", "rephrase_prompt",
                   "locality_prompt", "locality_ground_truth")


def to_easyedit(rec: dict) -> dict:
    rw = rec["requested_rewrite"]
    return {
        "case_id": rec["case_id"],
        "prompt": rw["prompt"].replace("{}", rw["subject"], 1),
        "target_new": rw["target_new"]["str"],
        "ground_truth": rw["target_true"]["str"],
        "subject": rw["subject"],
        "rephrase_prompt": rec["paraphrase_prompts"][0],
        "locality_prompt": rec["neighborhood_prompts"][0],
        "locality_ground_truth": rw["target_true"]["str"],
    }


def export_records(records: list[dict], fmt: str = "easyedit", path: str | os.PathLike = "<records>") -> list[dict]:
    """Records in format ``fmt``; invalid input raises :class:`DataError` naming the record."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    from .validate import validate_records

    violations = validate_records(records, strict_counts=False)
    if violations:
        v = violations[0]
        raise DataError(path, f"case_id {v.case_id}: [{v.check}] {v.message}"
                        + (f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""))
    return [to_easyedit(r) for r in records]


def export_file(src: str | os.PathLike, out: str | os.PathLike, fmt: str = "easyedit") -> int:
    """Convert the COUNTERFACT file ``src`` into ``out``; returns the number of records."""
    rows = export_records(load_records(src), fmt, src)
    atomic_write_json(Path(out), rows, indent=1)
    return len(rows)
