"""Explicit download of the single-file upstream inputs (never called at import).

ParaRel has its own downloader (:mod:`counterfact.download`). The other upstream inputs
are one file each; the workflow fetches one when its ``paths.<key>`` is ``null``:

============================  =====================================================  ==========
config key                    upstream                                               check
============================  =====================================================  ==========
``known_facts_released``      rome.baulab.info/data/dsets/known_1000.json            pinned
``zsre_eval``                 rome.baulab.info/data/dsets/zsre_mend_eval.json        recorded
``corpus``                    WikiText-2 raw test split (``datasets``: wikitext,     recorded
                              wikitext-2-raw-v1)
============================  =====================================================  ==========

*pinned*: the sha256 of the file's JSON content (keys sorted, no whitespace), so a
re-serialised copy of the same records still matches. It was computed from the local copy
of the released file. *recorded*: no local copy of the whole upstream file exists here to
pin from (the local zsRE file is a 1,037-record subset; WikiText-2 comes through
``datasets``). The first download records its sha256 next to the file, and later downloads
to the same place must match it. ``zsre_train`` has no stable public URL (MEND's
training split is distributed as an archive on a file-sharing drive), so it has no entry;
point the key at a copy.

Without network every fetch fails at once with a message naming the config key.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from atomicio import atomic_write_bytes, atomic_write_json

from .download import fetch_url
from .errors import DownloadError, read_json

ROME_DATA = "https://rome.baulab.info/data/dsets"


@dataclass(frozen=True)
class Upstream:
    key: str                                # the config key under ``paths``
    file: str                               # file name written into the destination folder
    url: str | None = None                  # a plain HTTP download ...
    dataset: tuple[str, str, str] | None = None   # ... or a ``datasets`` (path, config, split)
    json_sha256: str | None = None          # pinned sha256 of the canonical JSON content

    @property
    def source(self) -> str:
        return self.url or "datasets:" + "/".join(self.dataset or ())


UPSTREAM = {
    u.key: u for u in (
        Upstream("known_facts_released", "known_1000.json", url=f"{ROME_DATA}/known_1000.json",
                 json_sha256="0ff3536fc767a71b18079a9a4426a4ae97d46f16e3536c25ace27604f53cdc7b"),
        Upstream("zsre_eval", "zsre_mend_eval.json", url=f"{ROME_DATA}/zsre_mend_eval.json"),
        Upstream("corpus", "wiki.test.raw", dataset=("wikitext", "wikitext-2-raw-v1", "test")),
    )
}
NO_UPSTREAM = {"zsre_train": "MEND's zsRE training split has no stable public URL; point paths.zsre_train "
                             "at a copy in MEND's format (e.g. $ROME_SHARED_DATA/zsre/zsre_train_1k.json)"}


def upstream_for_file(file: str) -> Upstream:
    for u in UPSTREAM.values():
        if u.file == file:
            return u
    raise DownloadError(f"no upstream source writes {file!r}; known files: {sorted(u.file for u in UPSTREAM.values())}")


def json_content_sha256(data: bytes, where: str) -> str:
    """sha256 of the JSON document in ``data``, re-serialised with sorted keys and no whitespace."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DownloadError(f"{where} is not valid JSON: {exc}") from None
    canonical = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _offline(u: Upstream, reason: str) -> DownloadError:
    return DownloadError(f"cannot fetch {u.source} ({reason}). Point the configuration key paths.{u.key} "
                         "at a local copy instead, or set $ROME_SHARED_DATA to a folder of local copies.")


def _download(u: Upstream, timeout: float) -> bytes:
    if u.url is not None:
        return fetch_url(u.url, timeout, lambda reason: _offline(u, reason))
    assert u.dataset is not None  # an upstream names a URL or a dataset
    try:
        import datasets  # noqa: PLC0415 - only for the corpus, only when asked
        rows = datasets.load_dataset(*u.dataset[:2], split=u.dataset[2])
    except Exception as exc:  # noqa: BLE001 - any failure of the hub is "cannot fetch"
        raise _offline(u, f"{type(exc).__name__}: {exc}") from None
    # a row is one line with its newline; blank lines are empty rows, so they get theirs back
    return "".join(r["text"] or "\n" for r in rows).encode("utf-8")


def fetch_upstream(key: str, dest_dir: str | os.PathLike, timeout: float = 120.0) -> Path:
    """Download the upstream file of ``paths.<key>`` into ``dest_dir``, check it, return its path."""
    if key in NO_UPSTREAM:
        raise DownloadError(f"paths.{key}: {NO_UPSTREAM[key]}")
    if key not in UPSTREAM:
        raise DownloadError(f"paths.{key} has no upstream download; keys with one: {sorted(UPSTREAM)}")
    u = UPSTREAM[key]
    dest = Path(dest_dir) / u.file
    record = dest.with_name(dest.name + ".source.json")
    data = _download(u, timeout)
    digest = hashlib.sha256(data).hexdigest()
    if u.json_sha256 is not None:
        got = json_content_sha256(data, u.source)
        if got != u.json_sha256:
            raise DownloadError(f"{u.source}: JSON content sha256 {got} differs from the pinned {u.json_sha256} "
                                f"(paths.{key}); nothing was written")
    elif record.is_file():
        seen = read_json(record).get("sha256")
        if seen and seen != digest:
            raise DownloadError(f"{u.source}: sha256 {digest} differs from the {seen} recorded in {record} by an "
                                "earlier download; the upstream file changed. Delete the record to accept it.")
    atomic_write_bytes(dest, data)
    atomic_write_json(record, {"key": key, "source": u.source, "sha256": digest,
                               "check": "pinned JSON content" if u.json_sha256 else "recorded on first download"})
    return dest
