"""Explicit download of the pinned upstream ParaRel (never called at import).

Source: github.com/yanaiela/pararel at commit ``cb5554678457``, as GitHub's
tarball of that commit. Only ``data/pattern_data/graphs_json/*.jsonl`` (→ ``patterns/``) and
``data/trex_lms_vocab/*.jsonl`` (→ ``facts/``) plus ``LICENSE`` are extracted.

Checksums: the sha256 of every extracted file is pinned in
``resources/pararel-cb5554678457.sha256`` (computed from a local copy of that commit). The
files are checked against it before anything is written: a file that differs, is missing
or is not listed fails the download and names the file. The files are pinned, not the
tarball, because GitHub does not promise byte-stable archives. :func:`verify_pararel`
checks a local copy the same way (``counterfact verify-pararel DIR``).

Without network the function fails fast with a message naming the configuration key
``paths.pararel``, which should point at a local copy instead.
"""
from __future__ import annotations

import hashlib
import io
import os
import socket
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from atomicio import atomic_write_bytes, atomic_write_json, sha256_file

from .errors import DownloadError

PARAREL_REPO = "yanaiela/pararel"
PARAREL_COMMIT = "cb5554678457"
PARAREL_URL = f"https://github.com/{PARAREL_REPO}/archive/{PARAREL_COMMIT}.tar.gz"
MANIFEST = Path(__file__).parent / "resources" / f"pararel-{PARAREL_COMMIT}.sha256"
_MEMBERS = {"data/pattern_data/graphs_json": "patterns", "data/trex_lms_vocab": "facts"}


def _offline_message(reason: str) -> str:
    return (f"cannot download ParaRel from {PARAREL_URL} ({reason}). Point the configuration key "
            "paths.pararel (CLI: --pararel-dir) at a local copy with patterns/ and facts/, "
            "e.g. $ROME_SHARED_DATA/pararel")


def fetch_url(url: str, timeout: float, offline: Callable[[str], Exception]) -> bytes:
    """The bytes at ``url``. No network (checked first, in seconds) or a failed request raises
    ``offline(reason)``, whose message names the config key that points at a local copy."""
    host = urllib.parse.urlparse(url).hostname or ""
    try:
        socket.create_connection((host, 443), timeout=3.0).close()
    except OSError as exc:
        raise offline(f"no network: {exc}") from None
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.read()
    except (urllib.error.URLError, OSError) as exc:
        raise offline(str(exc)) from None


def pinned_checksums(manifest: str | os.PathLike = MANIFEST) -> dict[str, str]:
    """``{relative path: sha256}`` from a sha256sum-format manifest (``#`` lines are comments)."""
    out = {}
    for n, line in enumerate(Path(manifest).read_text("utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        digest, _, rel = line.partition("  ")
        if len(digest) != 64 or not rel:
            raise DownloadError(f"{manifest}, line {n}: expected '<sha256>  <path>', got {line!r}")
        out[rel] = digest
    return out


def checksum_problems(found: dict[str, str], pinned: dict[str, str]) -> list[str]:
    """What differs between ``found`` ({path: sha256}) and the pinned checksums."""
    problems = []
    for rel in sorted(set(pinned) | set(found)):
        if rel not in found:
            problems.append(f"{rel}: missing")
        elif rel not in pinned:
            problems.append(f"{rel}: not in the pinned list")
        elif found[rel] != pinned[rel]:
            problems.append(f"{rel}: sha256 {found[rel]}, pinned {pinned[rel]}")
    return problems


def verify_pararel(directory: str | os.PathLike, manifest: str | os.PathLike = MANIFEST) -> list[str]:
    """Problems (empty: none) of a ParaRel copy (``LICENSE``, ``patterns/``, ``facts/``) against the pins."""
    root = Path(directory)
    if not root.is_dir():
        raise DownloadError(f"ParaRel directory not found: {root} (config key paths.pararel)")
    pinned = pinned_checksums(manifest)
    found = {p.relative_to(root).as_posix(): sha256_file(p)
             for p in [root / "LICENSE", *sorted(root.glob("patterns/*.jsonl")), *sorted(root.glob("facts/*.jsonl"))]
             if p.is_file()}
    return checksum_problems(found, pinned)


def _member_bytes(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    """The content of a regular-file member (``extractfile`` returns None only for other kinds)."""
    data = tar.extractfile(member)
    assert data is not None
    return data.read()


def _extract(blob: bytes, url: str) -> dict[str, bytes]:
    """The wanted members of the tarball as ``{path under dest: bytes}``."""
    files = {}
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            parts = PurePosixPath(member.name).parts[1:]  # drop "pararel-<sha>/"
            if "/".join(parts) == "LICENSE":
                files["LICENSE"] = _member_bytes(tar, member)
                continue
            folder = "/".join(parts[:-1])
            if folder in _MEMBERS and parts[-1].endswith(".jsonl"):
                files[f"{_MEMBERS[folder]}/{parts[-1]}"] = _member_bytes(tar, member)
    if not files:
        raise DownloadError(f"{url} contained none of the expected ParaRel files")
    return files


def download_pararel(dest: str | os.PathLike, url: str = PARAREL_URL, verify: bool = True,
                     timeout: float = 60.0, manifest: str | os.PathLike = MANIFEST) -> Path:
    """Download, check and extract ParaRel into ``dest/patterns`` and ``dest/facts``; return ``dest``.

    ``verify=False`` writes the files even when they differ from the pinned checksums
    (recorded as ``"verified": false`` in ``dest/SOURCE.json``).
    """
    dest = Path(dest)
    blob = fetch_url(url, timeout, lambda reason: DownloadError(_offline_message(reason)))
    files = _extract(blob, url)
    problems = checksum_problems({rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()},
                                 pinned_checksums(manifest))
    if problems and verify:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise DownloadError(f"{url} does not match the pinned checksums ({manifest}): {shown}. Nothing was "
                            "written. `counterfact download --no-verify` writes it anyway.")
    for rel, data in sorted(files.items()):
        atomic_write_bytes(dest / rel, data)
    atomic_write_json(dest / "SOURCE.json", {"url": url, "commit": PARAREL_COMMIT,
                                             "tarball_sha256": hashlib.sha256(blob).hexdigest(),
                                             "verified": not problems, "problems": problems, "files": len(files)})
    return dest
