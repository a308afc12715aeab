"""A hand-written COUNTERFACT record for tests (the evaluation tests' toy record; importable as
``from toy_records import toy_record``, like ``testpaths``)."""
from __future__ import annotations


def toy_record(case_id: int = 0, subject: str = "Danielle Darrieux") -> dict:
    return {
        "case_id": case_id, "pararel_idx": 0,
        "requested_rewrite": {"prompt": "The mother tongue of {} is", "relation_id": "P103",
                              "target_new": {"str": "English", "id": "x"}, "target_true": {"str": "French", "id": "y"},
                              "subject": subject},
        "paraphrase_prompts": ["It rained. " + subject + ", a native", "Hello there. " + subject + " speaks"],
        "neighborhood_prompts": ["The mother tongue of Léon Blum is", "The native language of Jean Gabin is"],
        "attribute_prompts": ["J. R. R. Tolkien is a native speaker of"],
        "generation_prompts": [subject + "'s mother tongue is", "Where " + subject + " is from, people speak"],
    }
