"""Known facts (the paper's causal-tracing prompt set): the facts a given model already
knows, in the format of the released ``known_1000.json`` (the set for GPT-2 XL: 1,209
records, 33 relations).

Selection for one COUNTERFACT record (its rewrite template and true object):

1. greedily generate a continuation of ``template`` filled with the subject;
2. keep the fact when the true object is named in the continuation (at a word start)
   before any other capitalised word;
3. the ``prompt`` is the filled template plus the continuation up to (not including) the
   object, e.g. ``"Vinson Massif is located in the continent of"``;
4. and the model's argmax next token after that prompt, stripped, must equal the first
   token of ``" " + object``, stripped.

This module holds no model code (``counterfact`` depends on nothing in ``rome``): the
model enters as three callables, ``continue_text(text) -> str`` (the decoded greedy
continuation), ``next_token(text) -> str`` (the decoded argmax next token) and
``first_token(obj) -> str`` (the decoded first token of ``" " + obj``). ``rome
known-facts`` supplies them from a loaded model.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from atomicio import atomic_write_json

from .errors import DataError, read_json
from .templates import fill

KNOWN_FIELDS = ("known_id", "subject", "attribute", "template", "prediction", "prompt", "relation_id")
_CAPITALISED = re.compile(r"(?<![\w'’-])[A-Z]")


def object_position(continuation: str, obj: str) -> int | None:
    """Index where ``obj`` is first named in ``continuation`` at a word start, or ``None``."""
    for m in re.finditer(re.escape(obj), continuation):
        i = m.start()
        if i == 0 or not continuation[i - 1].isalnum():
            return i
    return None


def named_first(continuation: str, obj: str) -> int | None:
    """Position of ``obj`` when it is named before any other capitalised word, else ``None``."""
    i = object_position(continuation, obj)
    if i is None or _CAPITALISED.search(continuation[:i]):
        return None
    return i


def check_known(template: str, subject: str, obj: str, continue_text: Callable[[str], str],
                next_token: Callable[[str], str], first_token: Callable[[str], str]) -> dict | None:
    """The known-fact record (without ``known_id``/``relation_id``) or ``None`` when not known."""
    text = fill(template, subject)
    prediction = continue_text(text)
    pos = named_first(prediction, obj)
    if pos is None:
        return None
    prompt = (text + prediction[:pos]).rstrip()
    want = first_token(obj).strip()
    if not want or next_token(prompt).strip() != want:
        return None
    return {"subject": subject, "attribute": obj, "template": template, "prediction": prediction, "prompt": prompt}


def select_known_facts(records: list[dict], continue_text: Callable[[str], str], next_token: Callable[[str], str],
                       first_token: Callable[[str], str], limit: int | None = None, max_known: int | None = None,
                       progress: bool = False) -> list[dict]:
    """Known facts among COUNTERFACT records (their rewrite template and ``target_true``).

    Each (subject, relation) is tried once (its first record). ``limit``: examine only the
    first ``limit`` records; ``max_known``: stop after that many known facts. Records come
    back in input order with dense ``known_id``.
    """
    chosen = records if limit is None else records[:limit]
    it = chosen
    if progress:
        from tqdm import tqdm

        it = tqdm(chosen, desc="known facts", unit="record")
    out: list[dict] = []
    seen = set()
    for rec in it:
        rw = rec["requested_rewrite"]
        key = (rw["subject"], rw["relation_id"])
        if key in seen:
            continue
        seen.add(key)
        hit = check_known(rw["prompt"], rw["subject"], rw["target_true"]["str"], continue_text, next_token,
                          first_token)
        if hit is None:
            continue
        out.append({"known_id": len(out), "subject": hit["subject"], "attribute": hit["attribute"],
                    "template": hit["template"], "prediction": hit["prediction"], "prompt": hit["prompt"],
                    "relation_id": rw["relation_id"]})
        if max_known is not None and len(out) >= max_known:
            break
    return out


def write_known_facts(path: str | os.PathLike, known: list[dict]) -> Path:
    validate_known_facts(known, path)
    return atomic_write_json(path, known, indent=2)


def validate_known_facts(data, path: str | os.PathLike = "<known facts>") -> list[dict]:
    """Check the ``known_1000.json`` format; raise :class:`DataError` (file, record, field) on the first problem."""
    if not isinstance(data, list):
        raise DataError(path, f"expected a JSON list, got {type(data).__name__}")
    ids: dict[int, int] = {}
    for i, rec in enumerate(data):
        if not isinstance(rec, dict):
            raise DataError(path, f"expected an object, got {type(rec).__name__}", index=i)
        for k in KNOWN_FIELDS:
            if k not in rec:
                raise DataError(path, "missing field", index=i, field=k)
        if not isinstance(rec["known_id"], int) or isinstance(rec["known_id"], bool):
            raise DataError(path, "must be an integer", index=i, field="known_id")
        if rec["known_id"] in ids:
            raise DataError(path, f"duplicate known_id {rec['known_id']}: records {ids[rec['known_id']]} and {i} "
                                  "have the same id", index=i, field="known_id")
        ids[rec["known_id"]] = i
        for k in KNOWN_FIELDS[1:]:
            if not isinstance(rec[k], str):
                raise DataError(path, "must be a string", index=i, field=k)
        for k in ("subject", "attribute", "template", "prompt", "relation_id"):
            if not rec[k].strip():
                raise DataError(path, "must not be empty", index=i, field=k)
        if rec["template"].count("{}") != 1:
            raise DataError(path, "must contain '{}' exactly once", index=i, field="template")
        if rec["subject"] not in rec["prompt"]:
            raise DataError(path, "does not contain the subject", index=i, field="prompt")
    return data


def load_known_facts(path: str | os.PathLike) -> list[dict]:
    """Load and validate a ``known_1000.json``-format file (the released one or ours)."""
    path = Path(path)
    return validate_known_facts(read_json(path), path)
