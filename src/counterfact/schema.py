"""The COUNTERFACT record schema (identical to the released ``counterfact.json``) and ids.

The released file's ``id`` fields hold Wikidata ids (``"Q150"``); ours are derived (below).
Everything that reads records accepts both.

A record::

    {"case_id": 0, "pararel_idx": 2796,
     "requested_rewrite": {"prompt": "The mother tongue of {} is", "relation_id": "P103",
                           "target_new": {"str": "English", "id": "P103-..."},
                           "target_true": {"str": "French", "id": "P103-..."},
                           "subject": "Danielle Darrieux"},
     "paraphrase_prompts": [2 strings], "neighborhood_prompts": [10 strings],
     "attribute_prompts": [10 strings], "generation_prompts": [10 strings]}

Object ids: ParaRel's fact files carry no Wikidata ids, so ``id`` is derived from the
relation and the object label: ``"<relation_id>-<first 10 hex digits of
sha256('<relation_id>\\t<label>')>"`` (e.g. ``P103-5f0c...``). The same label in the same
relation always gets the same id, in any build; labels that differ only in case get
different ids.
"""
from __future__ import annotations

import hashlib

RECORD_KEYS = ("case_id", "pararel_idx", "requested_rewrite", "paraphrase_prompts",
               "neighborhood_prompts", "attribute_prompts", "generation_prompts")
REWRITE_KEYS = ("prompt", "relation_id", "target_new", "target_true", "subject")
TARGET_KEYS = ("str", "id")
PROMPT_LIST_KEYS = ("paraphrase_prompts", "neighborhood_prompts", "attribute_prompts", "generation_prompts")
# Prompt counts of the released dataset.
EXPECTED_COUNTS = {"paraphrase_prompts": 2, "neighborhood_prompts": 10,
                   "attribute_prompts": 10, "generation_prompts": 10}


def object_id(relation_id: str, label: str) -> str:
    digest = hashlib.sha256(f"{relation_id}\t{label}".encode()).hexdigest()[:10]
    return f"{relation_id}-{digest}"


def make_record(case_id: int, pararel_idx: int, prompt: str, relation_id: str, subject: str,
                target_new: str, target_true: str, paraphrase: list[str], neighborhood: list[str],
                attribute: list[str], generation: list[str]) -> dict:
    """A record with the released key order."""
    return {
        "case_id": case_id,
        "pararel_idx": pararel_idx,
        "requested_rewrite": {
            "prompt": prompt,
            "relation_id": relation_id,
            "target_new": {"str": target_new, "id": object_id(relation_id, target_new)},
            "target_true": {"str": target_true, "id": object_id(relation_id, target_true)},
            "subject": subject,
        },
        "paraphrase_prompts": list(paraphrase),
        "neighborhood_prompts": list(neighborhood),
        "attribute_prompts": list(attribute),
        "generation_prompts": list(generation),
    }
