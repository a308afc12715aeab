"""Explicit download of the pinned upstream ParaRel (never called at import).

Source: github.com/yanaiela/pararel at commit ``cb5554678457`` (SPEC 1), as GitHub's
tarball of that commit. Only ``data/pattern_data/graphs_json/*.jsonl`` (→ ``patterns/``) and
``data/trex_lms_vocab/*.jsonl`` (→ ``facts/``) plus ``LICENSE`` are extracted.

Checksum: :data:`PARAREL_TARBALL_SHA256` is ``None`` because the tarball could not be
fetched while writing this (no network). The first download therefore *records* the
sha256 it saw in ``<dest>/SOURCE.json`` (trust on first use) and later downloads into the
same destination are verified against it; pin the constant once a networked run has
reported the value. When a pinned value is set, a mismatch always fails.

Without network the function fails fast with a message naming the configuration key
``paths.pararel``, which should point at a local copy instead.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import tarfile
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath

from rome.artifacts import atomic_write_bytes, atomic_write_json

from .errors import DownloadError

PARAREL_REPO = "yanaiela/pararel"
PARAREL_COMMIT = "cb5554678457"
PARAREL_URL = f"https://github.com/{PARAREL_REPO}/archive/{PARAREL_COMMIT}.tar.gz"
PARAREL_TARBALL_SHA256: str | None = None
_MEMBERS = {"data/pattern_data/graphs_json": "patterns", "data/trex_lms_vocab": "facts"}


def _offline_message(reason: str) -> str:
    return (f"cannot download ParaRel from {PARAREL_URL} ({reason}). Point the configuration key "
            "paths.pararel (CLI: --pararel-dir) at a local copy with patterns/ and facts/, "
            "e.g. ../shared/data/pararel")


def _check_network(host: str = "github.com", timeout: float = 3.0) -> None:
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError as exc:
        raise DownloadError(_offline_message(f"no network: {exc}")) from None


def download_pararel(dest: str | os.PathLike, url: str = PARAREL_URL, sha256: str | None = PARAREL_TARBALL_SHA256,
                     timeout: float = 60.0) -> Path:
    """Download and extract ParaRel into ``dest/patterns`` and ``dest/facts``; return ``dest``."""
    dest = Path(dest)
    _check_network()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            blob = resp.read()
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(_offline_message(str(exc))) from None
    digest = hashlib.sha256(blob).hexdigest()
    source = dest / "SOURCE.json"
    recorded = None
    if source.is_file():
        recorded = json.loads(source.read_text("utf-8")).get("sha256")
    expected = sha256 or recorded
    if expected is not None and digest != expected:
        raise DownloadError(f"checksum mismatch for {url}: got {digest}, expected {expected}")
    n = 0
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            parts = PurePosixPath(member.name).parts[1:]  # drop "pararel-<sha>/"
            rel = "/".join(parts)
            if rel == "LICENSE":
                target = dest / "LICENSE"
            else:
                folder = "/".join(parts[:-1])
                if folder not in _MEMBERS or not parts[-1].endswith(".jsonl"):
                    continue
                target = dest / _MEMBERS[folder] / parts[-1]
            atomic_write_bytes(target, tar.extractfile(member).read())
            n += 1
    if n == 0:
        raise DownloadError(f"{url} contained none of the expected ParaRel files")
    atomic_write_json(source, {"url": url, "commit": PARAREL_COMMIT, "sha256": digest,
                               "pinned": sha256 is not None, "files": n})
    return dest
