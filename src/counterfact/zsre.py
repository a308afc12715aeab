"""zsRE (MEND's format) as edit requests in the COUNTERFACT structure (the paper's zsRE evaluation, Table 1).

Input records: ``subject, src, pred, rephrase, alt, answers, loc, loc_ans, cond``.

Mapping (the paper's zsRE evaluation and the ROME repository's zsRE dataset): the edit makes the model give
the question's answer, so

* ``requested_rewrite.prompt`` = ``src`` with the subject replaced by ``{}`` (first occurrence);
* ``requested_rewrite.target_new`` = ``{"str": answers[0], "id": None}``;
* ``requested_rewrite.target_true`` = ``None``: zsRE has no "old" answer to compare with
  (``pred`` is the prediction of MEND's BART model, not a fact, and ``alt`` is MEND's own
  alternative target, used for MEND's training edits). Both are kept under ``"zsre"``;
* ``paraphrase_prompts`` = ``[rephrase]``;
* specificity: ``loc`` (an unrelated Natural Questions question) and ``loc_ans`` under
  ``"neighborhood": {"prompt": loc, "target": loc_ans}``; the accuracy of ``loc_ans`` given
  ``loc`` should not change.
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import DataError, read_json_list

ZSRE_FIELDS = ("subject", "src", "pred", "rephrase", "alt", "answers", "loc", "loc_ans", "cond")
_REQUIRED_STR = ("subject", "src", "rephrase", "loc", "loc_ans")


def zsre_record_to_request(raw: dict, case_id: int, path="<zsre>") -> dict:
    if not isinstance(raw, dict):
        raise DataError(path, f"expected an object, got {type(raw).__name__}", index=case_id)
    for k in _REQUIRED_STR:
        if k not in raw:
            raise DataError(path, "missing field", index=case_id, field=k)
        if not isinstance(raw[k], str) or not raw[k].strip():
            raise DataError(path, "must be a non-empty string", index=case_id, field=k)
    answers = raw.get("answers")
    if answers is None:
        raise DataError(path, "missing field", index=case_id, field="answers")
    if not isinstance(answers, list) or not answers or not all(isinstance(a, str) and a.strip() for a in answers):
        raise DataError(path, "must be a non-empty list of non-empty strings", index=case_id, field="answers")
    for k in ("pred", "alt", "cond"):
        if k in raw and raw[k] is not None and not isinstance(raw[k], str):
            raise DataError(path, "must be a string", index=case_id, field=k)
    subject, src = raw["subject"], raw["src"]
    if subject not in src:
        raise DataError(path, f"subject {subject!r} does not occur in the question {src!r}", index=case_id, field="src")
    if "{" in src or "}" in src:
        raise DataError(path, "question contains braces, which clash with the '{}' placeholder", index=case_id, field="src")
    return {
        "case_id": case_id,
        "requested_rewrite": {
            "prompt": src.replace(subject, "{}", 1),
            "relation_id": None,
            "target_new": {"str": answers[0].strip(), "id": None},
            "target_true": None,
            "subject": subject,
        },
        "paraphrase_prompts": [raw["rephrase"]],
        "neighborhood": {"prompt": raw["loc"], "target": raw["loc_ans"]},
        "zsre": {"answers": list(answers), "pred": raw.get("pred"), "alt": raw.get("alt"), "cond": raw.get("cond")},
    }


def load_zsre(path: str | os.PathLike, limit: int | None = None) -> list[dict]:
    """Edit requests from a MEND-format zsRE JSON list (first ``limit`` records; the paper evaluates 10,000)."""
    path = Path(path)
    data = read_json_list(path, "config key paths.zsre_eval / paths.zsre_train")
    if limit is not None:
        data = data[:limit]
    return [zsre_record_to_request(raw, i, path) for i, raw in enumerate(data)]
