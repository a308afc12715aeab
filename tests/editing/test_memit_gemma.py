"""MEMIT and AlphaEdit on the real Gemma 3 270M with this package's Gemma defaults (layers 3-6,
the nearest-point mapping through the post-MLP norm, MEMIT's λ scaled to Gemma's key width;
docs/memit.md, "Gemma 3 270M"): the edit takes, the residual reaches most of the way to z*,
a same-relation neighbour keeps its answer, and the weights come back bit for bit.

Before those defaults, the same edit left p(new) at 0.05 (λ 15,000) and a handful of
sequential edits wrecked the model (a gain-dividing mapping): these checks would fail.
Statistics: 20k tokens of the local WikiText-2 copy in a tmp cache; the official 25 z* steps.
"""
from __future__ import annotations

import pytest
import torch

from rome.editing.base import EditRequest
from rome.editing.hparams import load_hparams
from rome.editing.memit import AlphaEditEditor, MEMITEditor
from rome.editing.statistics import StatsProvider, StatsSettings
from rome.model.queries import score_pairs
from testpaths import WIKITEXT2

pytestmark = [pytest.mark.gemma, pytest.mark.slow]

REQUEST = EditRequest("{} plays the sport of", "LeBron James", "football", "basketball")
NEIGHBOUR = ("Serena Williams plays the sport of", "tennis")


@pytest.fixture(scope="module")
def stats(tmp_path_factory):
    cache = tmp_path_factory.mktemp("gemma-memit")
    provider = StatsProvider(StatsSettings(corpus=WIKITEXT2, max_tokens=20_000, max_length=512), cache_dir=cache,
                             progress=False)
    return provider, cache


@pytest.mark.parametrize("cls", [MEMITEditor, AlphaEditEditor], ids=["memit", "alphaedit"])
def test_gemma_edit_takes_and_spares_a_neighbour(gemma, stats, cls):
    provider, cache = stats
    method = "alphaedit" if cls is AlphaEditEditor else "memit"
    hp = load_hparams(method, gemma.name)
    assert hp.mlp_out_norm == "invert" and hp.layers == [3, 4, 5, 6]
    ed = cls(hp, provider, templates_dir=cache)
    before = {n: p.detach().clone() for n, p in gemma.model.named_parameters()}
    prompt = REQUEST.prompt.format(REQUEST.subject)
    pre = score_pairs(gemma, [prompt], REQUEST.target_new, REQUEST.target_true)[0]
    pre_neigh = score_pairs(gemma, [NEIGHBOUR[0]], REQUEST.target_new, NEIGHBOUR[1])[0]
    assert pre.p_true > pre.p_new
    result = ed.apply(gemma, [REQUEST])
    try:
        post = score_pairs(gemma, [prompt], REQUEST.target_new, REQUEST.target_true)[0]
        neigh = score_pairs(gemma, [NEIGHBOUR[0]], REQUEST.target_new, NEIGHBOUR[1])[0]
        errors = result.info["z_error"]
    finally:
        result.restore(gemma.model)
    assert post.p_new > post.p_true and post.p_new > 0.3, post
    assert errors[-1] < 0.4 * errors[0], errors               # the layers wrote most of z* - h
    assert neigh.p_true > neigh.p_new and neigh.p_true > 0.5 * pre_neigh.p_true, (pre_neigh, neigh)
    assert all(torch.equal(p, before[n]) for n, p in gemma.model.named_parameters())
