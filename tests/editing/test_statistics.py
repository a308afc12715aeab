"""Key statistics: streaming C equals the direct second moment; caching; resume after a kill."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from rome.editing.statistics import (
    StatisticsError,
    StatsProvider,
    StatsSettings,
    accumulate_second_moments,
    compute_statistics,
    load_second_moment,
    split_wikitext,
    tokenize_chunks,
)
from rome.model.hooks import Trace, count_hooks

WIKI = """ = Alpha = 

 Alpha is a letter . It comes first .

 = = History = = 

 It was used by the Greeks .

 = Beta = 

 Beta comes second .
"""


@pytest.fixture()
def corpus(tmp_path):
    p = tmp_path / "wiki.raw"
    p.write_text(WIKI * 20, encoding="utf-8")
    return p


def keys_of(lm, layer, chunk):
    with torch.no_grad(), Trace(lm.model, lm.layer_name("edit", layer), retain_input=True, retain_output=False) as tr:
        lm.model(input_ids=torch.tensor([chunk]))
    return tr.input[0].double()


def test_split_wikitext_articles():
    docs = split_wikitext(WIKI)
    assert len(docs) == 2
    assert docs[0].startswith("Alpha is a letter") and "Greeks" in docs[0]
    assert "History" not in docs[0] and docs[1] == "Beta comes second ."


def test_token_budget_is_exact(tiny_gpt2, corpus):
    docs = split_wikitext(corpus.read_text())
    chunks = tokenize_chunks(tiny_gpt2.tokenizer, docs, max_length=7, max_tokens=101)
    assert sum(map(len, chunks)) == 101
    assert max(map(len, chunks)) <= 7


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_streaming_equals_direct(tiny_gpt2, corpus, dtype):
    lm = tiny_gpt2
    docs = split_wikitext(corpus.read_text())
    chunks = tokenize_chunks(lm.tokenizer, docs, max_length=16, max_tokens=400)
    assert len({len(c) for c in chunks}) > 1  # ragged: padding must be excluded
    sums, count = accumulate_second_moments(lm, [1, 3], chunks, dtype=dtype, batch_size=5, progress=False)
    assert count == 400
    for layer in (1, 3):
        K = torch.cat([keys_of(lm, layer, c) for c in chunks])
        direct = K.T @ K / K.shape[0]
        got = sums[layer].double() / count
        assert sums[layer].dtype == getattr(torch, dtype)
        tol = 1e-5  # keys differ slightly between padded batches and single runs
        assert torch.allclose(got, direct, rtol=tol, atol=tol * float(direct.abs().max()))
    assert count_hooks(lm.model) == 0


def test_cache_files_and_provider(tiny_gemma, corpus, tmp_path):
    settings = StatsSettings(corpus=str(corpus), max_tokens=300, max_length=32, batch_size=4)
    files = compute_statistics(tiny_gemma, [0, 2], settings, tmp_path / "stats", progress=False)
    C, count = load_second_moment(files[2])
    assert count == 300 and C.shape == (64, 64)
    assert np.allclose(C, C.T, atol=1e-6)
    assert np.linalg.eigvalsh(C.astype(np.float64)).min() > -1e-6  # positive semi-definite
    mtime = files[2].stat().st_mtime_ns
    provider = StatsProvider(settings, tmp_path / "stats", progress=False)
    assert torch.equal(provider(tiny_gemma, 2), torch.from_numpy(C))
    assert files[2].stat().st_mtime_ns == mtime  # loaded, not recomputed
    other = StatsSettings(corpus=str(corpus), max_tokens=200, max_length=32)
    assert provider.path(tiny_gemma, 2) != StatsProvider(other, tmp_path / "stats").path(tiny_gemma, 2)


class Killed(Exception):
    pass


def test_resume_after_kill_gives_same_C(tiny_gpt2, corpus, tmp_path):
    settings = StatsSettings(corpus=str(corpus), max_tokens=400, max_length=16, batch_size=3)

    def kill_after(n):
        def cb(done):
            if done == n:
                raise Killed
        return cb

    with pytest.raises(Killed):
        compute_statistics(tiny_gpt2, [0, 2], settings, tmp_path / "a", checkpoint_every=2,
                           progress=False, after_batch=kill_after(5))
    partial = list((tmp_path / "a").rglob("partial-*.npz"))
    assert len(partial) == 1 and not list((tmp_path / "a").rglob("layer-*.npz"))
    seen = []
    files = compute_statistics(tiny_gpt2, [0, 2], settings, tmp_path / "a", checkpoint_every=2,
                               progress=False, after_batch=seen.append)
    ref = compute_statistics(tiny_gpt2, [0, 2], settings, tmp_path / "b", progress=False)
    n_batches_total = -(-len(tokenize_chunks(tiny_gpt2.tokenizer, split_wikitext(corpus.read_text()), 16, 400)) // 3)
    assert len(seen) == n_batches_total - 4  # resumed from the checkpoint after batch 4
    for layer in (0, 2):
        a, na = load_second_moment(files[layer])
        b, nb = load_second_moment(ref[layer])
        assert na == nb == 400
        assert np.array_equal(a, b)
    assert not list((tmp_path / "a").rglob("partial-*.npz"))


def test_bad_corpus_and_dtype(tiny_gpt2, tmp_path):
    with pytest.raises(StatisticsError, match="neither a text file"):
        compute_statistics(tiny_gpt2, [0], StatsSettings(corpus=str(tmp_path / "missing.txt")), tmp_path, progress=False)
    with pytest.raises(StatisticsError, match="float32 or float64"):
        StatsSettings(dtype="float16")


def test_rome_stats_defaults_to_the_length_rome_asks_for():
    """`rome stats` without --max-length computes what ROME's editor will look up (its
    mom2_max_length), so an editing job finds the workflow's cached statistics."""
    from rome.editing.stats_cli import default_max_length

    assert default_max_length("gpt2-xl") == 1024      # hparams/rome/gpt2-xl.yaml: the model's context
    assert default_max_length("gemma-3-270m") == 512  # Gemma 3's sliding window
    assert default_max_length("no-such-model") == 512  # no ROME hyperparameters: the statistics default
