"""The fast engine gives the reference engine's scores, for every kind, window, noise rule and variant."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from rome.model.hooks import count_hooks
from rome.tracing.engine_fast import FastEngine
from rome.tracing.engine_reference import ReferenceEngine
from rome.tracing.noise import EmbeddingStats
from rome.tracing.prepare import TraceSettings, prepare
from rome.tracing.restore import KINDS, Restoration, kind_restorations, severed_restorations
from rome.tracing.trace import TraceResult, severed_trace, trace_prompt

PROMPT = "The Eiffel Tower is located in the city of"
SUBJECT = "Eiffel Tower"


def _stats(lm, cov=False):
    h = lm.module("embed").weight.shape[1]
    rng = np.random.default_rng(0)
    a = rng.normal(size=(h, h)) * 0.02
    return EmbeddingStats(0.02, 10, mean=rng.normal(size=h) * 0.01 if cov else None,
                          cov=a @ a.T + 1e-3 * np.eye(h) if cov else None)


def _close(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert np.abs(a - b).max() < 1e-5
    # the tiny models' probabilities are small, so also compare relatively
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-12)


@pytest.fixture(scope="module", params=["gpt2", "gemma3", "llama"])
def tiny(request, gpt2_tok, bos_tok):
    from rome.testing import tiny_model
    tok = gpt2_tok if request.param == "gpt2" else bos_tok
    return tiny_model(request.param, tok, n_layers=5, seed=1)


@pytest.mark.parametrize("noise,window,extra", [("0.5", 3, 0), ("s3", 10, 0), ("u0.3", 2, 1), ("t3", 4, 0), ("m", 3, 0),
                                                ("ts3", 4, 0), ("ms", 2, 0)])
def test_fast_equals_reference_every_kind(tiny, noise, window, extra):
    settings = TraceSettings(noise=noise, samples=3, window=window, seed=7, extra_tokens=extra)
    prep = prepare(tiny, PROMPT, SUBJECT, settings, stats=_stats(tiny, cov=noise in ("m", "t3", "ms")))
    ref, fast = ReferenceEngine(prep), FastEngine(prep, max_rows=13, layer_chunk=2)
    _close(ref.corrupted_score(), fast.corrupted_score())
    T, L = prep.n_tokens, prep.n_layers
    for kind in KINDS:
        rs = [r for row in kind_restorations(kind, T, L, window) for r in row]
        _close(ref.scores(rs), fast.scores(rs))
    assert count_hooks(tiny.model) == 0


@pytest.mark.parametrize("sever", ["mlp", "attn"])
def test_fast_equals_reference_severed(tiny, sever):
    prep = prepare(tiny, PROMPT, SUBJECT, TraceSettings(noise="0.8", samples=4, seed=3))
    ref, fast = ReferenceEngine(prep), FastEngine(prep)
    for tok in (prep.enc.last_subject, prep.n_tokens - 1):
        rs = severed_restorations(tok, prep.n_layers, sever)
        _close(ref.scores(rs), fast.scores(rs))
    # severing changes the result (the frozen states matter)
    plain = fast.scores(severed_restorations(prep.enc.last_subject, prep.n_layers, None))
    cut = fast.scores(severed_restorations(prep.enc.last_subject, prep.n_layers, sever))
    assert np.abs(plain - cut)[:-1].max() > 0


@pytest.mark.parametrize("opts", [dict(prefix_cache=False), dict(skip_layers=False), dict(max_rows=1),
                                  dict(skip_noops=False)])
def test_fast_engine_options_agree(tiny_gemma, opts):
    prep = prepare(tiny_gemma, PROMPT, SUBJECT, TraceSettings(noise="0.5", samples=2, window=2))
    rs = [r for row in kind_restorations("mlp", prep.n_tokens, prep.n_layers, 2) for r in row]
    _close(FastEngine(prep).scores(rs), FastEngine(prep, **opts).scores(rs))


def test_fast_engine_runs_no_pass_for_restorations_that_change_nothing(tiny_gemma, monkeypatch):
    prep = prepare(tiny_gemma, PROMPT, SUBJECT, TraceSettings(noise="0.5", samples=2, window=3))
    T, L = prep.n_tokens, prep.n_layers
    first = prep.corrupt_positions[0]
    assert first >= 2  # <bos> and "The" come before the subject
    rs = [r for k in KINDS for row in kind_restorations(k, T, L, 3) for r in row]
    rs += severed_restorations(0, L, "mlp") + [Restoration(prep.enc.last_subject, (), (("mlp", 1),))]
    fast = FastEngine(prep)
    ran = []
    run_batch = fast._run_batch
    monkeypatch.setattr(fast, "_run_batch", lambda batch: ran.extend(batch) or run_batch(batch))
    got = fast.scores(rs)
    skipped = [r for r in rs if r not in ran]
    expected = [r for r in rs if r.token < first or not r.restore
                or (r.token < T - 1 and all(l == L - 1 for _, l in r.parts()))]
    assert skipped == expected and len(skipped) > 3 * 2 * L
    assert all(r.token >= first for r in ran)
    assert Restoration(T - 1, (("block", L - 1),)) in ran  # the top layer at the last token matters
    # a skipped restoration scores the corrupted probability, as computing it would
    for k, r in enumerate(rs):
        if r in skipped:
            assert got[k] == fast.corrupted_score()
    _close(got, FastEngine(prep, skip_noops=False).scores(rs))
    _close(got, ReferenceEngine(prep).scores(rs))


def test_restoring_nothing_and_everything(tiny_gpt2):
    prep = prepare(tiny_gpt2, PROMPT, SUBJECT, TraceSettings(noise="3.0", samples=3))
    for eng in (ReferenceEngine(prep), FastEngine(prep)):
        nothing = eng.score(Restoration(prep.enc.subject_start))
        assert nothing == pytest.approx(eng.corrupted_score(), rel=1e-6)
        assert abs(eng.corrupted_score() - prep.clean_prob) > 1e-9  # the noise changes something
        # restoring the last block at every position of the subject ... is restoring layer L-1 at the last token
        last = eng.score(Restoration(prep.n_tokens - 1, (("block", prep.n_layers - 1),)))
        assert last == pytest.approx(prep.clean_prob, rel=1e-5)


def test_same_noise_every_restoration(tiny_gpt2):
    s = TraceSettings(noise="1.0", samples=3, seed=5)
    a = prepare(tiny_gpt2, PROMPT, SUBJECT, s)
    b = prepare(tiny_gpt2, PROMPT, SUBJECT, s)
    c = prepare(tiny_gpt2, PROMPT, SUBJECT, TraceSettings(noise="1.0", samples=3, seed=6))
    assert torch.equal(a.noise, b.noise) and not torch.equal(a.noise, c.noise)
    eng = FastEngine(a)
    r = Restoration(a.enc.last_subject, (("block", 1),))
    assert eng.score(r) == eng.score(r)


def test_extra_token_corruption_positions(tiny_gpt2):
    p0 = prepare(tiny_gpt2, PROMPT, SUBJECT, TraceSettings(noise="1.0", samples=2))
    p1 = prepare(tiny_gpt2, PROMPT, SUBJECT, TraceSettings(noise="1.0", samples=2, extra_tokens=1))
    assert p1.corrupt_positions == p0.corrupt_positions + [p0.enc.subject_end]


def test_trace_result_roundtrip(tiny_gpt2, tmp_path):
    res = trace_prompt(tiny_gpt2, PROMPT, SUBJECT, settings=TraceSettings(noise="1.0", samples=2, window=2))
    assert set(res.scores) == set(KINDS) and res.scores["hidden"].shape == (len(res.tokens), 4)
    for name in ("t.npz", "t.json"):
        back = TraceResult.load(res.save(tmp_path / name))
        np.testing.assert_allclose(back.scores["mlp"], res.scores["mlp"])
        assert back.subject_range == res.subject_range and back.answer_id == res.answer_id
    sev = severed_trace(tiny_gpt2, PROMPT, SUBJECT, settings=TraceSettings(noise="1.0", samples=2))
    assert set(sev.scores) == {"single", "attn_severed", "mlp_severed"}
