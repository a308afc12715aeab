"""The build report: every ParaRel fact that did not become a record, with its reason, and
what the records look like (prompt counts, paraphrase-prefix lengths, Table 2).

Reasons (a fact is *usable* when none applies):

``duplicate_fact``
    the same (subject, object) appears again in the relation's fact file; the first line is kept.
``ambiguous_subject``
    only under the policies ``keep-first`` and ``drop``: the subject has more than one
    object in the relation (e.g. a country with several official languages, a city with
    several twin cities). ``keep-first`` keeps the first fact (lowest pararel_idx) as a
    record and reports the others; ``drop`` leaves all its facts out. The default
    ``per-object`` keeps one record per distinct (subject, object) and reports none.
``subject_has_braces``
    ``{`` or ``}`` in the subject would clash with the ``{}`` placeholder.
``no_alternative_object``
    no object of the relation other than the subject's own is the true object of a kept
    record, so there is no counterfactual target.
``no_neighbor_subject``
    no other subject shares (relation, true object), so no neighbourhood prompt can be
    formed (singleton objects; the paper took neighbours from Wikidata, we have ParaRel only).
``too_few_templates``
    the relation has fewer than 3 templates (rewrite prompt + 2 paraphrases).
``incomplete_prompts``
    the paraphrase or generation prompts could not be filled to the released counts (2 / 10);
    only with ``drop_incomplete=True`` (the default). Neighbourhood and attribute prompts are
    kept as they exist when fewer than 10 can be formed (``neighborhood_counts``).
``relation_not_in_pararel``
    (relation level) a requested relation has no fact file.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

REASONS = ("duplicate_fact", "ambiguous_subject", "subject_has_braces", "no_alternative_object",
           "no_neighbor_subject", "too_few_templates", "incomplete_prompts")
# The released counterfact.json's paraphrase prefixes, in words (measured on all 21,919
# records): median 7, 10th-90th percentile 3-10, max 10; 73% are a complete sentence.
RELEASED_PREFIX_WORDS = {"median": 7, "p10": 3, "p90": 10, "max": 10, "complete_sentence_share": 0.73}


def word_length_summary(texts) -> dict:
    """Median, 10th/90th percentile, min, max and histogram of word counts; the share of
    texts ending in ``.``, ``!`` or ``?`` (a complete sentence)."""
    lengths = [len(t.split()) for t in texts]
    if not lengths:
        return {"n": 0}
    arr = np.asarray(lengths)
    return {"n": len(lengths), "median": float(np.median(arr)), "p10": float(np.percentile(arr, 10)),
            "p90": float(np.percentile(arr, 90)), "min": int(arr.min()), "max": int(arr.max()),
            "complete_sentence_share": round(sum(1 for t in texts if t.rstrip()[-1:] in ".!?") / len(lengths), 4),
            "histogram": {str(k): v for k, v in sorted(Counter(lengths).items())}}


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
    prefixes: list[str] = field(default_factory=list)
    records_summary: dict = field(default_factory=dict)
    n_facts: int = 0
    n_records: int = 0
    output: dict = field(default_factory=dict)

    def drop(self, fact, reason: str) -> None:
        self.dropped.append({"pararel_idx": fact.pararel_idx, "relation_id": fact.relation_id,
                             "subject": fact.subject, "object": fact.object, "reason": reason})

    def summarise_records(self, records: list[dict]) -> None:
        """Prompt counts per record, records sharing a subject, Table 2 (paper's definitions)."""
        from .stats import compute_stats

        nb = Counter(len(r["neighborhood_prompts"]) for r in records)
        at = Counter(len(r["attribute_prompts"]) for r in records)
        short = [{"case_id": r["case_id"], "neighborhood_prompts": len(r["neighborhood_prompts"])}
                 for r in records if len(r["neighborhood_prompts"]) < self.policy.get("counts", {}).get(
                     "neighborhood_prompts", 10)]
        by_subject = Counter((r["requested_rewrite"]["relation_id"], r["requested_rewrite"]["subject"])
                             for r in records)
        stats = compute_stats(records)
        self.records_summary = {
            "neighborhood_counts": {str(k): v for k, v in sorted(nb.items())},
            "attribute_counts": {str(k): v for k, v in sorted(at.items())},
            "records_with_short_neighborhood": short,
            "records_sharing_relation_subject": sum(c for c in by_subject.values() if c > 1),
            "table2": {row: v["total"] for row, v in stats["rows"].items()},
        }

    def to_dict(self) -> dict:
        by_reason = Counter(d["reason"] for d in self.dropped)
        by_reason_rel: dict = defaultdict(Counter)
        for d in self.dropped:
            by_reason_rel[d["reason"]][d["relation_id"]] += 1
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
            "dropped_by_reason_and_relation": {r: dict(sorted(by_reason_rel[r].items(), key=lambda kv: -kv[1]))
                                               for r in REASONS if by_reason[r]},
            "shortfalls": dict(sorted(self.shortfalls.items())),
            "paraphrase_prefix_words": {"ours": word_length_summary(self.prefixes), "released": RELEASED_PREFIX_WORDS},
            **self.records_summary,
            "per_relation": self.per_relation,
            "output": self.output,
            "dropped_facts": sorted(self.dropped, key=lambda d: d["pararel_idx"]),
        }
