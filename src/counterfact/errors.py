"""Exceptions raised by the COUNTERFACT package."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class BadInputError(Exception):
    """Marker of errors caused by the user's input (a file, record, field, option or
    setting), not by a bug: both command lines print their message on one line and exit
    with code 2 (see :mod:`counterfact.cliargs`). The message names what is wrong and where."""


class CounterfactError(BadInputError):
    """Base class for every error this package raises on purpose."""


class DataError(CounterfactError, ValueError):
    """Malformed input data.

    The message always names the file and, when known, the line (1-based) or the
    record index and field, followed by the reason, e.g.
    ``pararel/facts/P17.jsonl, line 12: missing field 'obj_label'``. ``unit`` names what
    the index counts (``"record"``; ``"row"`` for the rows of a summary file).
    """

    def __init__(self, path: str | os.PathLike | None, reason: str, *, line: int | None = None,
                 index: int | None = None, field: str | None = None, unit: str = "record"):
        self.path = None if path is None else str(path)
        self.line = line
        self.index = index
        self.field = field
        self.reason = reason
        where = [self.path or "<input>"]
        if line is not None:
            where.append(f"line {line}")
        if index is not None:
            where.append(f"{unit} {index}")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(f"{', '.join(where)}: {reason}")


class CorpusError(CounterfactError):
    """The text corpus needed for paraphrase prefixes or reference texts is unusable."""


class DownloadError(CounterfactError):
    """An explicit download could not be performed (no network, bad checksum, ...)."""


def read_json(path: str | os.PathLike, missing_hint: str | None = None) -> Any:
    """The parsed JSON of ``path``; a missing file or invalid JSON is a :class:`DataError`
    naming the file (and the line), with ``missing_hint`` (e.g. the config key) appended."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise DataError(path, "file not found" + (f" ({missing_hint})" if missing_hint else "")) from None
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not UTF-8 text (invalid byte at offset {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise DataError(path, f"invalid JSON ({exc.msg} at column {exc.colno})", line=exc.lineno) from None
    except IsADirectoryError:
        raise DataError(path, "is a folder, expected a JSON file") from None


def read_json_list(path: str | os.PathLike, missing_hint: str | None = None) -> list:
    """:func:`read_json` of a file that must hold a JSON list (of records)."""
    data = read_json(path, missing_hint)
    if not isinstance(data, list):
        raise DataError(path, f"expected a JSON list of records, got {type(data).__name__}")
    return data
