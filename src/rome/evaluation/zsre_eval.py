"""zsRE evaluation of the current model state on one converted record (the paper's metric definitions, section 3.4, Table 1).

Token-level top-1 accuracy under teacher forcing: for each token of ``" " + answer`` the
model sees the question plus the answer's earlier tokens and must put the token first.
(One causal forward pass gives exactly the predictions of feeding one token at a time.)

* efficacy: the question (``requested_rewrite.prompt`` with the subject) → ``target_new``;
* paraphrase: each rephrased question → ``target_new``;
* specificity: the unrelated Natural Questions question ``loc`` followed by ``"?"`` (as the
  ROME code does) → ``loc_ans``; it should not change.

Records come from :func:`counterfact.zsre.load_zsre` (MEND format converted to edit requests).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..model.record_prompts import RecordError
from ..model.scoring import score_targets


def zsre_items(record: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``[(kind, prompt, target_with_space), ...]`` of a converted zsRE record."""
    cid = record.get("case_id", "?")
    try:
        rw = record["requested_rewrite"]
        question = rw["prompt"].replace("{}", rw["subject"])
        answer = rw["target_new"]["str"]
        loc = record["neighborhood"]["prompt"]
        loc_ans = record["neighborhood"]["target"]
    except (KeyError, TypeError, AttributeError) as err:
        raise RecordError(f"zsRE record {cid}: missing field {err.args[0] if err.args else '?'!r} "
                          "(expected a record converted by counterfact.zsre.load_zsre)") from None
    paraphrases = record.get("paraphrase_prompts", [])
    texts = {"requested_rewrite.prompt": question, "requested_rewrite.target_new.str": answer,
             "neighborhood.prompt": loc, "neighborhood.target": loc_ans}
    for field, value in texts.items():
        if not isinstance(value, str):
            raise RecordError(f"zsRE record {cid}: field {field!r} must be a string, got {type(value).__name__}")
    if not isinstance(paraphrases, list) or not all(isinstance(p, str) for p in paraphrases):
        raise RecordError(f"zsRE record {cid}: field 'paraphrase_prompts' must be a list of strings")
    items = [("rewrite_prompts", question, " " + answer)]
    items += [("paraphrase_prompts", p, " " + answer) for p in paraphrases]
    loc_prompt = loc if loc.rstrip().endswith("?") else loc + "?"
    items.append(("neighborhood_prompts", loc_prompt, " " + loc_ans.strip()))
    return items


def score_zsre_record(lm, record: Mapping[str, Any], batch_size: int = 64) -> dict[str, Any]:
    """``{"<kind>_correct": [[0/1 per target token] per prompt]}`` for the three kinds."""
    items = zsre_items(record)
    scores = score_targets(lm, [(p, t) for _, p, t in items], batch_size=batch_size)
    block: dict[str, Any] = {"rewrite_prompts_correct": [], "paraphrase_prompts_correct": [],
                             "neighborhood_prompts_correct": []}
    for (kind, _, _), s in zip(items, scores):
        block[f"{kind}_correct"].append(s.correct)
    return block
