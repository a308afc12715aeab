"""COUNTERFACT evaluation of the current model state on one record (SPEC 8, Table 4).

:func:`score_record` returns the per-record block stored under ``"pre"`` / ``"post"`` in
result files: for each prompt kind a list of ``{"target_new": nll, "target_true": nll}``
(mean per-token NLL of ``" " + target``), and, when generation is on, the generated
texts, their GE (unscaled) and RS (``None`` when no reference text exists).
All prompts × both targets of a record go through one or two batched forward passes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from counterfact.errors import BadInputError

from .fluency import generation_entropy
from .generation import generate_texts
from .scoring import score_targets

PROMPT_KINDS = ("rewrite_prompts", "paraphrase_prompts", "neighborhood_prompts", "attribute_prompts")


class RecordError(BadInputError, ValueError):
    """A record that cannot be evaluated (names the record and field)."""


@dataclass
class GenerationSettings:
    tokens: int = 100     # total length including the prompt (paper: 100)
    top_k: int = 5
    seed: int = 0
    enabled: bool = True


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


def score_record(lm, record: Mapping[str, Any], generation: GenerationSettings | None = None,
                 references=None, batch_size: int = 64) -> dict[str, Any]:
    """Evaluate the model as it is now on ``record``; see the module docstring for the shape."""
    prompts = record_prompts(record)
    new, true = record_targets(record)
    pairs, where = [], []
    for kind, ps in prompts.items():
        for i, p in enumerate(ps):
            for which, target in (("target_new", new), ("target_true", true)):
                pairs.append((p, " " + target))
                where.append((kind, i, which))
    scores = score_targets(lm, pairs, batch_size=batch_size)
    block: dict[str, Any] = {f"{k}_probs": [dict() for _ in ps] for k, ps in prompts.items()}
    for (kind, i, which), s in zip(where, scores):
        block[f"{kind}_probs"][i][which] = s.nll
    if generation is not None and generation.enabled:
        gen_prompts = record.get("generation_prompts") or []
        texts = generate_texts(lm, gen_prompts, total_tokens=generation.tokens, top_k=generation.top_k,
                               seed=generation.seed) if gen_prompts else []
        block["text"] = texts
        block["ngram_entropy"] = generation_entropy(texts) if texts else None
        rs = None
        if references is not None and texts:
            rw = record["requested_rewrite"]
            rs = references.score(texts, rw.get("relation_id"), new)
        block["reference_score"] = rs
    return block
