"""Per-record metrics from stored scores, and the aggregate statistics (paper Tables 1 and 4).

``harmonic_mean`` (the Score column) is :func:`rome.results.stats_util.harmonic_mean`, shared with the
layer sweep (:mod:`rome.editing.sweep`).

All per-record values are fractions (0..1) or raw entropies; summaries scale by 100.
Probabilities are ``exp(-mean NLL)``; "P(new) > P(true)" is strict, so a tie counts
as a failure for ES/PS and also for NS (which asks P(true) > P(new)). The per-prompt
definitions (:func:`success`, :func:`magnitude`) live in :mod:`rome.results.prompt_metrics`, which the
renderers share.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ..results.prompt_metrics import magnitude, success
from ..results.stats_util import Z95, harmonic_mean, mean_ci95


def counterfact_record_metrics(block: Mapping) -> dict[str, float | None]:
    """ES, EM, PS, PM, NS, NM (fractions), GE (raw), RS (fraction or None) of one block (the strict
    columns: :func:`rome.evaluation.strict.strict_record_metrics`)."""
    rw = block.get("rewrite_prompts_probs", [])
    pa = block.get("paraphrase_prompts_probs", [])
    nb = block.get("neighborhood_prompts_probs", [])
    return {
        "ES": success(rw, "target_new"), "EM": magnitude(rw, "target_new"),
        "PS": success(pa, "target_new"), "PM": magnitude(pa, "target_new"),
        "NS": success(nb, "target_true"), "NM": magnitude(nb, "target_true"),
        "GE": block.get("ngram_entropy"), "RS": block.get("reference_score"),
    }


def token_accuracy(correct_lists: Sequence[Sequence[int]]) -> float | None:
    """Mean over prompts of the share of target tokens predicted top-1."""
    accs = [sum(c) / len(c) for c in correct_lists if len(c)]
    return sum(accs) / len(accs) if accs else None


def zsre_record_metrics(block: Mapping) -> dict[str, float | None]:
    return {
        "Efficacy": token_accuracy(block.get("rewrite_prompts_correct", [])),
        "Paraphrase": token_accuracy(block.get("paraphrase_prompts_correct", [])),
        "Specificity": token_accuracy(block.get("neighborhood_prompts_correct", [])),
    }


def mean_ci(values: Iterable[float | None], z: float = Z95) -> tuple[float, float, int]:
    """``(mean, z · std / sqrt(N), N)`` with the population std (:mod:`rome.results.stats_util`); None values are skipped."""
    m, half, n = mean_ci95(values)
    return m, (half * z / Z95 if n else half), n


__all__ = ["counterfact_record_metrics", "harmonic_mean", "magnitude", "mean_ci", "success", "token_accuracy",
           "zsre_record_metrics"]
