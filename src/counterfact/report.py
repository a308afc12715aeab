"""The build report: every ParaRel fact that did not become a record, with its reason.

Reasons (a fact is *usable* when none applies):

``duplicate_fact``
    the same (subject, object) appears again in the relation's fact file; the first line is kept.
``ambiguous_subject``
    the subject has more than one object in the relation, so "the" true object is not
    unique (e.g. a country with several official languages, a city with several twin
    cities). Policy ``keep-first`` (default) keeps the first fact (lowest pararel_idx)
    as a record and reports the others; ``drop`` leaves all its facts out.
``subject_has_braces``
    ``{`` or ``}`` in the subject would clash with the ``{}`` placeholder.
``no_alternative_object``
    the relation has no other object to serve as the counterfactual target.
``no_neighbor_subject``
    no other usable subject shares (relation, true object), so no neighbourhood prompt
    can be formed (singleton objects).
``too_few_templates``
    the relation has fewer than 3 templates (rewrite prompt + 2 paraphrases).
``incomplete_prompts``
    the record could not be filled to the released counts (2 / 10 / 10 / 10); only with
    ``drop_incomplete=True`` (the default). With ``False`` such records are kept and
    counted under ``shortfalls``.
``relation_not_in_pararel``
    (relation level) a requested relation has no fact file.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

REASONS = ("duplicate_fact", "ambiguous_subject", "subject_has_braces", "no_alternative_object",
           "no_neighbor_subject", "too_few_templates", "incomplete_prompts")


@dataclass
class BuildReport:
    seed: int
    relations: list[str]
    inputs: dict = field(default_factory=dict)
    policy: dict = field(default_factory=dict)
    missing_relations: list[str] = field(default_factory=list)
    per_relation: dict = field(default_factory=dict)
    dropped: list[dict] = field(default_factory=list)
    shortfalls: dict = field(default_factory=lambda: Counter())
    n_facts: int = 0
    n_records: int = 0
    output: dict = field(default_factory=dict)

    def drop(self, fact, reason: str) -> None:
        self.dropped.append({"pararel_idx": fact.pararel_idx, "relation_id": fact.relation_id,
                             "subject": fact.subject, "object": fact.object, "reason": reason})

    def to_dict(self) -> dict:
        by_reason = Counter(d["reason"] for d in self.dropped)
        return {
            "seed": self.seed,
            "inputs": self.inputs,
            "policy": self.policy,
            "relations": self.relations,
            "missing_relations": self.missing_relations,
            "n_facts": self.n_facts,
            "n_records": self.n_records,
            "n_dropped": len(self.dropped),
            "dropped_by_reason": {r: by_reason[r] for r in REASONS if by_reason[r]},
            "shortfalls": dict(sorted(self.shortfalls.items())),
            "per_relation": self.per_relation,
            "output": self.output,
            "dropped_facts": sorted(self.dropped, key=lambda d: d["pararel_idx"]),
        }
