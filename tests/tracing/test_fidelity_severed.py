"""Severed paths (paper Figs. 3, 14) under both noise readings.

``same`` (default, the paper's text): the frozen MLP/attention states come from the corrupted
run under the same noise as the patched pass. ``official`` (trace_with_repatch in the official
experiments/causal_trace.py): one noise stream (RandomState(1) there) is drawn twice; the first
pass records the states to freeze, the second (patched) pass runs with the second draw.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from rome.model.hooks import TraceDict
from rome.tracing.engine_fast import FastEngine
from rome.tracing.engine_reference import ReferenceEngine
from rome.tracing.noise import sample_noise, sample_noise_draws
from rome.tracing.prepare import TraceSettings, prepare, with_noise_draw
from rome.tracing.restore import severed_restorations
from rome.tracing.trace import severed_trace

PROMPT = "The Eiffel Tower is located in the city of"
SUBJECT = "Eiffel Tower"


def test_two_draws_of_one_stream():
    a, b = sample_noise_draws("1.0", None, 3, 2, 8, seed=4, draws=2)
    assert torch.equal(a, sample_noise("1.0", None, 3, 2, 8, seed=4))  # the first draw is the prompt's noise
    assert not torch.equal(a, b)
    assert torch.equal(b, sample_noise_draws("1.0", None, 3, 2, 8, seed=4, draws=2)[1])


def test_official_option_uses_a_second_draw_for_the_patched_pass(tiny_gpt2):
    s = TraceSettings(noise="1.0", samples=3, seed=2, severed_noise="official")
    prep = prepare(tiny_gpt2, PROMPT, SUBJECT, s)
    second = with_noise_draw(prep, 1)
    assert torch.equal(second.noise, sample_noise_draws("1.0", None, *prep.noise.shape, seed=2, draws=2)[1])
    assert not torch.equal(second.noise, prep.noise)
    assert second.clean_states is prep.clean_states and second.answer_id == prep.answer_id


def test_same_and_official_differ_only_in_the_severed_curves(tiny_gpt2):
    same = severed_trace(tiny_gpt2, PROMPT, SUBJECT, TraceSettings(noise="1.0", samples=3, seed=2))
    off = severed_trace(tiny_gpt2, PROMPT, SUBJECT, TraceSettings(noise="1.0", samples=3, seed=2, severed_noise="official"))
    assert off.corrupted == same.corrupted  # the corrupted run uses the first draw in both
    np.testing.assert_array_equal(off.scores["single"], same.scores["single"])
    for label in ("mlp_severed", "attn_severed"):
        assert np.abs(off.scores[label] - same.scores[label]).max() > 1e-9
    assert off.settings["severed_noise"] == "official" and same.settings["severed_noise"] == "same"


@pytest.mark.parametrize("sever", ["mlp", "attn"])
def test_fast_equals_reference_with_frozen_states_from_another_draw(tiny_gemma, sever):
    prep = prepare(tiny_gemma, PROMPT, SUBJECT, TraceSettings(noise="0.8", samples=3, seed=3))
    frozen = ReferenceEngine(prep).corrupted_states()
    prep2 = with_noise_draw(prep, 1)
    rs = severed_restorations(prep.enc.last_subject, prep.n_layers, sever)
    ref = ReferenceEngine(prep2, frozen_states=frozen).scores(rs)
    fast = FastEngine(prep2, frozen_states=frozen).scores(rs)
    assert np.abs(ref - fast).max() < 1e-5
    np.testing.assert_allclose(ref, fast, rtol=1e-4, atol=1e-12)


def _hand_mlp_severed(lm, prep, noise_frozen, noise_patched, layer):
    """trace_with_repatch written out: pass 1 records the last subject token's MLP outputs under
    ``noise_frozen``; pass 2 adds ``noise_patched``, restores h_token^(layer) from the clean run
    and puts the recorded MLP outputs back at the token in every layer."""
    spec, model = lm.spec, lm.model
    tok, pos, S = prep.enc.last_subject, prep.corrupt_positions, noise_frozen.shape[0]
    ids = prep.input_ids.repeat(S, 1)
    mlps = [spec.layer_name("mlp", l) for l in range(prep.n_layers)]
    block = spec.layer_name("block", layer)

    def add(noise):
        def edit(x, name):
            if name != spec.embed:
                return x
            x = x.clone()
            x[:, pos] = x[:, pos] + noise.to(x.dtype)
            return x
        return edit

    with torch.no_grad(), TraceDict(model, [spec.embed] + mlps, edit_output=add(noise_frozen), detach=True) as td:
        model(input_ids=ids)
    recorded = {n: td[n].output[:, tok].clone() for n in mlps}
    with torch.no_grad(), TraceDict(model, [block], detach=True) as td:
        model(input_ids=prep.input_ids)
    clean = td[block].output[0, tok].clone()

    def edit2(x, name):
        if name == spec.embed:
            return add(noise_patched)(x, name)
        x = x.clone()
        x[:, tok] = clean if name == block else recorded[name]
        return x

    with torch.no_grad(), TraceDict(model, [spec.embed] + mlps + [block], edit_output=edit2):
        logits = model(input_ids=ids).logits[:, -1]
    return float(torch.softmax(logits.float(), -1)[:, prep.answer_id].mean())


def test_official_severed_score_equals_the_two_pass_computation(tiny_gpt2):
    seed, S = 2, 3
    off = severed_trace(tiny_gpt2, PROMPT, SUBJECT, TraceSettings(noise="1.0", samples=S, seed=seed, severed_noise="official"))
    same = severed_trace(tiny_gpt2, PROMPT, SUBJECT, TraceSettings(noise="1.0", samples=S, seed=seed))
    prep = prepare(tiny_gpt2, PROMPT, SUBJECT, TraceSettings(noise="1.0", samples=S, seed=seed))
    n1, n2 = sample_noise_draws("1.0", None, *prep.noise.shape, seed=seed, draws=2)
    for layer in (0, 2):
        assert off.scores["mlp_severed"][0, layer] == pytest.approx(_hand_mlp_severed(tiny_gpt2, prep, n1, n2, layer), rel=1e-4)
        assert same.scores["mlp_severed"][0, layer] == pytest.approx(_hand_mlp_severed(tiny_gpt2, prep, n1, n1, layer), rel=1e-4)
