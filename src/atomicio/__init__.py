"""Atomic, deterministic artifact writing and content hashing (shared by `counterfact` and `rome`).

Every file the package produces is written through these helpers: the bytes go to a
temporary file in the destination folder and are renamed into place, so a killed run
never leaves a half-written file that looks finished.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np


class UnsafeNameError(ValueError):
    """A name taken from data (an id, a run name) that is not a plain file-name token."""


class CorruptFileError(ValueError):
    """A cached file that cannot be read back (truncated, not UTF-8, invalid JSON/npz)."""


_PLAIN = re.compile(r"[A-Za-z0-9_.-]+")


def check_plain_name(name: Any, what: str = "name") -> str:
    """``name`` as a string when it is a plain token (letters, digits, ``_ . -``; not
    ``.``/``..``; at most 200 characters), else :class:`UnsafeNameError` naming ``what``."""
    if isinstance(name, bool) or not isinstance(name, (str, int)):
        raise UnsafeNameError(f"{what}: must be a string or an integer, got {type(name).__name__} {name!r}")
    text = str(name)
    if not _PLAIN.fullmatch(text) or text in (".", "..") or len(text) > 200:
        raise UnsafeNameError(
            f"{what}: {text!r} is not a plain name (allowed: letters, digits, '_', '.', '-'; not '.' or '..')")
    return text


def safe_child(folder: str | os.PathLike, name: Any, what: str = "name", prefix: str = "",
               suffix: str = "") -> Path:
    """``folder / (prefix + name + suffix)`` for a ``name`` taken from data.

    ``name`` must be a plain token (:func:`check_plain_name`) and the resolved path must
    stay directly inside ``folder``; otherwise :class:`UnsafeNameError` naming ``what``
    (e.g. ``"record 3: field case_id"``). The one way file names are built from ids.
    """
    token = check_plain_name(name, what)
    folder = Path(folder)
    child = folder / f"{prefix}{token}{suffix}"
    root = folder.resolve()
    if child.resolve().parent != root:
        raise UnsafeNameError(f"{what}: {token!r} leads outside {folder}")
    return child


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, then rename).

    The file gets the mode a plain ``open(path, "w")`` would give it (0666 less the
    umask), not the 0600 of the temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def dumps_json(obj: Any, indent: int | None = 2) -> str:
    """Canonical JSON: UTF-8 kept as is, stable key order as given, trailing newline."""
    return json.dumps(obj, ensure_ascii=False, indent=indent) + "\n"


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> Path:
    return atomic_write_text(path, dumps_json(obj, indent=indent))


def atomic_save_npz(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> Path:
    """Save plain numpy arrays (no pickles) atomically as an ``.npz`` file."""
    buf = io.BytesIO()
    named: dict[str, Any] = {k: np.asarray(v) for k, v in arrays.items()}  # Any: numpy's stub types **kwds like its bool keywords
    np.savez(buf, **named)
    return atomic_write_bytes(path, buf.getvalue())


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file; a truncated or corrupted file is a
    :class:`CorruptFileError` naming the path."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise CorruptFileError(f"{path}: unreadable .npz file ({type(exc).__name__}: {exc}); "
                               "delete it to recompute") from None


def read_utf8(path: str | os.PathLike) -> str:
    """The text of ``path``; bytes that are not UTF-8 are a :class:`CorruptFileError` naming
    the path and the offset (a missing file stays ``FileNotFoundError``)."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptFileError(f"{path}: not UTF-8 text (invalid byte at offset {exc.start})") from None


def load_json(path: str | os.PathLike) -> Any:
    """The parsed JSON of a file this package wrote; invalid UTF-8 or JSON (a truncated
    cache) is a :class:`CorruptFileError` naming the path."""
    text = read_utf8(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorruptFileError(f"{path}: invalid JSON at line {exc.lineno} ({exc.msg})") from None


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stable_key(*parts: Any, length: int = 16) -> str:
    """A short hash of JSON-serialisable parts, for cache file names keyed by their inputs."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:length]
