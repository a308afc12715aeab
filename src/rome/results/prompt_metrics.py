"""The per-prompt comparisons behind ES / PS / NS and EM / PM / NM (paper section 3.2, Table 1).

Each prompt has the mean per-token NLL of both targets (``{"target_new": ..., "target_true": ...}``);
probabilities are ``exp(-mean NLL)``. Pure Python (no torch): :mod:`rome.evaluation.metrics`
(the tables) and :mod:`rome.render.baselines` (the sweep figures) both use these definitions.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def _p(nll: float) -> float:
    return math.exp(-nll)


_OTHER = {"target_new": "target_true", "target_true": "target_new"}


def success(pairs: Sequence[Mapping[str, float]], target: str) -> float | None:
    """Share of prompts whose ``target`` ("target_new": ES / PS, "target_true": NS) is strictly
    more probable than the other one; ``None`` without prompts."""
    other = _OTHER[target]
    if not pairs:
        return None
    return sum(1.0 for d in pairs if d[target] < d[other]) / len(pairs)


def magnitude(pairs: Sequence[Mapping[str, float]], target: str) -> float | None:
    """Mean of P(target) − P(other target) ("target_new": EM / PM, "target_true": NM)."""
    other = _OTHER[target]
    if not pairs:
        return None
    return sum(_p(d[target]) - _p(d[other]) for d in pairs) / len(pairs)
