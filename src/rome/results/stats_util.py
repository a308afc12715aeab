"""The one definition of the 95% intervals in this package's tables and figures.

Half-width = 1.96 · std / √N with the *population* standard deviation (divide by N, not
N − 1): the official code's ``experiments/summarize.py`` reports ``np.std`` (numpy's
default, ddof = 0) next to each mean, and the paper's tables give "95% confidence
intervals" without naming a std, so the code's std is used. Pure Python (no numpy, no
torch): renderers import it; the arithmetic also works elementwise on numpy arrays.
Also the one harmonic mean (the Score of Table 1 and of the layer sweep).
"""
from __future__ import annotations

import math
from collections.abc import Iterable

Z95 = 1.96
CI95_CAPTION = "95% interval 1.96·σ/√N, σ the population std over the N records"


def ci95_half_width(population_std, n):
    """``1.96 · std / √N`` (floats, or numpy arrays elementwise)."""
    return Z95 * population_std / n ** 0.5


def mean_ci95(values: Iterable[float | None]) -> tuple[float, float, int]:
    """``(mean, 95% half-width, N)`` over the values that are not ``None``
    (NaN, NaN, 0 for none; half-width 0 for one value)."""
    vals = [float(v) for v in values if v is not None]
    n = len(vals)
    if n == 0:
        return float("nan"), float("nan"), 0
    m = sum(vals) / n
    std = math.sqrt(sum((v - m) ** 2 for v in vals) / n)
    return m, ci95_half_width(std, n), n


def harmonic_mean(values: Iterable[float]) -> float:
    """Harmonic mean (the paper's Score: of efficacy, generalization and specificity); any
    value ≤ 0 makes it 0 (a method failing one criterion scores 0); NaN for no values or a NaN."""
    vals = list(values)
    if not vals or any(math.isnan(v) for v in vals):
        return float("nan")
    if any(v <= 0 for v in vals):
        return 0.0
    return len(vals) / sum(1.0 / v for v in vals)
