"""Noise rules for corrupting subject embeddings (paper section 2.1, Appendix B.1, Fig. 13).

A rule is a short string. The defaults follow the official code (``experiments/causal_trace.py``
of kmeng01/rome, which produced the paper's figures); the earlier readings stay available
under their own names (docs/fidelity.md says which is which):

* ``s<f>``  Gaussian N(0, (f·σ)²) per embedding entry (``s3`` is the paper's rule). σ is the
  standard deviation of the embedding entries of the known facts' subjects. The default
  estimate is the official one (``collect_embedding_std``): each *bare subject string*
  tokenized alone, over *all* facts of the known-facts file. ``in-prompt`` (the subject's
  tokens inside each fact's prompt) is the package's earlier estimate.
* ``m``     the official multivariate rule (``collect_embedding_gaussian``): samples of
  N(μ, Σ), with μ and Σ fitted to the token embeddings of a text corpus (WikiText-103 in the
  official code; here the configured corpus), added to the subject embeddings (μ included),
  or put in their place with ``replace``.
* ``t<d>``  the official Student-t rule (``collect_embedding_tdist``): the ``m`` sample times
  ``sqrt((d−2)/u)`` with u ~ χ²(d), one u per noised token vector (so the covariance of the
  Gaussian part stays Σ; as in the official code the factor multiplies μ too). Needs d > 2.
  As in the official code, the u are the same for every prompt (:data:`CHI2_DRAWS` ``fixed``):
  the first χ²(d) values of ``numpy.random.RandomState(2)``, the k-th for the k-th noised
  vector in (sample, token) order; ``fresh`` draws them from the prompt's seeded stream.
* ``ms``    the package's earlier multivariate rule: zero-mean Gaussian with the covariance of
  the subject-token embeddings when added, N(μ, Σ) of those embeddings with ``replace``.
* ``ts<d>`` the package's earlier Student-t rule: independent Student-t entries with ``d``
  degrees of freedom scaled to standard deviation 3σ (for d ≤ 2, where the variance is
  infinite, the scale is 3σ).
* ``u<x>``  uniform in [−x, x] per entry;
* a plain number ``ν``: Gaussian N(0, ν²).

Embedding statistics are outputs of the token-embedding module (``spec.embed``, so Gemma's
√hidden scaling is included), cached as a small JSON file (+ an ``.npz`` with mean and
covariance) whose name is a key of everything that produced them (model, estimate, facts or
corpus, budget); the JSON records which estimate it is. The corpus statistics of ``m`` and
``t<d>`` cut each corpus text as the official ``get_embedding_cov`` does
(:func:`official_corpus_max_len`: the model configuration's ``n_positions``, 100 tokens when it
has none) unless a cut is given.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from atomicio import atomic_save_npz, atomic_write_json, load_json, load_npz, stable_key
from counterfact.errors import BadInputError

from ..model.tokens import encode_with_subject

SIGMA_ESTIMATES = ("bare", "in-prompt")  # first: the official estimate (the default)
# t<d>'s χ² values: "fixed" (official collect_embedding_tdist: RandomState(2)'s first draws, the
# same for every prompt; the default) or "fresh" (from each prompt's seeded stream)
CHI2_DRAWS = ("fixed", "fresh")
OFFICIAL_CHI2_SEED = 2  # numpy.random.RandomState(2) in collect_embedding_tdist
OFFICIAL_CHI2_COUNT = 1000  # the official code draws 1,000 values once
# official get_embedding_cov: texts cut at model.config.n_positions, or at 100 tokens when the
# configuration has no n_positions ("Hack due to missing setting in GPT2-NeoX")
OFFICIAL_CUT_WITHOUT_N_POSITIONS = 100


class NoiseRuleError(BadInputError, ValueError):
    """A noise rule string that cannot be parsed or lacks the statistics it needs."""


@dataclass(frozen=True)
class NoiseRule:
    # "scaled" (s<f>), "mvn" (m), "student" (t<d>), "mvn_subject" (ms), "student_entry" (ts<d>),
    # "uniform" (u<x>), "fixed" (a number)
    kind: str
    value: float = 0.0
    text: str = ""

    @property
    def stats_source(self) -> str | None:
        """Which statistics the rule needs: "subjects", "corpus" or None."""
        if self.kind in ("scaled", "mvn_subject", "student_entry"):
            return "subjects"
        if self.kind in ("mvn", "student"):
            return "corpus"
        return None

    @property
    def needs_stats(self) -> bool:
        return self.stats_source is not None

    @property
    def needs_covariance(self) -> bool:
        return self.kind in ("mvn", "student", "mvn_subject")


def parse_noise(rule: str | float | NoiseRule) -> NoiseRule:
    """Parse ``s3``, ``m``, ``t3``, ``ms``, ``ts3``, ``u0.5`` or a number into a :class:`NoiseRule`."""
    if isinstance(rule, NoiseRule):
        return rule
    if isinstance(rule, (int, float)):
        return NoiseRule("fixed", float(rule), str(rule))
    text = str(rule).strip()
    try:
        if text == "m":
            return NoiseRule("mvn", 0.0, text)
        if text == "ms":
            return NoiseRule("mvn_subject", 0.0, text)
        if text[:1] == "s":
            return NoiseRule("scaled", float(text[1:]), text)
        if text[:1] == "u":
            return NoiseRule("uniform", float(text[1:]), text)
        if text[:2] == "ts":
            dof = float(text[2:])
            if dof <= 0:
                raise ValueError
            return NoiseRule("student_entry", dof, text)
        if text[:1] == "t":
            dof = float(text[1:])
            if dof <= 2:
                raise NoiseRuleError(
                    f"noise rule {text!r}: the official Student-t rule scales by sqrt((d-2)/chi2), so it needs "
                    "d > 2 (use ts<d> for per-entry Student-t noise with any d > 0)")
            return NoiseRule("student", dof, text)
        return NoiseRule("fixed", float(text), text)
    except ValueError as err:
        if isinstance(err, NoiseRuleError):
            raise
        raise NoiseRuleError(
            f"cannot parse noise rule {rule!r}; expected s<factor> (e.g. s3), m, t<dof>, ms, ts<dof>, u<x> or a number"
        ) from None


@dataclass
class EmbeddingStats:
    sigma: float
    n_tokens: int
    mean: np.ndarray | None = None  # [hidden]
    cov: np.ndarray | None = None  # [hidden, hidden]
    source: str = ""  # "subjects-bare", "subjects-in-prompt" or "corpus"
    info: dict | None = None  # what produced them (facts/corpus, budget)

    def to_json(self) -> dict:
        return {"sigma": self.sigma, "n_tokens": self.n_tokens, "source": self.source,
                "hidden": None if self.mean is None else len(self.mean), **(self.info or {})}


def model_fingerprint(lm) -> str:
    """A short identity of a model's embedding (name, shape, a checksum of some entries)."""
    w = lm.module("embed").weight
    probe = w[: min(64, w.shape[0])].detach().double()
    return stable_key(lm.name, list(w.shape), round(float(probe.sum()), 6), round(float(probe.abs().sum()), 6))


@torch.no_grad()
def embed_ids(lm, ids: Sequence[int]) -> torch.Tensor:
    """Output [len(ids), hidden] (float64, CPU) of the token-embedding module for ``ids``."""
    x = torch.tensor([list(ids)], device=lm.device)
    return lm.module("embed")(x)[0].double().cpu()


def _fact_fields(k: int, fact: Mapping) -> tuple[str, str]:
    try:
        subject = fact["subject"]
        template = fact.get("template") or fact["prompt"].replace(subject, "{}", 1)
    except KeyError as err:
        raise NoiseRuleError(f"fact #{k} has no field {err} (need subject and template/prompt)") from None
    return subject, template


def collect_subject_embeddings(lm, facts: Iterable[Mapping], estimate: str = "bare") -> torch.Tensor:
    """Embedding-module outputs [n_tokens, hidden] of the subject tokens of known facts.

    ``bare`` (the official ``collect_embedding_std``): each subject string tokenized on its
    own, without special tokens (no leading space, no BOS); every fact counts, repeated
    subjects included. ``in-prompt``: the subject's tokens inside the fact's prompt.
    """
    if estimate not in SIGMA_ESTIMATES:
        raise NoiseRuleError(f"unknown σ estimate {estimate!r}; expected one of {SIGMA_ESTIMATES}")
    rows = []
    for k, fact in enumerate(facts):
        subject, template = _fact_fields(k, fact)
        if estimate == "bare":
            ids = lm.tokenizer(subject, add_special_tokens=False)["input_ids"]
            if not ids:
                raise NoiseRuleError(f"fact #{k}: subject {subject!r} tokenizes to nothing")
            rows.append(embed_ids(lm, ids))
        else:
            enc = encode_with_subject(lm.tokenizer, template, subject)
            rows.append(embed_ids(lm, enc.input_ids)[enc.subject_start:enc.subject_end])
    if not rows:
        raise NoiseRuleError("no facts given for the embedding statistics")
    return torch.cat(rows)


def fit_gaussian(rows: Iterable[torch.Tensor | np.ndarray]) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Mean, unbiased covariance (divisor n−1, as the official ``runningstats.Covariance``),
    count and standard deviation of all entries, of the rows of a stream of [n, hidden] blocks."""
    n, sq = 0, 0.0
    total: torch.Tensor | None = None
    outer: torch.Tensor | None = None
    for block in rows:
        x = torch.as_tensor(block, dtype=torch.float64).reshape(-1, torch.as_tensor(block).shape[-1])
        if x.shape[0] == 0:
            continue
        if total is None or outer is None:  # both unset until the first non-empty block
            total = torch.zeros(x.shape[1], dtype=torch.float64)
            outer = torch.zeros(x.shape[1], x.shape[1], dtype=torch.float64)
        n += x.shape[0]
        total += x.sum(0)
        outer += x.T @ x
        sq += float((x * x).sum())
    if n < 2:
        raise NoiseRuleError(f"need at least 2 embedding rows to fit a Gaussian, got {n}")
    assert total is not None and outer is not None  # set by the first non-empty block
    mean = total / n
    cov = (outer - n * torch.outer(mean, mean)) / (n - 1)
    entries = n * len(mean)
    grand = float(total.sum()) / entries
    sigma = math.sqrt(max(0.0, (sq - entries * grand * grand) / (entries - 1)))
    return mean.numpy(), cov.numpy(), n, sigma


def _cached(cache_dir, key: str, covariance: bool):
    if cache_dir is None:
        return None, None, None
    json_path = Path(cache_dir) / f"embed-stats-{key}.json"
    npz_path = Path(cache_dir) / f"embed-stats-{key}.npz"
    if json_path.exists() and (not covariance or npz_path.exists()):
        info = load_json(json_path)  # a truncated file: CorruptFileError naming the path
        stats = EmbeddingStats(float(info["sigma"]), int(info["n_tokens"]), source=info.get("source", ""),
                               info={k: info[k] for k in ("n_facts", "estimate", "corpus", "corpus_sha256",
                                                           "max_texts", "max_len", "max_len_rule", "seed",
                                                           "n_texts") if k in info})
        if covariance:
            arr = load_npz(npz_path)
            stats.mean, stats.cov = arr["mean"], arr["cov"]
        return stats, json_path, npz_path
    return None, json_path, npz_path


def _save(lm, stats: EmbeddingStats, json_path, npz_path, covariance: bool) -> None:
    if json_path is None:
        return
    if covariance:
        assert stats.mean is not None and stats.cov is not None  # fitted whenever covariance is asked for
        atomic_save_npz(npz_path, {"mean": stats.mean, "cov": stats.cov})
    atomic_write_json(json_path, {"model": lm.name, "fingerprint": model_fingerprint(lm), **stats.to_json()})


def subject_embedding_stats(
    lm, facts: Sequence[Mapping], cache_dir: str | Path | None = None, covariance: bool = False,
    estimate: str = "bare",
) -> EmbeddingStats:
    """σ (and optionally mean/covariance) of subject-token embeddings, cached by inputs.

    ``estimate`` is ``bare`` (official, the default) or ``in-prompt`` (see
    :func:`collect_subject_embeddings`); the cache key and the JSON record it.
    """
    if estimate not in SIGMA_ESTIMATES:
        raise NoiseRuleError(f"unknown σ estimate {estimate!r}; expected one of {SIGMA_ESTIMATES}")
    fields = [_fact_fields(k, f) for k, f in enumerate(facts)]
    key = stable_key(model_fingerprint(lm), "subjects", estimate,
                     [s for s, _ in fields] if estimate == "bare" else fields)
    stats, json_path, npz_path = _cached(cache_dir, key, covariance)
    if stats is not None:
        return stats
    emb = collect_subject_embeddings(lm, facts, estimate)
    stats = EmbeddingStats(float(emb.std().item()), int(emb.shape[0]), source=f"subjects-{estimate}",
                           info={"n_facts": len(facts), "estimate": estimate})
    if covariance:
        stats.mean = emb.mean(0).numpy()
        centred = emb - emb.mean(0)
        stats.cov = (centred.T @ centred / max(1, emb.shape[0] - 1)).numpy()
    _save(lm, stats, json_path, npz_path, covariance)
    return stats


def corpus_texts(corpus: str | Path | None) -> list[str]:
    """The texts the corpus Gaussian samples from: for a local file, each non-blank line as it
    stands (the rows of the official WikiText-103 dataset are the raw file's lines: paragraphs
    and headings); for a named ``datasets`` corpus, its non-empty rows."""
    from ..model.corpus import load_documents, resolve_corpus
    kind, where = resolve_corpus(corpus)
    if kind != "file":
        return load_documents(corpus)
    with open(where, encoding="utf-8") as fh:
        return [line for line in fh if line.strip()]


def official_corpus_max_len(lm) -> tuple[int, str]:
    """The official cut of a corpus text for the ``m``/``t<d>`` statistics and where it comes from.

    ``get_embedding_cov`` reads ``model.config.n_positions`` and falls back to 100 tokens when the
    configuration has no such attribute (written for GPT-NeoX). transformers maps
    ``max_position_embeddings`` to ``n_positions`` only in GPT-2-style configurations (GPT-2,
    GPT-J: 1,024, 2,048); GPT-NeoX, Llama, Qwen2 and Gemma configurations have no ``n_positions``,
    so the official code cuts their texts at 100 tokens, and so does this rule.
    """
    value = getattr(lm.model.config, "n_positions", None)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value, "config n_positions"
    return OFFICIAL_CUT_WITHOUT_N_POSITIONS, "config without n_positions (official fallback)"


def corpus_token_ids(lm, corpus: str | Path | None, max_texts: int = 1000, max_len: int | None = None,
                     seed: int = 1) -> tuple[list[list[int]], int]:
    """Token ids of a seeded random sample of ``max_texts`` corpus texts (all of them when there
    are fewer), each cut to ``max_len`` tokens (None: :func:`official_corpus_max_len`; official:
    1,000 random rows of WikiText-103), without special tokens; and the number of texts sampled."""
    if max_len is None:
        max_len = official_corpus_max_len(lm)[0]
    docs = corpus_texts(corpus)
    if len(docs) > max_texts:
        pick = sorted(np.random.default_rng(seed).choice(len(docs), size=max_texts, replace=False).tolist())
        docs = [docs[i] for i in pick]
    out = []
    for doc in docs:
        ids = lm.tokenizer(doc, add_special_tokens=False)["input_ids"][:max_len]
        if ids:
            out.append(ids)
    return out, len(docs)


def corpus_embedding_stats(
    lm, corpus: str | Path | None = None, cache_dir: str | Path | None = None, max_texts: int = 1000,
    max_len: int | None = None, seed: int = 1,
) -> EmbeddingStats:
    """μ, Σ (and σ of all entries) of the token embeddings of a text corpus: the statistics of
    the official ``m`` and ``t<d>`` rules (``get_embedding_cov``), cached by inputs. ``max_len``
    None cuts each text as the official code (:func:`official_corpus_max_len`); the key holds the
    resolved number, so statistics made under another cut are never reused."""
    from ..model.corpus import corpus_fingerprint, resolve_corpus
    if max_len is None:
        max_len, max_len_rule = official_corpus_max_len(lm)
    else:
        max_len_rule = "given"
    where = resolve_corpus(corpus)[1]
    sha = corpus_fingerprint(corpus)
    key = stable_key(model_fingerprint(lm), "corpus", sha, max_texts, max_len, seed)
    stats, json_path, npz_path = _cached(cache_dir, key, True)
    if stats is not None:
        return stats
    texts, n_texts = corpus_token_ids(lm, corpus, max_texts, max_len, seed)
    if not texts:
        raise NoiseRuleError(f"corpus {where}: no text to fit the embedding Gaussian of noise rules m/t")
    mean, cov, n, sigma = fit_gaussian(embed_ids(lm, ids) for ids in texts)
    stats = EmbeddingStats(sigma, n, mean, cov, source="corpus",
                           info={"corpus": str(where), "corpus_sha256": sha, "max_texts": max_texts,
                                 "max_len": max_len, "max_len_rule": max_len_rule, "seed": seed, "n_texts": n_texts})
    _save(lm, stats, json_path, npz_path, True)
    return stats


def noise_scale(rule: NoiseRule, stats: EmbeddingStats | None) -> float:
    """The ν of Gaussian-like rules (reported in results; NaN for the multivariate rules)."""
    if rule.kind in ("fixed", "uniform"):
        return rule.value
    if stats is None:
        raise NoiseRuleError(f"noise rule {rule.text!r} needs embedding statistics (rome noise-scale)")
    if rule.kind == "scaled":
        return rule.value * stats.sigma
    if rule.kind == "student_entry":
        return 3 * stats.sigma
    return float("nan")


def gaussian_transform(stats: EmbeddingStats) -> torch.Tensor:
    """W with ``z @ W.T`` ~ N(0, Σ) for z ~ N(0, I): Σ = U S Vᵀ, W = V·diag(√S), the official
    ``make_generator_transform``."""
    if stats is None or stats.cov is None:
        raise NoiseRuleError("this noise rule needs an embedding covariance (corpus_embedding_stats / "
                             "subject_embedding_stats(covariance=True))")
    cov = torch.as_tensor(stats.cov, dtype=torch.float64)
    _, s, vh = torch.linalg.svd(cov)
    return vh.T * s.clamp_min(0).sqrt()[None, :]


def official_chi2_draws(dof: float, count: int) -> np.ndarray:
    """The χ²(dof) values of the official ``collect_embedding_tdist``: ``RandomState(2)``'s first
    draws, the same for every prompt. The official code draws 1,000 and fails for more noised
    vectors; past 1,000 the same stream goes on (its first 1,000 values are unchanged)."""
    size = max(OFFICIAL_CHI2_COUNT, int(count))
    return np.random.RandomState(OFFICIAL_CHI2_SEED).chisquare(df=dof, size=size)[:count]


def _check_chi2(chi2: str) -> None:
    if chi2 not in CHI2_DRAWS:
        raise NoiseRuleError(f"chi2 draws must be one of {CHI2_DRAWS}, got {chi2!r}")


def _one_draw(rule: NoiseRule, stats, shape, gen: torch.Generator, rng: np.random.Generator,
              chi2: str = "fixed") -> torch.Tensor:
    if rule.kind in ("fixed", "scaled"):
        return torch.randn(shape, generator=gen, dtype=torch.float64) * noise_scale(rule, stats)
    if rule.kind == "uniform":
        return (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * rule.value
    if rule.kind == "student_entry":
        nu, dof = noise_scale(rule, stats), rule.value
        z = torch.randn(shape, generator=gen, dtype=torch.float64)
        u = torch.from_numpy(rng.chisquare(dof, size=shape))
        t = z / torch.sqrt(u / dof)
        return t * (nu * math.sqrt((dof - 2) / dof) if dof > 2 else nu)
    if rule.kind in ("mvn", "student", "mvn_subject"):
        w = gaussian_transform(stats)
        z = torch.randn(shape, generator=gen, dtype=torch.float64)
        out = z @ w.T
        if rule.kind == "mvn_subject":
            return out  # zero-mean; corrupt() adds μ when replacing
        out = out + torch.as_tensor(stats.mean, dtype=torch.float64)
        if rule.kind == "student":
            if chi2 == "fixed":  # vector k = (sample s, token t), k = s·n_tokens + t, as the official reshape
                n = math.prod(shape[:-1])
                u = torch.from_numpy(official_chi2_draws(rule.value, n).reshape(shape[:-1]))
            else:
                u = torch.from_numpy(rng.chisquare(rule.value, size=shape[:-1]))
            out = torch.sqrt((rule.value - 2) / u)[..., None] * out
        return out
    raise NoiseRuleError(f"unknown noise kind {rule.kind}")  # pragma: no cover


def sample_noise_draws(
    rule: NoiseRule | str, stats: EmbeddingStats | None, n_samples: int, n_tokens: int, hidden: int,
    seed: int, draws: int = 1, dtype: torch.dtype = torch.float32, chi2: str = "fixed",
) -> list[torch.Tensor]:
    """``draws`` consecutive noise tensors [n_samples, n_tokens, hidden] from one seeded stream.

    Gaussian/uniform parts come from a ``torch.Generator`` seeded with ``seed``, χ² parts from
    ``numpy.random.default_rng(seed)``, except the ``t<d>`` rule's with ``chi2="fixed"`` (the
    official fixed values, :func:`official_chi2_draws`, the same in every draw); the first draw
    is :func:`sample_noise`'s.
    """
    rule = parse_noise(rule)
    _check_chi2(chi2)
    gen = torch.Generator().manual_seed(int(seed))
    rng = np.random.default_rng(int(seed))
    shape = (n_samples, n_tokens, hidden)
    return [_one_draw(rule, stats, shape, gen, rng, chi2).to(dtype) for _ in range(max(1, int(draws)))]


def sample_noise(
    rule: NoiseRule | str, stats: EmbeddingStats | None, n_samples: int, n_tokens: int, hidden: int,
    seed: int, dtype: torch.dtype = torch.float32, chi2: str = "fixed",
) -> torch.Tensor:
    """Noise [n_samples, n_tokens, hidden] drawn once per prompt from a seeded generator."""
    return sample_noise_draws(rule, stats, n_samples, n_tokens, hidden, seed, 1, dtype, chi2)[0]


def corrupt(x: torch.Tensor, noise: torch.Tensor, rule: NoiseRule, stats: EmbeddingStats | None,
            replace: bool = False) -> torch.Tensor:
    """Corrupted embeddings: ``x + noise``, or (``replace``) the noise itself (+ μ for rule ms)."""
    if not replace:
        return x + noise.to(x.dtype)
    if rule.kind == "mvn_subject" and stats is not None and stats.mean is not None:
        return (noise + torch.as_tensor(stats.mean, dtype=noise.dtype)).to(x.dtype)
    return noise.to(x.dtype)
