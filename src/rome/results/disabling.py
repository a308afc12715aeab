"""Disabling edits (r-ROME's definition): the two numbers that expose one, and the rule that flags it.

Gupta, Baskaran and Anumanchipalli, *Rebuilding ROME: Resolving Model Collapse during
Sequential Model Editing* (EMNLP 2024, arXiv:2403.07175, section 3) call an edit *disabling*
when it makes the model collapse at once: its generations degenerate into repetitions of a
few words, and the update's norm is far larger than other edits'. They expose it with two
numbers, which the official code computes per edit (scalable-model-editing/rebuilding-rome,
``experiments/evaluate_disabling_edits.py`` ``get_model_distance`` and
``experiments/disable_edits_plots.py`` ``get_generation_entropy``):

* ``|Δ|`` per edited matrix: ``‖W_edited − W_original‖_F / numel(W)`` (the Frobenius norm of
  the update divided by the matrix's number of entries; :func:`update_distance`);
* the *normalised generation entropy* of the texts generated after the edit: the texts are
  lower-cased, full stops removed, split at single spaces into words; the Shannon entropy
  (bits) of the words' frequency distribution is divided by ``log2`` of the number of distinct
  words (:func:`normalized_entropy`). A text that repeats one word has 0, varied prose is
  close to 1.

The official code draws the two numbers as scatter plots and reads the disabling edits off
them; it states no threshold. This package flags an update as disabling when either number
crosses a threshold it takes as a setting (:class:`DisablingRule`): normalised entropy below
``entropy_below`` (default 0.5) or ``|Δ|`` above ``norm_factor`` (default 10) times the median
``|Δ|`` of the run's earlier updates of the same matrix (compared once ``min_history`` earlier
updates exist). The defaults are this package's choice (documented in docs/sequential.md), not
values from the paper.

No torch here: :func:`update_distance` takes the Frobenius norm and the entry count.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass


def words(text: str) -> list[str]:
    """The official code's words of one text: lower-cased, ``.`` removed, split at ``" "``
    (consecutive spaces give empty words, which count as a word, as there)."""
    return text.lower().replace(".", "").split(" ")


def unigram_entropy(texts: Iterable[str]) -> tuple[float, int]:
    """``(entropy in bits, number of distinct words)`` of the words of all ``texts`` together."""
    counts = Counter(w for t in texts for w in words(t))
    total = sum(counts.values())
    if total == 0:
        return 0.0, 0
    h = -sum((c / total) * math.log2(c / total) for c in counts.values())
    return h, len(counts)


def normalized_entropy(texts: Iterable[str]) -> float:
    """Entropy of the words over ``log2`` of the distinct-word count (see the module docstring).

    One distinct word (or none) has no spread at all: 0.0 (the official code divides by
    ``log2(1) = 0`` there)."""
    h, distinct = unigram_entropy(texts)
    if distinct <= 1:
        return 0.0
    return h / math.log2(distinct)


def update_distance(frobenius_norm: float, numel: int) -> float:
    """``|Δ|`` of one matrix update: ``‖ΔW‖_F / numel(W)`` (official ``get_model_distance``)."""
    if numel <= 0:
        raise ValueError(f"numel must be positive, got {numel}")
    return float(frobenius_norm) / numel


def _median(values: Sequence[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


@dataclass(frozen=True)
class DisablingRule:
    """When an update counts as disabling (see the module docstring)."""

    entropy_below: float = 0.5
    norm_factor: float = 10.0
    min_history: int = 3

    def __post_init__(self) -> None:
        if not 0 <= self.entropy_below <= 1:
            raise ValueError(f"entropy_below must lie in [0, 1], got {self.entropy_below}")
        if self.norm_factor <= 1:
            raise ValueError(f"norm_factor must be > 1, got {self.norm_factor}")
        if self.min_history < 1:
            raise ValueError(f"min_history must be >= 1, got {self.min_history}")

    def as_json(self) -> dict:
        return asdict(self)

    def reasons(self, entropy: float | None, distances: Mapping[str, float],
                history: Mapping[str, Sequence[float]]) -> list[str]:
        """Why one update is disabling (empty: it is not).

        ``entropy``: the normalised generation entropy after the update (None: not measured);
        ``distances``: ``|Δ|`` of this update per matrix; ``history``: the ``|Δ|`` of the
        earlier updates per matrix."""
        why = []
        if entropy is not None and entropy < self.entropy_below:
            why.append(f"normalised generation entropy {entropy:.3f} < {self.entropy_below}")
        for name, d in sorted(distances.items()):
            past = list(history.get(name, ()))
            if len(past) >= self.min_history:
                med = _median(past)
                if med > 0 and d > self.norm_factor * med:
                    why.append(f"|Δ| of {name} {d:.3g} > {self.norm_factor} × median {med:.3g}")
        return why
