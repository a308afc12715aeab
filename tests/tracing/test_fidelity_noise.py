"""Noise rules s<f>, m, t<d> as the official code defines them (experiments/causal_trace.py of
kmeng01/rome, commit 0874014: collect_embedding_std, get_embedding_cov, make_generator_transform,
collect_embedding_gaussian, collect_embedding_tdist), checked against hand computations."""
from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest
import torch

from rome.tracing.cli import add_trace_settings, stats_from_args
from rome.tracing.noise import (
    EmbeddingStats,
    NoiseRuleError,
    corpus_embedding_stats,
    corpus_token_ids,
    corrupt,
    fit_gaussian,
    official_corpus_max_len,
    parse_noise,
    sample_noise,
    sample_noise_draws,
    subject_embedding_stats,
)

FACTS = [
    {"subject": "Eiffel Tower", "template": "The {} is located in"},
    {"subject": "Paris", "template": "{} is the capital of"},
    {"subject": "Eiffel Tower", "template": "{} was built by"},  # repeated subjects count again (official)
]


def _entries_std(rows: np.ndarray) -> float:
    """Unbiased std of all entries (torch's Tensor.std(), as the official alldata.std())."""
    x = rows.reshape(-1)
    return math.sqrt(((x - x.mean()) ** 2).sum() / (x.size - 1))


def _bare_rows(lm, facts, scale=1.0):
    """Embedding rows of each bare subject string tokenized alone, gathered from the weight matrix."""
    w = lm.module("embed").weight.detach().double().numpy()
    ids = [i for f in facts for i in lm.tokenizer(f["subject"], add_special_tokens=False)["input_ids"]]
    return w[ids] * scale


def test_sigma_is_std_of_bare_subject_embeddings(tiny_gpt2, tmp_path):
    rows = _bare_rows(tiny_gpt2, FACTS)
    # "Eiffel Tower" alone has no leading space: different tokens from " Eiffel Tower" in a prompt
    assert tiny_gpt2.tokenizer("Eiffel Tower", add_special_tokens=False)["input_ids"] != \
        tiny_gpt2.tokenizer(" Eiffel Tower", add_special_tokens=False)["input_ids"]
    st = subject_embedding_stats(tiny_gpt2, FACTS, tmp_path)
    assert st.sigma == pytest.approx(_entries_std(rows), rel=1e-9)
    assert st.n_tokens == rows.shape[0] and st.source == "subjects-bare"
    old = subject_embedding_stats(tiny_gpt2, FACTS, tmp_path, estimate="in-prompt")
    assert old.source == "subjects-in-prompt" and abs(old.sigma - st.sigma) > 1e-6
    # one cache file per estimate, each saying which estimate it is
    records = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("*.json"))]
    assert sorted(r["estimate"] for r in records) == ["bare", "in-prompt"]
    assert all(r["n_facts"] == 3 for r in records)


def test_sigma_includes_the_embedding_modules_scaling(tiny_gemma):
    # Gemma's embedding module multiplies the table by sqrt(hidden)
    rows = _bare_rows(tiny_gemma, FACTS, scale=math.sqrt(tiny_gemma.model.config.hidden_size))
    st = subject_embedding_stats(tiny_gemma, FACTS)
    assert st.sigma == pytest.approx(_entries_std(rows), rel=1e-5)


def _args(argv):
    p = argparse.ArgumentParser()
    add_trace_settings(p)
    return p.parse_args(argv)


def test_cli_default_uses_every_fact_and_the_bare_estimate(tiny_gpt2, shared_data, tmp_path):
    facts = json.loads((shared_data / "known_1000.json").read_text())[:4]
    path = tmp_path / "known.json"
    path.write_text(json.dumps(facts))
    st = stats_from_args(tiny_gpt2, _args(["--known-facts", str(path), "--stats-dir", str(tmp_path / "n")]))
    assert st.sigma == pytest.approx(_entries_std(_bare_rows(tiny_gpt2, facts)), rel=1e-9)
    assert st.info["n_facts"] == 4
    first = stats_from_args(tiny_gpt2, _args(["--known-facts", str(path), "--stats-facts", "2",
                                               "--sigma-estimate", "in-prompt"]))
    assert first.info == {"n_facts": 2, "estimate": "in-prompt"}


def test_fit_gaussian_on_hand_made_embeddings():
    # rows (1,2) (3,0) (5,4) (7,2): mean (4,2); centred (-3,0) (-1,-2) (1,2) (3,0)
    # cov = [[20, 4], [4, 8]] / 3 (divisor n-1, the official runningstats.Covariance)
    # all 8 entries: mean 3, squared deviations sum 36 -> std sqrt(36/7)
    blocks = [np.array([[1.0, 2.0], [3.0, 0.0]]), np.array([[5.0, 4.0], [7.0, 2.0]])]
    mean, cov, n, sigma = fit_gaussian(blocks)
    np.testing.assert_allclose(mean, [4.0, 2.0], atol=1e-12)
    np.testing.assert_allclose(cov, np.array([[20.0, 4.0], [4.0, 8.0]]) / 3, atol=1e-12)
    assert n == 4 and sigma == pytest.approx(6 / math.sqrt(7), rel=1e-12)


def test_corpus_statistics_are_the_token_embeddings_of_the_corpus(tiny_gpt2, tmp_path):
    docs = ["The quick brown fox jumps over the lazy dog again and again.",
            "Paris is the capital of France.",
            "Rome was not built in a day, they say."]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(docs) + "\n")  # texts = the non-blank lines, as the rows of WikiText
    st = corpus_embedding_stats(tiny_gpt2, corpus, tmp_path / "n", max_texts=10, max_len=6)
    w = tiny_gpt2.module("embed").weight.detach().double().numpy()
    rows = np.concatenate([w[tiny_gpt2.tokenizer(d + "\n", add_special_tokens=False)["input_ids"][:6]] for d in docs])
    assert st.n_tokens == rows.shape[0] == 6 + 6 + 6
    np.testing.assert_allclose(st.mean, rows.mean(0), atol=1e-12)
    np.testing.assert_allclose(st.cov, np.cov(rows, rowvar=False, ddof=1), atol=1e-12)
    assert st.source == "corpus" and st.info["max_len"] == 6
    again = corpus_embedding_stats(tiny_gpt2, corpus, tmp_path / "n", max_texts=10, max_len=6)
    np.testing.assert_array_equal(again.cov, st.cov)
    longer = corpus_embedding_stats(tiny_gpt2, corpus, tmp_path / "n", max_texts=10, max_len=1024)
    assert longer.n_tokens > st.n_tokens and len(list((tmp_path / "n").glob("*.json"))) == 2
    two = corpus_embedding_stats(tiny_gpt2, corpus, None, max_texts=2, max_len=6)  # a seeded sample of 2 texts
    assert two.n_tokens == 12 and two.info["n_texts"] == 2


def _gaussian_stats(h=4, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(h, h))
    return EmbeddingStats(1.0, 10, mean=rng.normal(size=h), cov=a @ a.T + 0.5 * np.eye(h), source="corpus")


def test_rule_m_samples_mu_plus_a_square_root_of_sigma_times_z():
    st = _gaussian_stats()
    S, T, h, seed = 3, 2, 4, 11
    m = sample_noise("m", st, S, T, h, seed, dtype=torch.float64).numpy()
    z = torch.randn((S, T, h), generator=torch.Generator().manual_seed(seed), dtype=torch.float64).numpy()
    # x = mu + W z with W W^T = Sigma  <=>  (x - mu)^T Sigma^-1 (x - mu) = |z|^2 for every vector
    d = m - st.mean
    maha = np.einsum("sti,ij,stj->st", d, np.linalg.inv(st.cov), d)
    np.testing.assert_allclose(maha, (z ** 2).sum(-1), rtol=1e-9)
    # the moments: mean mu (not zero) and covariance Sigma
    big = sample_noise("m", st, 20000, 1, h, 0, dtype=torch.float64).numpy().reshape(-1, h)
    np.testing.assert_allclose(big.mean(0), st.mean, atol=0.05)
    np.testing.assert_allclose(np.cov(big, rowvar=False), st.cov, atol=0.15 * np.abs(st.cov).max())
    # added to the embeddings, mu included (official: x[1:, b:e] += noise_fn(randn))
    x = torch.zeros(S, T, h, dtype=torch.float64)
    np.testing.assert_allclose(corrupt(x, torch.from_numpy(m), parse_noise("m"), st).numpy(), m)
    np.testing.assert_allclose(corrupt(x + 1, torch.from_numpy(m), parse_noise("m"), st, replace=True).numpy(), m)


def test_rule_t_scales_the_m_sample_by_sqrt_of_d_minus_2_over_chi2():
    st = _gaussian_stats()
    S, T, h, seed, d = 4, 3, 4, 5, 5.0
    t = sample_noise("t5", st, S, T, h, seed, dtype=torch.float64).numpy()
    m = sample_noise("m", st, S, T, h, seed, dtype=torch.float64).numpy()  # same z (first Gaussian draw)
    # one chi2 per noised token vector: the official fixed draws of RandomState(2), vector
    # (s, t) taking draw s*T + t (collect_embedding_tdist reshapes fixed_sample[:S*T] to [S, T, 1])
    u = np.random.RandomState(2).chisquare(df=d, size=1000)[:S * T].reshape(S, T)
    np.testing.assert_allclose(t, np.sqrt((d - 2) / u)[..., None] * m, rtol=1e-12)
    # the earlier reading: fresh values from the prompt's seeded stream
    fresh = sample_noise("t5", st, S, T, h, seed, dtype=torch.float64, chi2="fresh").numpy()
    u_fresh = np.random.default_rng(seed).chisquare(d, size=(S, T))
    np.testing.assert_allclose(fresh, np.sqrt((d - 2) / u_fresh)[..., None] * m, rtol=1e-12)
    # i.e. z * sqrt(d / chi2) with the scale matrix Sigma (d-2)/d: the covariance of the
    # Gaussian part stays Sigma (official comment in collect_embedding_tdist)
    assert np.sqrt((d - 2) / u[0, 0]) == pytest.approx(np.sqrt(d / u[0, 0]) * np.sqrt((d - 2) / d))
    with pytest.raises(NoiseRuleError):
        parse_noise("t2")
    assert parse_noise("ts2").kind == "student_entry" and parse_noise("ms").kind == "mvn_subject"


def test_rule_t_reuses_the_same_chi2_values_for_every_prompt():
    # Sigma = 0 and mu = 1: every noise vector is sqrt((d-2)/u_k) * 1, whatever z is. With d = 3 the
    # official factors are 1/sqrt(u_k), u_k the first values of RandomState(2).chisquare(3):
    # 1.54386075, 2.21388151, 0.20774936, 0.94640889 (numpy's legacy stream, written out here)
    h = 3
    st = EmbeddingStats(1.0, 10, mean=np.ones(h), cov=np.zeros((h, h)), source="corpus")
    u = np.array([[1.54386075, 2.21388151], [0.20774936, 0.94640889]])
    for seed in (0, 7):  # two prompts (two seeds): the same factors
        t = sample_noise("t3", st, 2, 2, h, seed, dtype=torch.float64).numpy()
        np.testing.assert_allclose(t, np.broadcast_to((1 / np.sqrt(u))[..., None], (2, 2, h)), rtol=1e-7)
    # and in every draw of one prompt's stream (the official trace_with_repatch draws twice)
    a, b = sample_noise_draws("t3", st, 2, 2, h, seed=1, draws=2, dtype=torch.float64)
    assert torch.equal(a, b)
    # fresh values differ between prompts
    f0 = sample_noise("t3", st, 2, 2, h, 0, dtype=torch.float64, chi2="fresh")
    assert not torch.allclose(f0, sample_noise("t3", st, 2, 2, h, 7, dtype=torch.float64, chi2="fresh"))
    # past the official 1,000 values the same stream goes on (the official code stops there)
    many = sample_noise("t3", st, 3, 400, h, 0, dtype=torch.float64).numpy()[..., 0].reshape(-1)
    np.testing.assert_allclose(many, 1 / np.sqrt(np.random.RandomState(2).chisquare(3, size=1200)), rtol=1e-12)
    with pytest.raises(NoiseRuleError, match="chi2 draws"):
        sample_noise("t3", st, 2, 2, h, 0, chi2="new")


def test_chi2_setting_is_in_the_key_of_t_traces_only():
    from rome.tracing.prepare import TraceSettings

    assert TraceSettings(noise="t3").to_json()["chi2_draws"] == "fixed"
    assert TraceSettings(noise="t3", chi2_draws="fresh").to_json()["chi2_draws"] == "fresh"
    for rule in ("s3", "m", "ts3", "u0.5"):  # the rules it does not change keep their keys
        assert "chi2_draws" not in TraceSettings(noise=rule).to_json()
    with pytest.raises(NoiseRuleError, match="chi2_draws"):
        TraceSettings(noise="t3", chi2_draws="new")
    parser = argparse.ArgumentParser()
    add_trace_settings(parser)
    from rome.tracing.cli import settings_from_args
    assert settings_from_args(parser.parse_args(["--noise", "t3"])).chi2_draws == "fixed"
    assert settings_from_args(parser.parse_args(["--noise", "t3", "--chi2-draws", "fresh"])).chi2_draws == "fresh"


def test_corpus_cut_is_n_positions_or_100(tiny_gpt2, tiny_gemma, tmp_path):
    # official get_embedding_cov: maxlen = model.config.n_positions, 100 when the config has none
    assert tiny_gpt2.model.config.n_positions == 256
    assert official_corpus_max_len(tiny_gpt2)[0] == 256
    assert not hasattr(tiny_gemma.model.config, "n_positions")  # max_position_embeddings only
    assert tiny_gemma.model.config.max_position_embeddings == 256
    assert official_corpus_max_len(tiny_gemma)[0] == 100
    # a 300-token text: cut at 256 (GPT-2 style config) and at 100 (Gemma config); 5 tokens stay 5
    long_doc = " ".join(["word"] * 300)
    assert len(tiny_gpt2.tokenizer(long_doc + "\n", add_special_tokens=False)["input_ids"]) == 301
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(long_doc + "\n\nfour short words here\n")
    ids, n = corpus_token_ids(tiny_gpt2, corpus)
    assert n == 2 and [len(x) for x in ids] == [256, 5]
    ids, _ = corpus_token_ids(tiny_gemma, corpus)
    assert [len(x) for x in ids] == [100, 5]
    # the explicit option still wins, and the statistics record the cut and where it came from
    assert [len(x) for x in corpus_token_ids(tiny_gemma, corpus, max_len=1024)[0]] == [301, 5]
    st = corpus_embedding_stats(tiny_gemma, corpus, tmp_path / "n")
    assert st.n_tokens == 105 and st.info["max_len"] == 100 and "without n_positions" in st.info["max_len_rule"]
    given = corpus_embedding_stats(tiny_gemma, corpus, tmp_path / "n", max_len=1024)
    assert given.n_tokens == 306 and given.info["max_len_rule"] == "given"
    assert len(list((tmp_path / "n").glob("*.json"))) == 2  # another cut, another cache file
    again = corpus_embedding_stats(tiny_gemma, corpus, tmp_path / "n")  # from the cache
    assert again.info["max_len"] == 100 and again.n_tokens == 105


def test_rules_are_seeded():
    st = _gaussian_stats()
    for rule in ("m", "t3", "ts3", "ms"):
        a = sample_noise(rule, st, 2, 2, 4, seed=3)
        assert torch.equal(a, sample_noise(rule, st, 2, 2, 4, seed=3))
        assert not torch.equal(a, sample_noise(rule, st, 2, 2, 4, seed=4))


def test_stats_sources():
    assert parse_noise("s3").stats_source == "subjects" and parse_noise("ts3").stats_source == "subjects"
    assert parse_noise("m").stats_source == "corpus" and parse_noise("t3").stats_source == "corpus"
    assert parse_noise("u0.5").stats_source is None and parse_noise("0.1").stats_source is None
