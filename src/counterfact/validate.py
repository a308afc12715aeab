"""Checking any COUNTERFACT-format file against the schema and the dataset's invariants.

Every violation is reported (not only the first), each with the record's ``case_id`` (or
its list position when the case id itself is unusable). Checks:

* schema: the record keys of the released ``counterfact.json`` (missing and unexpected
  keys), types (``case_id`` / ``pararel_idx`` integers, strings and lists of strings where
  the released file has them, targets as ``{"str", "id"}``). Any non-empty string is an
  ``id``: the released file's Wikidata ids (``"Q150"``) and our derived ids
  (``"P103-5f0c..."``) are both accepted;
* ``prompt`` contains ``{}`` exactly once;
* ``target_new.str != target_true.str``;
* prompt counts: 2 paraphrase and 10 generation prompts, 1 to 10 neighbourhood and
  attribute prompts (a record keeps the neighbourhood that exists when fewer than 10 other
  subjects and templates can form one; the metrics average over what exists);
  ``strict_counts=False``: between 1 and those numbers for every list;
* the subject occurs in every paraphrase (and generation) prompt;
* no neighbourhood prompt is about the record's own subject: a neighbourhood prompt is
  flagged when it equals ``template`` filled with the subject for any rewrite template
  that the file uses for the same relation;
* ``case_id`` values are dense: unique, and equal to the record's position (0, 1, 2, ...).
"""
from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from typing import TypeGuard

from .errors import DataError
from .records import load_records
from .schema import EXPECTED_COUNTS, PROMPT_LIST_KEYS, RECORD_KEYS, REWRITE_KEYS, TARGET_KEYS

# Lists that may hold fewer than the released count (at least 1) even with strict counts.
UP_TO_COUNT = ("neighborhood_prompts", "attribute_prompts")


@dataclass(frozen=True)
class Violation:
    case_id: object     # the record's case_id, or "#<position>" when it has none usable
    check: str          # short machine-readable name of the invariant
    message: str
    field: str = ""     # the dotted field it concerns ("requested_rewrite.target_new.str"), when one
    position: int | None = None   # the record's position in the file

    def __str__(self) -> str:
        return f"case_id {self.case_id}: [{self.check}] {self.message}"

    def to_dict(self) -> dict:
        return {"case_id": self.case_id, "check": self.check, "message": self.message}


def _is_int(x) -> TypeGuard[int]:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_nonempty_str(x) -> bool:
    return isinstance(x, str) and bool(x.strip())


def _check_record(pos: int, rec, out: list[Violation], strict_counts: bool, templates_by_rel) -> None:
    if not isinstance(rec, dict):
        out.append(Violation(f"#{pos}", "type", f"record is {type(rec).__name__}, not an object", position=pos))
        return
    cid = rec.get("case_id")
    label = cid if _is_int(cid) else f"#{pos}"

    def bad(check: str, msg: str, field: str = "") -> None:
        out.append(Violation(label, check, msg, field, pos))

    _check_keys(rec, RECORD_KEYS, "", bad)
    if "case_id" in rec and not _is_int(cid):
        bad("type", f"case_id must be an integer, got {type(cid).__name__}", "case_id")
    if "pararel_idx" in rec and not _is_int(rec["pararel_idx"]):
        bad("type", f"pararel_idx must be an integer, got {type(rec['pararel_idx']).__name__}", "pararel_idx")

    rw = rec.get("requested_rewrite")
    subject = None
    if "requested_rewrite" in rec:
        if not isinstance(rw, dict):
            bad("type", "requested_rewrite must be an object", "requested_rewrite")
            rw = None
        else:
            _check_keys(rw, REWRITE_KEYS, "requested_rewrite.", bad)
            prompt = rw.get("prompt")
            if "prompt" in rw:
                if not isinstance(prompt, str):
                    bad("type", "requested_rewrite.prompt must be a string", "requested_rewrite.prompt")
                elif prompt.count("{}") != 1:
                    bad("prompt_placeholder", f"prompt must contain '{{}}' exactly once, has {prompt.count('{}')}: {prompt!r}",
                        "requested_rewrite.prompt")
            if "relation_id" in rw and not _is_nonempty_str(rw["relation_id"]):
                bad("type", "requested_rewrite.relation_id must be a non-empty string", "requested_rewrite.relation_id")
            if "subject" in rw:
                if _is_nonempty_str(rw["subject"]):
                    subject = rw["subject"]
                else:
                    bad("type", "requested_rewrite.subject must be a non-empty string", "requested_rewrite.subject")
            targets = {}
            for t in ("target_new", "target_true"):
                if t not in rw:
                    continue
                val = rw[t]
                if not isinstance(val, dict):
                    bad("type", f"requested_rewrite.{t} must be an object with 'str' and 'id'", f"requested_rewrite.{t}")
                    continue
                for k in TARGET_KEYS:
                    if k not in val:
                        bad("missing_key", f"missing key 'requested_rewrite.{t}.{k}'", f"requested_rewrite.{t}.{k}")
                if "str" in val:
                    if _is_nonempty_str(val["str"]):
                        targets[t] = val["str"]
                    else:
                        bad("type", f"requested_rewrite.{t}.str must be a non-empty string", f"requested_rewrite.{t}.str")
                if "id" in val and not _is_nonempty_str(val["id"]):
                    bad("type", f"requested_rewrite.{t}.id must be a non-empty string (a Wikidata id or ours)",
                        f"requested_rewrite.{t}.id")
            if len(targets) == 2 and targets["target_new"] == targets["target_true"]:
                bad("target_equal", f"target_new equals target_true ({targets['target_new']!r})")

    lists = {}
    for k in PROMPT_LIST_KEYS:
        if k not in rec:
            continue
        val = rec[k]
        if not isinstance(val, list) or not all(isinstance(p, str) for p in val):
            bad("type", f"{k} must be a list of strings", k)
            continue
        lists[k] = val
        want = EXPECTED_COUNTS[k]
        exact = strict_counts and k not in UP_TO_COUNT
        if (exact and len(val) != want) or (not exact and not 1 <= len(val) <= want):
            expect = f"{want}" if exact else f"1..{want}"
            bad("prompt_count", f"{k} has {len(val)} prompts, expected {expect}")
    if subject is not None:
        for k in ("paraphrase_prompts", "generation_prompts"):
            for i, p in enumerate(lists.get(k, [])):
                if subject not in p:
                    bad("subject_missing", f"{k}[{i}] does not contain the subject {subject!r}: {p!r}")
        if isinstance(rw, dict):
            own = {t.replace("{}", subject, 1) for t in templates_by_rel.get(rw.get("relation_id"), ())}
            for i, p in enumerate(lists.get("neighborhood_prompts", [])):
                if p in own:
                    bad("neighborhood_own_subject", f"neighborhood_prompts[{i}] is about the record's own subject: {p!r}")


def _check_keys(obj: dict, expected, prefix: str, bad) -> None:
    """Report keys of ``expected`` missing from ``obj`` and keys of ``obj`` not expected."""
    for k in expected:
        if k not in obj:
            bad("missing_key", f"missing key '{prefix}{k}'", f"{prefix}{k}")
    for k in obj:
        if k not in expected:
            bad("unexpected_key", f"unexpected key '{prefix}{k}'", f"{prefix}{k}")


def validate_records(records, strict_counts: bool = True) -> list[Violation]:
    """All violations of the records (an empty list when the data is valid)."""
    if not isinstance(records, list):
        return [Violation("#file", "type", "a COUNTERFACT file is a JSON list of records")]
    templates_by_rel = defaultdict(set)
    for rec in records:
        if isinstance(rec, dict) and isinstance(rec.get("requested_rewrite"), dict):
            rw = rec["requested_rewrite"]
            if isinstance(rw.get("prompt"), str) and rw["prompt"].count("{}") == 1:
                templates_by_rel[rw.get("relation_id")].add(rw["prompt"])
    out: list[Violation] = []
    seen: dict[int, int] = {}
    for pos, rec in enumerate(records):
        _check_record(pos, rec, out, strict_counts, templates_by_rel)
        cid = rec.get("case_id") if isinstance(rec, dict) else None
        if _is_int(cid):
            if cid in seen:
                out.append(Violation(cid, "case_id_duplicate", f"case_id also used by the record at position {seen[cid]}"))
            else:
                seen[cid] = pos
            if cid != pos:
                out.append(Violation(cid, "case_id_dense", f"case_id {cid} at position {pos}: case ids must be 0, 1, 2, ... in order"))
    return out


def validate_file(path: str | os.PathLike, strict_counts: bool = True) -> list[Violation]:
    return validate_records(load_records(path), strict_counts=strict_counts)


def load_valid_records(path: str | os.PathLike) -> list[dict]:
    """:func:`~counterfact.records.load_records`, then every record checked
    (:func:`validate_records`): a :class:`DataError` listing the first violations when any fails."""
    data = load_records(path)
    violations = validate_records(data)
    if violations:
        shown = "; ".join(str(v) for v in violations[:5])
        raise DataError(path, f"{len(violations)} violation(s): {shown}")
    return data


# The violations that make a reader misread a record (as opposed to a record that reads fine
# but breaks one of the dataset's invariants: counts, case-id order, unexpected keys, ...).
READER_CHECKS = frozenset({"type", "prompt_placeholder"})


def unreadable(records, needs: Collection[str] | None = None, ignore: Collection[str] = ()) -> list[Violation]:
    """The violations that would make a reader misread ``records``: a value of the wrong
    type, a rewrite prompt without exactly one ``{}``, and a missing key (any key of the
    schema, or only the dotted fields in ``needs``, e.g. ``"requested_rewrite.subject"``).
    Violations of the fields in ``ignore`` are left to the caller."""
    return [v for v in validate_records(records, strict_counts=False)
            if v.field not in ignore
            and (v.check in READER_CHECKS or (v.check == "missing_key" and (needs is None or v.field in needs)))]


def check_readable(records, path: str | os.PathLike | None, needs: Collection[str] | None = None,
                   ignore: Collection[str] = ()) -> list:
    """``records`` when every one can be read (:func:`unreadable`); otherwise a
    :class:`~counterfact.errors.DataError` naming the file, the first bad record and field,
    and how many more there are. Returns ``records``."""
    bad = unreadable(records, needs, ignore)
    if not bad:
        return records
    first = bad[0]
    more = f" (and {len(bad) - 1} more: `counterfact validate` lists them)" if len(bad) > 1 else ""
    cid = f" (case_id {first.case_id})" if _is_int(first.case_id) else ""
    raise DataError(path, first.message + cid + more, index=first.position, field=first.field or None)


def load_readable(path: str | os.PathLike, needs: Collection[str] | None = None) -> list:
    """:func:`~counterfact.records.load_records` followed by :func:`check_readable`: what
    every reader of a COUNTERFACT-format file (ours or the released one) calls."""
    return check_readable(load_records(path), path, needs)
