"""Reading a local ParaRel copy: ``patterns/P*.jsonl`` and ``facts/P*.jsonl``.

Patterns are ParaRel's paraphrase graphs (one JSON object per line with at least a
``pattern`` field holding ``[X]`` for the subject and ``[Y]`` for the object). Facts are
the T-REx triples ParaRel kept (``sub_label``, ``obj_label``, ``uuid``).

Every malformed line raises :class:`counterfact.errors.DataError` naming the file, the
1-based line number and the reason.
"""
from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, overload

from .errors import DataError

_REL_FILE = re.compile(r"^P(\d+)\.jsonl$")


@dataclass(frozen=True)
class Pattern:
    relation_id: str
    text: str
    lemma: str | None = None
    tense: str | None = None


@dataclass(frozen=True)
class Fact:
    relation_id: str
    subject: str
    object: str
    uuid: str | None
    pararel_idx: int  # index in the concatenation of all fact files, relation_sort_key order
    line: int         # 1-based line in the fact file


@dataclass
class ParaRel:
    root: Path
    patterns: dict[str, list[Pattern]] = field(default_factory=dict)
    facts: dict[str, list[Fact]] = field(default_factory=dict)

    def relations(self) -> list[str]:
        return sorted(self.facts, key=relation_sort_key)


def relation_sort_key(relation_id: str) -> tuple[int, str]:
    """Numeric order of Wikidata property ids: P17 < P19 < P101 < P1412."""
    m = re.fullmatch(r"P(\d+)", relation_id)
    return (int(m.group(1)), relation_id) if m else (1 << 62, relation_id)


def _relation_files(folder: Path) -> list[tuple[str, Path]]:
    if not folder.is_dir():
        raise DataError(folder, "ParaRel folder not found (expected a directory of P*.jsonl files)")
    out = []
    for p in folder.iterdir():
        m = _REL_FILE.match(p.name)
        if m:
            out.append((f"P{m.group(1)}", p))
    if not out:
        raise DataError(folder, "no P*.jsonl files in this folder")
    return sorted(out, key=lambda rp: relation_sort_key(rp[0]))


def _json_lines(path: Path):
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not UTF-8 text (invalid byte at offset {exc.start})") from None
    for lineno, raw in enumerate(io.StringIO(text, newline=None), start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(path, f"invalid JSON ({exc.msg} at column {exc.colno})", line=lineno) from None
        if not isinstance(obj, dict):
            raise DataError(path, f"expected a JSON object, got {type(obj).__name__}", line=lineno)
        yield lineno, obj


@overload
def _string_field(path: Path, lineno: int, obj: dict, name: str, *, required: Literal[True] = True) -> str: ...
@overload
def _string_field(path: Path, lineno: int, obj: dict, name: str, *, required: Literal[False]) -> str | None: ...
def _string_field(path: Path, lineno: int, obj: dict, name: str, *, required: bool = True) -> str | None:
    if name not in obj:
        if required:
            raise DataError(path, f"missing field '{name}'", line=lineno)
        return None
    value = obj[name]
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise DataError(path, f"field '{name}' must be a string, got {type(value).__name__}", line=lineno)
    if required and not value.strip():
        raise DataError(path, f"field '{name}' is empty", line=lineno)
    return value


def read_patterns(path: str | os.PathLike, relation_id: str) -> list[Pattern]:
    path = Path(path)
    out: list[Pattern] = []
    for lineno, obj in _json_lines(path):
        text = _string_field(path, lineno, obj, "pattern")
        if text.count("[X]") != 1 or text.count("[Y]") != 1:
            raise DataError(path, f"pattern must contain [X] and [Y] exactly once: {text!r}", line=lineno)
        out.append(Pattern(relation_id, text, _string_field(path, lineno, obj, "lemma", required=False),
                           _string_field(path, lineno, obj, "tense", required=False)))
    return out


def read_facts(path: str | os.PathLike, relation_id: str, start_index: int = 0) -> list[Fact]:
    path = Path(path)
    out: list[Fact] = []
    for lineno, obj in _json_lines(path):
        sub = _string_field(path, lineno, obj, "sub_label")
        obj_label = _string_field(path, lineno, obj, "obj_label")
        uuid = _string_field(path, lineno, obj, "uuid", required=False)
        out.append(Fact(relation_id, sub.strip(), obj_label.strip(), uuid, start_index + len(out), lineno))
    return out


def load_pararel(root: str | os.PathLike, relations: list[str] | None = None) -> ParaRel:
    """Read ``root/patterns`` and ``root/facts``.

    ``pararel_idx`` of a fact is its index in the concatenation of *all* fact files of the
    folder in numeric relation order (P17, P19, P20, ...), whatever ``relations`` selects,
    so that the index of a fact does not depend on the selection. ``relations`` only limits
    which relations are parsed into ``patterns``/``facts`` (unselected fact files are still
    counted, line by line, to keep the indices fixed; they are parsed too, so malformed
    unselected files still fail).
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "ParaRel directory not found; point --pararel-dir (config key "
                        "paths.pararel) at a local copy with patterns/ and facts/")
    data = ParaRel(root=root)
    wanted = None if relations is None else set(relations)
    for rel in sorted(wanted or (), key=relation_sort_key):
        if not re.fullmatch(r"P\d+", str(rel)):
            raise DataError(root, f"unknown relation id {rel!r} (expected a Wikidata property id such as P17; "
                                  "option --relations / config key dataset.relations)")
    fact_files = _relation_files(root / "facts")
    pattern_files = dict(_relation_files(root / "patterns"))
    if wanted is not None:
        have = {rel for rel, _ in fact_files}
        unknown = sorted(wanted - have, key=relation_sort_key)
        if unknown:
            raise DataError(root / "facts", f"unknown relation id(s) {', '.join(unknown)}: no "
                                            f"{unknown[0]}.jsonl in this ParaRel copy (option --relations / config "
                                            "key dataset.relations)")
    offset = 0
    for rel, p in fact_files:
        facts = read_facts(p, rel, start_index=offset)
        offset += len(facts)
        if wanted is None or rel in wanted:
            if not facts:
                raise DataError(p, f"no facts for relation {rel} (empty file)")
            if rel not in pattern_files:
                raise DataError(root / "patterns", f"no {rel}.jsonl: relation {rel} has facts but no patterns")
            data.facts[rel] = facts
    for rel, p in pattern_files.items():
        if wanted is None or rel in wanted:
            data.patterns[rel] = read_patterns(p, rel)
            if not data.patterns[rel]:
                raise DataError(p, f"no patterns for relation {rel} (empty file)")
    return data
