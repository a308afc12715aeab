"""Noise rules for corrupting subject embeddings (SPEC 4, Fig. 13).

A rule is a short string:

* ``s<f>``  Gaussian N(0, (f·σ)²) per embedding entry, σ = std of the subject-token
  embedding entries over a set of known-fact subjects (``s3`` is the paper's rule);
* ``m``     a multivariate Gaussian fitted to those embeddings: zero-mean with their
  covariance when added, N(μ, Σ) when ``replace`` is set;
* ``u<x>``  uniform in [−x, x] per entry;
* ``t<d>``  Student-t with ``d`` degrees of freedom, scaled so that its standard
  deviation is 3σ (for d ≤ 2, where the variance is infinite, the scale is 3σ);
* a plain number ``ν``: Gaussian N(0, ν²).

Embedding statistics are computed by :func:`subject_embedding_stats` from the output of
the token-embedding module (``spec.embed``, so Gemma's √hidden scaling is included) and
cached as a small JSON file (+ an ``.npz`` with mean and covariance) keyed by the model
and the subjects.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import torch

from atomicio import atomic_save_npz, atomic_write_json, load_npz, stable_key
from counterfact.errors import BadInputError
from ..hooks import Trace
from ..tokens import encode_with_subject


class NoiseRuleError(BadInputError, ValueError):
    """A noise rule string that cannot be parsed or lacks the statistics it needs."""


@dataclass(frozen=True)
class NoiseRule:
    kind: str  # "scaled", "mvn", "uniform", "student", "fixed"
    value: float = 0.0
    text: str = ""

    @property
    def needs_stats(self) -> bool:
        return self.kind in ("scaled", "mvn", "student")

    @property
    def needs_covariance(self) -> bool:
        return self.kind == "mvn"


def parse_noise(rule: str | float | NoiseRule) -> NoiseRule:
    """Parse ``s3``, ``m``, ``u0.5``, ``t3`` or a number into a :class:`NoiseRule`."""
    if isinstance(rule, NoiseRule):
        return rule
    if isinstance(rule, (int, float)):
        return NoiseRule("fixed", float(rule), str(rule))
    text = str(rule).strip()
    try:
        if text == "m":
            return NoiseRule("mvn", 0.0, text)
        if text[:1] == "s":
            return NoiseRule("scaled", float(text[1:]), text)
        if text[:1] == "u":
            return NoiseRule("uniform", float(text[1:]), text)
        if text[:1] == "t":
            dof = float(text[1:])
            if dof <= 0:
                raise ValueError
            return NoiseRule("student", dof, text)
        return NoiseRule("fixed", float(text), text)
    except ValueError:
        raise NoiseRuleError(
            f"cannot parse noise rule {rule!r}; expected s<factor> (e.g. s3), m, u<x>, t<dof> or a number"
        ) from None


@dataclass
class EmbeddingStats:
    sigma: float
    n_tokens: int
    mean: np.ndarray | None = None  # [hidden]
    cov: np.ndarray | None = None  # [hidden, hidden]

    def to_json(self) -> dict:
        return {"sigma": self.sigma, "n_tokens": self.n_tokens, "hidden": None if self.mean is None else len(self.mean)}


def model_fingerprint(lm) -> str:
    """A short identity of a model's embedding (name, shape, a checksum of some entries)."""
    w = lm.module("embed").weight
    probe = w[: min(64, w.shape[0])].detach().double()
    return stable_key(lm.name, list(w.shape), round(float(probe.sum()), 6), round(float(probe.abs().sum()), 6))


def collect_subject_embeddings(lm, facts: Iterable[Mapping]) -> torch.Tensor:
    """Embedding-module outputs [n_tokens, hidden] of the subject tokens of known facts.

    Each fact needs ``subject`` and ``template`` (``{}`` marks the subject) or ``prompt``.
    """
    rows = []
    embed_name = lm.spec.embed
    for k, fact in enumerate(facts):
        try:
            subject = fact["subject"]
            template = fact.get("template") or fact["prompt"].replace(subject, "{}", 1)
        except KeyError as err:
            raise NoiseRuleError(f"fact #{k} has no field {err} (need subject and template/prompt)") from None
        enc = encode_with_subject(lm.tokenizer, template, subject)
        ids = torch.tensor([enc.input_ids], device=lm.device)
        with torch.no_grad(), Trace(lm.model, embed_name, stop=True) as t:
            lm.model(input_ids=ids)
        rows.append(t.output[0, enc.subject_start:enc.subject_end].double().cpu())
    if not rows:
        raise NoiseRuleError("no facts given for the embedding statistics")
    return torch.cat(rows)


def subject_embedding_stats(
    lm, facts: Sequence[Mapping], cache_dir: str | Path | None = None, covariance: bool = False,
) -> EmbeddingStats:
    """σ (and optionally mean/covariance) of subject-token embeddings, cached by inputs."""
    key = stable_key(model_fingerprint(lm), [(f.get("subject"), f.get("template") or f.get("prompt")) for f in facts])
    json_path = npz_path = None
    if cache_dir is not None:
        json_path = Path(cache_dir) / f"embed-stats-{key}.json"
        npz_path = Path(cache_dir) / f"embed-stats-{key}.npz"
        if json_path.exists() and (not covariance or npz_path.exists()):
            from atomicio import load_json
            info = load_json(json_path)
            stats = EmbeddingStats(float(info["sigma"]), int(info["n_tokens"]))
            if covariance:
                arr = load_npz(npz_path)
                stats.mean, stats.cov = arr["mean"], arr["cov"]
            return stats
    emb = collect_subject_embeddings(lm, facts)
    stats = EmbeddingStats(float(emb.std().item()), int(emb.shape[0]))
    if covariance:
        stats.mean = emb.mean(0).numpy()
        centred = emb - emb.mean(0)
        stats.cov = (centred.T @ centred / max(1, emb.shape[0] - 1)).numpy()
    if json_path is not None:
        if covariance:
            atomic_save_npz(npz_path, {"mean": stats.mean, "cov": stats.cov})
        atomic_write_json(json_path, {
            "model": lm.name, "fingerprint": model_fingerprint(lm), "n_facts": len(facts), **stats.to_json(),
        })
    return stats


def noise_scale(rule: NoiseRule, stats: EmbeddingStats | None) -> float:
    """The ν of Gaussian-like rules (reported in results)."""
    if rule.kind == "fixed":
        return rule.value
    if rule.kind == "uniform":
        return rule.value
    if stats is None:
        raise NoiseRuleError(f"noise rule {rule.text!r} needs embedding statistics (rome noise-scale)")
    if rule.kind == "scaled":
        return rule.value * stats.sigma
    if rule.kind == "student":
        return 3 * stats.sigma
    return float("nan")


def sample_noise(
    rule: NoiseRule | str, stats: EmbeddingStats | None, n_samples: int, n_tokens: int, hidden: int,
    seed: int, dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Noise [n_samples, n_tokens, hidden] drawn once per prompt from a seeded generator."""
    rule = parse_noise(rule)
    gen = torch.Generator().manual_seed(int(seed))
    shape = (n_samples, n_tokens, hidden)
    if rule.kind in ("fixed", "scaled"):
        out = torch.randn(shape, generator=gen, dtype=torch.float64) * noise_scale(rule, stats)
    elif rule.kind == "uniform":
        out = (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * rule.value
    elif rule.kind == "student":
        nu = noise_scale(rule, stats)
        dof = rule.value
        z = torch.randn(shape, generator=gen, dtype=torch.float64)
        chi2 = 2 * torch._standard_gamma(torch.full(shape, dof / 2, dtype=torch.float64), generator=gen)
        t = z / torch.sqrt(chi2 / dof)
        out = t * (nu * math.sqrt((dof - 2) / dof) if dof > 2 else nu)
    elif rule.kind == "mvn":
        if stats is None or stats.cov is None:
            raise NoiseRuleError("noise rule 'm' needs the embedding covariance (subject_embedding_stats(covariance=True))")
        cov = torch.as_tensor(stats.cov, dtype=torch.float64)
        cov = cov + 1e-6 * torch.eye(cov.shape[0], dtype=torch.float64) * cov.diagonal().mean()
        chol = torch.linalg.cholesky(cov)
        z = torch.randn(shape, generator=gen, dtype=torch.float64)
        out = z @ chol.T
    else:  # pragma: no cover
        raise NoiseRuleError(f"unknown noise kind {rule.kind}")
    return out.to(dtype)


def corrupt(x: torch.Tensor, noise: torch.Tensor, rule: NoiseRule, stats: EmbeddingStats | None,
            replace: bool = False) -> torch.Tensor:
    """Corrupted embeddings: ``x + noise``, or (``replace``) the noise itself (+ μ for rule m)."""
    if not replace:
        return x + noise.to(x.dtype)
    if rule.kind == "mvn" and stats is not None and stats.mean is not None:
        return (noise + torch.as_tensor(stats.mean, dtype=noise.dtype)).to(x.dtype)
    return noise.to(x.dtype)
