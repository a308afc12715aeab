"""Exceptions raised by the COUNTERFACT package."""
from __future__ import annotations

import os


class CounterfactError(Exception):
    """Base class for every error this package raises on purpose."""


class DataError(CounterfactError, ValueError):
    """Malformed input data.

    The message always names the file and, when known, the line (1-based) or the
    record index and field, followed by the reason, e.g.
    ``pararel/facts/P17.jsonl, line 12: missing field 'obj_label'``.
    """

    def __init__(self, path: str | os.PathLike | None, reason: str, *, line: int | None = None,
                 index: int | None = None, field: str | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        self.index = index
        self.field = field
        self.reason = reason
        where = [self.path or "<input>"]
        if line is not None:
            where.append(f"line {line}")
        if index is not None:
            where.append(f"record {index}")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(f"{', '.join(where)}: {reason}")


class CorpusError(CounterfactError):
    """The text corpus needed for paraphrase prefixes or reference texts is unusable."""


class DownloadError(CounterfactError):
    """An explicit download could not be performed (no network, bad checksum, ...)."""
