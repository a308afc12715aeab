from __future__ import annotations

import numpy as np
import pytest
import torch

from rome.tracing.noise import EmbeddingStats, NoiseRuleError, parse_noise, sample_noise, subject_embedding_stats
from rome.tracing.restore import kind_restorations, window_layers


def test_parse_rules():
    assert parse_noise("s3").kind == "scaled" and parse_noise("s3").value == 3
    assert parse_noise("m").kind == "mvn"
    assert parse_noise("u0.5").value == 0.5
    assert parse_noise("t4").kind == "student" and parse_noise("ts4").kind == "student_entry"
    assert parse_noise("0.1346").kind == "fixed"
    for bad in ("x3", "s", "t-1", ""):
        with pytest.raises(NoiseRuleError):
            parse_noise(bad)


def test_noise_scales():
    st = EmbeddingStats(sigma=0.5, n_tokens=1)
    s3 = sample_noise("s3", st, 200, 5, 64, seed=0)
    assert s3.std().item() == pytest.approx(1.5, rel=0.03)
    u = sample_noise("u0.2", None, 10, 5, 64, seed=0)
    assert u.abs().max() <= 0.2 and u.abs().max() > 0.19
    t = sample_noise("ts5", st, 400, 5, 64, seed=0)
    assert t.std().item() == pytest.approx(1.5, rel=0.1)
    assert torch.equal(sample_noise("2.0", None, 3, 2, 8, seed=1), sample_noise("2.0", None, 3, 2, 8, seed=1))
    with pytest.raises(NoiseRuleError):
        sample_noise("s3", None, 3, 2, 8, seed=1)
    cov = np.diag(np.linspace(0.1, 4.0, 8))
    m = sample_noise("ms", EmbeddingStats(1.0, 1, np.zeros(8), cov), 4000, 1, 8, seed=0)
    np.testing.assert_allclose(m.reshape(-1, 8).var(0).numpy(), np.diag(cov), rtol=0.1)


def test_window_layers_clip():
    assert window_layers(5, 10, 48) == list(range(0, 10))
    assert window_layers(20, 10, 48) == list(range(15, 25))
    assert window_layers(47, 10, 48) == list(range(42, 48))
    assert window_layers(3, 4, 18) == [1, 2, 3, 4]
    grid = kind_restorations("mlp", 3, 6, 4)
    assert grid[1][0].restore == (("mlp", 0), ("mlp", 1)) and grid[1][0].token == 1


def test_embedding_stats_cached(tiny_gpt2, tmp_path):
    facts = [{"subject": "Eiffel Tower", "template": "The {} is in"}, {"subject": "Paris", "template": "{} is the capital of"}]
    a = subject_embedding_stats(tiny_gpt2, facts, tmp_path, covariance=True)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2 and a.sigma > 0 and a.cov.shape == (32, 32)
    b = subject_embedding_stats(tiny_gpt2, facts, tmp_path, covariance=True)
    assert b.sigma == a.sigma and np.array_equal(a.cov, b.cov)
    c = subject_embedding_stats(tiny_gpt2, facts[:1], tmp_path)
    assert len(list(tmp_path.iterdir())) == 3 and c.sigma != a.sigma
