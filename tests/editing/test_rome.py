"""ROME on tiny random models: the algebra of the insert, restoration, errors, hparams."""
from __future__ import annotations

import argparse

import pytest
import torch

from rome.editing.base import Editor, EditRequest, EditRequestError
from rome.editing.context_templates import context_templates
from rome.editing.hparams import HparamsError, load_hparams, normalise_model_name
from rome.editing.rome import (
    ROMEEditor,
    SuffixPass,
    keys_at,
    optimise_v,
    rank_one_update,
    solve_u,
    template_prefix,
    v_rows,
)
from rome.editing.statistics import StatsProvider, StatsSettings
from rome.model.hooks import count_hooks
from testpaths import WIKITEXT2

REQ = EditRequest("{} plays the sport of", "LeBron James", "football", "basketball")


@pytest.fixture(scope="module")
def stats_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("rome-tiny")


def editor_for(lm, cache, **overrides) -> ROMEEditor:
    hp = load_hparams("rome", lm.name, overrides)
    provider = StatsProvider(StatsSettings(corpus=WIKITEXT2, max_tokens=1500, max_length=64), cache_dir=cache,
                             progress=False)
    return ROMEEditor(hp, provider, templates_dir=cache)


def test_model_name_normalisation():
    assert normalise_model_name("EleutherAI/gpt-j-6B") == "gpt-j-6b"
    assert normalise_model_name("tiny-gemma3") == "tiny"
    assert normalise_model_name("/x/data/models/gemma-3-270m-a5fd3b62230aa5ec") == "gemma-3-270m"
    assert normalise_model_name("gpt2-xl") == "gpt2-xl"


def test_load_hparams_paper_values_and_errors():
    hp = load_hparams("rome", "gpt2-xl")
    assert (hp["layer"], hp["v_lr"], hp["v_steps"], hp["kl_factor"], hp["v_weight_decay"], hp["clamp_norm_factor"]) == (17, 0.5, 20, 0.0625, 0.5, 4.0)
    assert load_hparams("rome", "EleutherAI/gpt-j-6B")["layer"] == 5
    assert load_hparams("rome", "gpt2-medium", {"layer": 3})["layer"] == 3
    with pytest.raises(HparamsError, match="available: .*gemma-3-270m.*gpt2-xl"):
        load_hparams("rome", "gpt-neox-20b")
    with pytest.raises(HparamsError, match="not a hyperparameter"):
        load_hparams("rome", "gpt2-xl", {"layr": 3})
    with pytest.raises(HparamsError, match="no hyperparameters for method"):
        load_hparams("no-such-method", "gpt2-xl")


def test_templates_are_seeded_and_cached(tiny_gpt2, stats_cache):
    a = context_templates(tiny_gpt2, [[5, 2], [10, 2]], 5, seed=3, cache_dir=stats_cache / "t1")
    b = context_templates(tiny_gpt2, [[5, 2], [10, 2]], 5, seed=3, cache_dir=stats_cache / "t2")
    c = context_templates(tiny_gpt2, [[5, 2], [10, 2]], 5, seed=4, cache_dir=stats_cache / "t3")
    assert a == b and a != c
    assert a[0] == "{}" and len(a) == 5 and all(t.endswith(". {}") for t in a[1:])
    assert list((stats_cache / "t1").glob("*.json"))


@pytest.mark.parametrize("arch", ["gpt2", "gptj", "gemma3"])
def test_insert_is_rank_one_and_maps_k0_to_v_star(arch, gpt2_tok, bos_tok, stats_cache):
    from rome.testing import tiny_model
    lm = tiny_model(arch, gpt2_tok if arch != "gemma3" else bos_tok)
    ed = editor_for(lm, stats_cache)
    layer = ed.hparams["layer"]
    templates = ed.templates(lm)
    keys = keys_at(lm, layer, [(template_prefix(t), REQ.prompt, REQ.subject) for t in templates], "last_subject")
    k_star, k0 = keys.mean(0), keys[0]
    C = ed.stats_provider(lm, layer)
    u = solve_u(C, k_star)
    direct = torch.linalg.solve(C.double(), k_star.double())
    assert torch.allclose(u.double(), direct / direct.norm(), atol=1e-5)  # u solves C u = k*
    assert torch.allclose(C.double() @ (u.double() * direct.norm()), k_star.double(), atol=1e-4 * float(k_star.norm()))
    vres = optimise_v(lm, layer, REQ, templates, ed.hparams)
    assert float(vres.delta.norm()) <= ed.hparams["clamp_norm_factor"] * float(vres.v_init.norm()) * (1 + 1e-5)
    module = lm.module("edit", layer)
    with torch.no_grad():
        v0 = module(k0[None])[0]
    dW = rank_one_update(u, k0, vres.v_star, v0)
    assert torch.linalg.matrix_rank(dW) == 1
    w = lm.spec.edit_weight(lm.model, layer)
    with torch.no_grad():
        lm.spec.as_out_in(w).add_(dW.float())
        v_new = module(k0[None])[0]
    assert torch.allclose(v_new, vres.v_star, atol=1e-4 * float(vres.v_star.norm()) + 1e-6)
    assert count_hooks(lm.model) == 0


@pytest.mark.parametrize("mode", ["prompt", "mean"])
def test_apply_restores_bit_for_bit_and_sequences(tiny_gpt2, stats_cache, mode):
    lm = tiny_gpt2
    ed = editor_for(lm, stats_cache, key_for_insert=mode, v_steps=3)
    assert isinstance(ed, Editor)
    before = {n: p.detach().clone() for n, p in lm.model.named_parameters()}
    r1 = ed.apply(lm, [REQ])
    mid = lm.spec.edit_weight(lm.model, 1).detach().clone()
    r2 = ed.apply(lm, [EditRequest("The capital of {} is", "France", "Rome")])
    assert not torch.equal(mid, lm.spec.edit_weight(lm.model, 1))
    assert r1.info["layer"] == 1 and r1.info["requests"][0]["rank"] == 1
    assert {"loss", "p_new_before", "p_new_after", "delta_w_norm"} <= set(r1.info["requests"][0])
    r2.restore(lm.model)
    assert torch.equal(mid, lm.spec.edit_weight(lm.model, 1))
    r1.restore(lm.model)
    for n, p in lm.model.named_parameters():
        assert torch.equal(p, before[n]), n
    both = ed.apply(lm, [REQ, EditRequest("The capital of {} is", "France", "Rome")])
    assert len(both.info["requests"]) == 2
    both.restore(lm.model)
    assert all(torch.equal(p, before[n]) for n, p in lm.model.named_parameters())


def test_bad_requests_fail_clearly(tiny_gpt2, stats_cache):
    ed = editor_for(tiny_gpt2, stats_cache)
    with pytest.raises(EditRequestError, match="target_new"):
        ed.apply(tiny_gpt2, [EditRequest("{} plays", "LeBron James", "")])
    with pytest.raises(EditRequestError, match="target_new"):
        EditRequest("{} plays", "LeBron James", "   ")
    with pytest.raises(EditRequestError, match="prompt"):
        EditRequest("LeBron James plays", "LeBron James", "football")
    with pytest.raises(EditRequestError, match="subject"):
        EditRequest("{} plays", "", "football")
    w = tiny_gpt2.spec.edit_weight(tiny_gpt2.model, 1).detach().clone()
    with pytest.raises(EditRequestError, match="no token after the subject"):
        editor_for(tiny_gpt2, stats_cache, token="first_subsequent").apply(tiny_gpt2, [EditRequest("I like {}", "tea", "coffee")])
    assert torch.equal(w, tiny_gpt2.spec.edit_weight(tiny_gpt2.model, 1))  # nothing left behind


def test_registry_and_overrides():
    from replkit.cli import parse_overrides
    from rome.editing.registry import METHODS, make_editor
    assert "rome" in METHODS
    assert parse_overrides(["layer=5", "key_for_insert=mean", "context_templates=[[5, 2]]"]) == {
        "layer": 5, "key_for_insert": "mean", "context_templates": [[5, 2]]}
    with pytest.raises(KeyError, match="unknown editing method"):
        make_editor("nope", None)


def test_edit_cli_runs(tiny_gpt2, stats_cache, monkeypatch, capsys):
    from rome.editing import edit_cli
    monkeypatch.setattr(edit_cli, "load_from_args", lambda args: tiny_gpt2)
    before = tiny_gpt2.spec.edit_weight(tiny_gpt2.model, 1).detach().clone()
    parser = argparse.ArgumentParser()
    edit_cli.add_arguments(parser)
    args = parser.parse_args(["--prompt", "{} plays the sport of", "--subject", "LeBron James", "--target", "football",
                              "--stats-dir", str(stats_cache), "--templates-dir", str(stats_cache), "--stats-tokens", "1500",
                              "--corpus", WIKITEXT2,
                              "--set", "v_steps=2", "--set", "mom2_max_length=64", "--max-new-tokens", "3"])
    assert edit_cli.run(args) == 0
    out = capsys.readouterr().out
    assert "[before] p(new)=" in out and "[after ] p(new)=" in out
    assert torch.equal(before, tiny_gpt2.spec.edit_weight(tiny_gpt2.model, 1))


@pytest.mark.parametrize("arch", ["gpt2", "gemma3"])
def test_inserted_weights_reproduce_v_star_in_a_real_forward(arch, gpt2_tok, bos_tok, stats_cache):
    """End to end: δ is optimised at the same place the insert changes. Patching δ into the
    unedited model and editing the weights both give v* at the edited module's output at
    the last subject token of the un-prefixed prompt, in a plain forward pass."""
    from rome.model.hooks import Trace
    from rome.model.tokens import encode_with_subject
    from rome.testing import tiny_model
    lm = tiny_model(arch, gpt2_tok if arch != "gemma3" else bos_tok)
    ed = editor_for(lm, stats_cache, v_steps=4)
    layer = ed.hparams["layer"]
    prepared = ed.prepare(lm, REQ, layer)
    dW, _ = ed.insert(lm, prepared, ed.stats_provider(lm, layer))
    enc = encode_with_subject(lm.tokenizer, REQ.prompt, REQ.subject)
    ids = torch.tensor([enc.input_ids])
    name, pos, delta = lm.layer_name("edit", layer), enc.last_subject, prepared.v.delta

    def patch(out, _name):
        out = out.clone()
        out[0, pos] += delta
        return out

    with torch.no_grad(), Trace(lm.model, name, retain_output=True, edit_output=patch) as patched:
        lm.model(input_ids=ids)
    w = lm.spec.edit_weight(lm.model, layer)
    saved = w.detach().clone()
    try:
        with torch.no_grad():
            lm.spec.as_out_in(w).add_(dW.to(w.dtype))
            with Trace(lm.model, name, retain_output=True) as edited:
                lm.model(input_ids=ids)
    finally:
        with torch.no_grad():
            w.copy_(saved)
    v_star = prepared.v.v_star
    tol = 1e-4 * float(v_star.norm())
    assert float(delta.norm()) > 10 * tol  # a real change, not a no-op
    assert torch.allclose(patched.output[0, pos], v_star, atol=tol)
    assert torch.allclose(edited.output[0, pos], v_star, atol=tol)
    assert count_hooks(lm.model) == 0


@pytest.mark.parametrize("arch", ["gpt2", "gptj", "gpt_neox", "llama", "qwen2", "gemma3"])
@pytest.mark.parametrize("token", ["last_subject", "first_subject", "first_subsequent", "last"])
def test_suffix_pass_optimises_v_exactly_like_the_full_pass(arch, token, gpt2_tok, bos_tok, stats_cache):
    """v*'s shortcut (cached prefixes, replayed lower blocks) gives the full pass's losses and v*."""
    from rome.testing import tiny_model
    lm = tiny_model(arch, bos_tok if arch == "gemma3" else gpt2_tok, n_layers=4)
    ed = editor_for(lm, stats_cache / arch)
    templates = ed.templates(lm)
    hp = ed.hparams.with_changes(token=token, v_steps=6, v_loss_stop=0.0)
    for layer in (0, 2):
        rows = v_rows(lm, REQ, templates, token, hp.kl_prompts)
        assert SuffixPass(lm, layer, rows).ok  # the shortcut is taken, not silently skipped
        fast = optimise_v(lm, layer, REQ, templates, hp.with_changes(v_suffix_pass=True))
        full = optimise_v(lm, layer, REQ, templates, hp.with_changes(v_suffix_pass=False))
        assert len(fast.losses) == len(full.losses) == 6
        assert fast.losses == pytest.approx(full.losses, rel=1e-4, abs=1e-6)
        assert torch.allclose(fast.v_init, full.v_init, atol=1e-5)
        assert torch.allclose(fast.v_star, full.v_star, atol=1e-4 * float(full.v_star.norm()) + 1e-6)
        assert float(full.delta.norm()) > 0  # the optimisation moved
    assert count_hooks(lm.model) == 0
