"""COUNTERFACT evaluation of the current model state on one record (the paper's metric definitions, section 3.4, Table 4).

:func:`score_record` returns the per-record block stored under ``"pre"`` / ``"post"`` in
result files: for each prompt kind a list of ``{"target_new": nll, "target_true": nll}``
(mean per-token NLL of ``" " + target``), and, when generation is on, the generated
texts, their GE (unscaled) and RS (``None`` when no reference text exists).
All prompts × both targets of a record go through one or two batched forward passes.
With ``strict`` on, the stricter metrics' fields are added (:mod:`rome.evaluation.strict`:
CounterFact+ scores, token accuracy, greedy continuations; the next-token distributions for
NKL go to the caller's ``dists``, never into the block).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..model.record_prompts import PROMPT_KINDS, RecordError, record_prompts, record_targets  # noqa: F401
from ..model.scoring import score_targets
from .fluency import check_splitter, generation_entropy
from .generation import generate_texts
from .strict import StrictSettings, add_strict_fields


@dataclass
class GenerationSettings:
    tokens: int = 100     # total length including the prompt (paper: 100)
    top_k: int = 5
    seed: int = 0
    enabled: bool = True
    # GE's sentence splitter (rome.evaluation.fluency.SENTENCE_SPLITTERS): "punkt" is the
    # official nltk.word_tokenize; "spacy" the package's earlier rule-based sentencizer
    ge_sentences: str = "punkt"

    def __post_init__(self) -> None:
        check_splitter(self.ge_sentences)


def score_record(lm, record: Mapping[str, Any], generation: GenerationSettings | None = None,
                 references=None, batch_size: int = 64, strict: StrictSettings | None = None,
                 greedy: bool = False, dists: dict | None = None, report=None) -> dict[str, Any]:
    """Evaluate the model as it is now on ``record``; see the module docstring for the shape.

    ``greedy``: also the greedy continuations of the strict generation metrics (post-edit).
    """
    prompts = record_prompts(record)
    new, true = record_targets(record)
    pairs, where = [], []
    for kind, ps in prompts.items():
        for i, p in enumerate(ps):
            for which, target in (("target_new", new), ("target_true", true)):
                pairs.append((p, " " + target))
                where.append((kind, i, which))
    strict_on = strict is not None and strict.enabled
    keep = [j for j, (kind, _, which) in enumerate(where)
            if kind == "neighborhood_prompts" and which == "target_true"] if strict_on and dists is not None else ()
    scores = score_targets(lm, pairs, batch_size=batch_size, keep_next=keep)
    block: dict[str, Any] = {f"{k}_probs": [dict() for _ in ps] for k, ps in prompts.items()}
    for (kind, i, which), s in zip(where, scores):
        block[f"{kind}_probs"][i][which] = s.nll
    if strict is not None and strict.enabled:
        add_strict_fields(lm, record, block, where, scores, strict, generate=greedy, dists=dists,
                          batch_size=batch_size, report=report)
    if generation is not None and generation.enabled:
        gen_prompts = record.get("generation_prompts") or []
        texts = generate_texts(lm, gen_prompts, total_tokens=generation.tokens, top_k=generation.top_k,
                               seed=generation.seed) if gen_prompts else []
        block["text"] = texts
        block["ngram_entropy"] = generation_entropy(texts, generation.ge_sentences) if texts else None
        rs = None
        if references is not None and texts:
            rw = record["requested_rewrite"]
            rs = references.score(texts, rw.get("relation_id"), new)
        block["reference_score"] = rs
    return block
