"""The prompts and targets of a COUNTERFACT record (read by the evaluation and the baseline sweeps).

A malformed record raises :class:`RecordError`, naming the record and the field.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from counterfact.errors import BadInputError

PROMPT_KINDS = ("rewrite_prompts", "paraphrase_prompts", "neighborhood_prompts", "attribute_prompts")

# The fields of a COUNTERFACT record that every edit and its evaluation read; a record
# without one of them cannot be used (the prompt lists may be absent: nothing to average).
EDIT_FIELDS = ("requested_rewrite", "requested_rewrite.prompt", "requested_rewrite.subject",
               "requested_rewrite.target_new", "requested_rewrite.target_new.str",
               "requested_rewrite.target_true", "requested_rewrite.target_true.str")


class RecordError(BadInputError, ValueError):
    """A record that cannot be evaluated (names the record and field)."""


def check_records(records: list, path, needs: tuple[str, ...] = EDIT_FIELDS) -> list:
    """``records`` when none would be misread (:func:`counterfact.validate.check_readable`:
    types, ``{}`` in the rewrite prompt, the ``needs`` fields present); otherwise its
    ``DataError`` naming the file, record and field. Case ids are left to
    :func:`counterfact.records.check_record_ids`, which also takes plain-token ids."""
    from counterfact.validate import check_readable

    return check_readable(records, path, needs, ignore=("case_id",))


def record_prompts(record: Mapping[str, Any]) -> dict[str, list[str]]:
    """The four prompt lists of a COUNTERFACT record (rewrite prompt filled with its subject)."""
    cid = record.get("case_id", "?")
    try:
        rw = record["requested_rewrite"]
        rewrite = rw["prompt"].replace("{}", rw["subject"])
    except (KeyError, AttributeError) as err:
        raise RecordError(f"record {cid}: missing field requested_rewrite.{err.args[0] if err.args else '?'}") from None
    out = {"rewrite_prompts": [rewrite]}
    for kind in PROMPT_KINDS[1:]:
        prompts = record.get(kind, [])
        if not isinstance(prompts, list) or not all(isinstance(p, str) for p in prompts):
            raise RecordError(f"record {cid}: field {kind!r} must be a list of strings")
        out[kind] = prompts
    return out


def record_targets(record: Mapping[str, Any]) -> tuple[str, str]:
    cid = record.get("case_id", "?")
    rw = record.get("requested_rewrite") or {}
    try:
        new, true = rw["target_new"]["str"], rw["target_true"]["str"]
    except (KeyError, TypeError):
        raise RecordError(f"record {cid}: requested_rewrite needs target_new.str and target_true.str") from None
    return new, true
