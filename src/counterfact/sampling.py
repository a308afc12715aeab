"""Seeded sampling primitives of the COUNTERFACT builder.

Everything takes the one ``numpy.random.Generator`` of a build; the order of calls is
fixed by the builder, so the same inputs and seed reproduce the same draws.
"""
from __future__ import annotations

import numpy as np


def sample_counterfactual(objects: list[str], counts: list[int], true_object,
                          rng: np.random.Generator) -> str | None:
    """An object of the relation, drawn with probability proportional to its frequency among
    the relation's facts, never the true object (``true_object``: a string, or a set of
    strings when the subject has several). ``None`` when there is no other object."""
    exclude = {true_object} if isinstance(true_object, str) else set(true_object)
    keep = [(o, c) for o, c in zip(objects, counts) if o not in exclude and c > 0]
    if not keep:
        return None
    weights = np.asarray([c for _, c in keep], dtype=np.float64)
    idx = int(rng.choice(len(keep), p=weights / weights.sum()))
    return keep[idx][0]


def sample_distinct(items: list, k: int, rng: np.random.Generator) -> list:
    """Up to ``k`` distinct items, without replacement, in sampled order."""
    if k <= 0 or not items:
        return []
    k = min(k, len(items))
    return [items[int(i)] for i in rng.choice(len(items), size=k, replace=False)]


def sample_subject_template_pairs(subjects: list[str], templates: list[str], k: int,
                                  rng: np.random.Generator) -> list[tuple[str, str]]:
    """``k`` distinct (subject, template) pairs, as many distinct subjects as possible.

    With at least ``k`` subjects: ``k`` distinct subjects, each with a uniformly drawn
    template. With fewer: every subject once (own template), then further distinct pairs of
    those subjects with other templates, drawn without replacement. Fewer than ``k`` pairs
    come back only when ``len(subjects) * len(templates) < k``.
    """
    if not subjects or not templates or k <= 0:
        return []
    chosen_subjects = sample_distinct(subjects, k, rng)
    pairs = [(s, templates[int(rng.integers(len(templates)))]) for s in chosen_subjects]
    if len(pairs) < k:
        used = set(pairs)
        rest = [(s, t) for s in subjects for t in templates if (s, t) not in used]
        pairs.extend(sample_distinct(rest, k - len(pairs), rng))
    return pairs


def sample_with_replacement(items: list, k: int, rng: np.random.Generator) -> list:
    if not items or k <= 0:
        return []
    return [items[int(i)] for i in rng.integers(len(items), size=k)]
