"""Reading and writing COUNTERFACT-format files (a JSON list of records)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from atomicio import atomic_write_text

from .errors import DataError, read_json_list


def dumps_records(records: list[dict]) -> str:
    """One record per line inside a JSON list: valid JSON, diff-friendly, byte-stable."""
    if not records:
        return "[]\n"
    body = ",\n".join(json.dumps(r, ensure_ascii=False, separators=(", ", ": ")) for r in records)
    return "[\n" + body + "\n]\n"


def write_records(path: str | os.PathLike, records: list[dict]) -> Path:
    return atomic_write_text(path, dumps_records(records))


def load_records(path: str | os.PathLike) -> list[dict]:
    """Load a COUNTERFACT-format JSON list (ours or the released ``counterfact.json``) as it is;
    :func:`counterfact.validate.load_valid_records` also checks every record."""
    return read_json_list(Path(path))


def check_record_ids(records, path: str | os.PathLike | None = None, field: str = "case_id") -> list:
    """Refuse records whose ``field`` is missing, not a plain token (an integer, or letters,
    digits, ``_ . -``: it becomes part of file names) or used twice; the error names the
    file, the record(s) and the field. Returns ``records``."""
    from atomicio import UnsafeNameError, check_plain_name

    seen: dict = {}
    for i, r in enumerate(records):
        if not isinstance(r, dict):
            raise DataError(path, f"expected an object, got {type(r).__name__}", index=i)
        if field not in r:
            raise DataError(path, "missing field", index=i, field=field)
        value = r[field]
        try:
            check_plain_name(value, field)
        except UnsafeNameError as exc:
            raise DataError(path, str(exc).split(": ", 1)[1], index=i, field=field) from None
        key = str(value)
        if key in seen:
            raise DataError(path, f"duplicate {field} {value!r}: records {seen[key]} and {i} have the same id "
                                  "(each needs its own result file)", index=i, field=field)
        seen[key] = i
    return records


def records_by_case_id(records: list[dict]) -> dict[int, dict]:
    return {r["case_id"]: r for r in records}
