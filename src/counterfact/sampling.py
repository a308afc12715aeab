"""Seeded sampling primitives of the COUNTERFACT builder.

Per-record draws take the one ``numpy.random.Generator`` of a build; the order of calls is
fixed by the builder, so the same inputs and seed reproduce the same draws. The shared
neighbour pools (:func:`group_pool`) take a generator of their own, derived from the seed
and the (relation, object) they belong to (:func:`group_rng`), so a pool does not depend on
which records come first.
"""
from __future__ import annotations

import bisect
import hashlib
import math

import numpy as np


class TargetSampler:
    """Objects drawn with probability proportional to their counts, leaving out a given set.

    One uniform draw per call: a point on the line of all counts with the excluded objects'
    stretches cut out, mapped back onto the full line.
    """

    def __init__(self, objects: list[str], counts: list[int]):
        pairs = [(o, int(c)) for o, c in zip(objects, counts) if c > 0]
        self.objects = [o for o, _ in pairs]
        self.counts = [c for _, c in pairs]
        self.index = {o: i for i, o in enumerate(self.objects)}
        self.cum = np.cumsum(self.counts, dtype=np.int64)
        self.total = int(self.cum[-1]) if pairs else 0

    def __call__(self, exclude, rng: np.random.Generator) -> str | None:
        cut = sorted(self.index[o] for o in exclude if o in self.index)
        remaining = self.total - sum(self.counts[i] for i in cut)
        if remaining <= 0:
            return None
        x = rng.random() * remaining
        for i in cut:  # stretch start of each excluded object, in increasing order
            start = int(self.cum[i]) - self.counts[i]
            if x >= start:
                x += self.counts[i]
        idx = int(np.searchsorted(self.cum, x, side="right"))
        idx = min(idx, len(self.objects) - 1)
        while idx in cut:  # float edge: never return an excluded object
            idx = idx + 1 if idx + 1 < len(self.objects) else idx - 1
        return self.objects[idx]


def sample_counterfactual(objects: list[str], counts: list[int], true_object,
                          rng: np.random.Generator) -> str | None:
    """An object of ``objects`` drawn with probability proportional to ``counts``, never the
    true object (``true_object``: a string, or a set of strings when the subject has
    several). ``None`` when there is no other object. One uniform draw."""
    exclude = {true_object} if isinstance(true_object, str) else set(true_object)
    return TargetSampler(objects, counts)(exclude, rng)


def sample_distinct(items: list, k: int, rng: np.random.Generator) -> list:
    """Up to ``k`` distinct items, without replacement, in sampled order (the first ``k`` of
    a seeded permutation)."""
    if k <= 0 or not items:
        return []
    return [items[int(i)] for i in rng.permutation(len(items))[:k]]


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


def group_rng(seed: int, *key: str) -> np.random.Generator:
    """A generator for one group (e.g. relation and object), from the build seed and the key."""
    digest = hashlib.sha256("\x1f".join(key).encode("utf-8")).digest()
    return np.random.default_rng([int(seed), int.from_bytes(digest[:8], "little")])


def group_pool(subjects: list[str], templates: list[str], size: int, k: int,
               rng: np.random.Generator) -> list[tuple[str, str]]:
    """The shared pool of (subject, template) pairs of one (relation, object).

    Subjects are taken in a seeded order, round by round, each with its own seeded order of
    templates (round 1: every chosen subject with its first template, round 2: with its
    second, ...). With more than ``size`` subjects the pool is the first ``size`` subjects of
    round 1. With fewer, enough rounds are taken that ``size`` pairs exist and that any one
    subject's pairs left out still leave ``k`` (as far as subjects x templates allow). Every
    record of the group draws its prompts from this pool, so the same prompts recur across
    the group's records.
    """
    n, m = len(subjects), len(templates)
    if n == 0 or m == 0:
        return []
    order = [int(i) for i in rng.permutation(n)]
    if n > size:
        chosen, rounds = order[:size], 1
    else:
        chosen = order
        need_others = math.ceil(k / (n - 1)) if n > 1 else k
        rounds = min(m, max(math.ceil(size / n), need_others))
    perms = [rng.permutation(m)[:rounds] for _ in chosen]
    return [(subjects[i], templates[int(p[r])]) for r in range(rounds) for i, p in zip(chosen, perms)]


# Paraphrase-prefix lengths in words: 3 to 10, median 7, the shape of the released file's
# prefixes (median 7, 10th-90th percentile 3-10, max 10).
PREFIX_LENGTH_WEIGHTS = {3: 10, 4: 10, 5: 10, 6: 10, 7: 12, 8: 12, 9: 12, 10: 12}
# Share of prefixes cut from a longer sentence (the released file: about 27% are not a
# complete sentence).
PREFIX_FRAGMENT_SHARE = 0.27


class PrefixSampler:
    """Short corpus text for the front of a paraphrase prompt.

    Each draw (three uniform numbers from the generator): a length L (words) from ``length_weights``; then, with probability
    ``fragment_share`` (or when the corpus has no complete sentence of L words), the first L
    words of a uniformly drawn longer sentence (a fragment), otherwise a uniformly drawn
    complete sentence of exactly L words.
    """

    def __init__(self, sentences: list[str], length_weights: dict[int, float] | None = None,
                 fragment_share: float = PREFIX_FRAGMENT_SHARE):
        weights = dict(sorted((length_weights or PREFIX_LENGTH_WEIGHTS).items()))
        self.lengths = list(weights)
        w = np.asarray([weights[k] for k in self.lengths], dtype=np.float64)
        self.cum = list(np.cumsum(w / w.sum()))
        self.fragment_share = float(fragment_share)
        self.by_length: dict[int, list[str]] = {k: [] for k in self.lengths}
        self.longer: dict[int, list[str]] = {k: [] for k in self.lengths}
        for s in sentences:
            n = len(s.split())
            if n in self.by_length:
                self.by_length[n].append(s)
            for k in self.lengths:
                if n > k:
                    self.longer[k].append(s)
        if not any(self.by_length.values()) and not any(self.longer.values()):
            from .errors import CorpusError

            raise CorpusError(f"no corpus sentence has {self.lengths[0]} or more words for a paraphrase prefix")

    def __call__(self, rng: np.random.Generator) -> str:
        u_len, u, x = rng.random(3)
        length = self.lengths[min(bisect.bisect_right(self.cum, float(u_len)), len(self.lengths) - 1)]
        whole, longer = self.by_length[length], self.longer[length]
        if longer and (u < self.fragment_share or not whole):
            return " ".join(longer[int(x * len(longer))].split()[:length])
        if whole:
            return whole[int(x * len(whole))]
        # no sentence of this length or longer: the longest shorter complete sentence
        shorter = [k for k in self.lengths if k < length and self.by_length[k]]
        pool = self.by_length[shorter[-1]]
        return pool[int(x * len(pool))]
