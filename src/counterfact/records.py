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


def load_records(path: str | os.PathLike, validate: bool = False) -> list[dict]:
    """Load a COUNTERFACT-format JSON list (ours or the released ``counterfact.json``).

    With ``validate=True`` the records are checked (:func:`counterfact.validate.validate_records`)
    and a :class:`DataError` listing the first violations is raised when any fails.
    """
    path = Path(path)
    data = read_json_list(path)
    if validate:
        from .validate import validate_records

        violations = validate_records(data)
        if violations:
            shown = "; ".join(str(v) for v in violations[:5])
            raise DataError(path, f"{len(violations)} violation(s): {shown}")
    return data


def records_by_case_id(records: list[dict]) -> dict[int, dict]:
    return {r["case_id"]: r for r in records}
