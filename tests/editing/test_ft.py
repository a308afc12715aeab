import pytest
import torch

from rome.editing.ft import FineTuneEditor, build_target_batch, make_ft, make_ft_l, target_nll

from ._baseline_helpers import FACTS, check_edit_contract, gemma_wins

TINY_FT = {"layer": 1, "lr": 1e-2, "steps": 10, "epsilon": None, "early_stop_loss": 1e-3}


@pytest.mark.parametrize("arch", ["gpt2", "gemma3"])
def test_ft_changes_only_the_edit_weight_and_restores(arch, tiny_gpt2, tiny_gemma):
    lm = tiny_gpt2 if arch == "gpt2" else tiny_gemma
    result = check_edit_contract(lm, make_ft(TINY_FT), FACTS[:1])
    assert result.changed == [lm.spec.edit_weight_name(1)]
    assert result.info["losses"][-1] < result.info["losses"][0]


def test_ft_lowers_target_loss(tiny_gpt2):
    lm = tiny_gpt2
    batch = build_target_batch(lm, [FACTS[0].text], [FACTS[0].target_new])
    with torch.no_grad():
        before = float(target_nll(lm, batch))
    result = make_ft(TINY_FT).apply(lm, FACTS[:1])
    with torch.no_grad():
        after = float(target_nll(lm, batch))
    result.restore(lm.model)
    assert after < before - 0.1


@pytest.mark.parametrize("eps", [1e-4, 1e-3])
def test_ft_l_never_exceeds_epsilon(tiny_gpt2, eps):
    lm = tiny_gpt2
    hp = dict(TINY_FT, layer=0, epsilon=eps, lr=5e-2)
    result = check_edit_contract(lm, make_ft_l(hp), FACTS[:1])
    # the clamp is hit (large lr) yet never exceeded beyond float rounding of w0 +- eps
    assert result.info["max_abs_delta"] <= eps * (1 + 1e-5) + 1e-7
    assert result.info["max_abs_delta"] >= 0.5 * eps


def test_ft_l_bound_holds_after_every_step(tiny_gpt2, monkeypatch):
    lm = tiny_gpt2
    ed = make_ft_l(dict(TINY_FT, layer=0, epsilon=2e-4, lr=5e-2))
    seen = []
    orig = FineTuneEditor._project

    def spy(self, model, originals):
        orig(self, model, originals)
        for n, w0 in originals.items():
            seen.append(float((model.get_parameter(n).detach() - w0).abs().max()))

    monkeypatch.setattr(FineTuneEditor, "_project", spy)
    ed.apply(lm, FACTS[:1]).restore(lm.model)
    assert seen and max(seen) <= 2e-4 * (1 + 1e-5) + 1e-7


def test_ft_l_requires_epsilon():
    from rome.editing.hparams import HparamsError

    with pytest.raises(HparamsError, match="epsilon"):
        make_ft_l(TINY_FT)


def test_ft_rejects_bad_layer(tiny_gpt2):
    with pytest.raises(ValueError, match="layer 99"):
        make_ft(dict(TINY_FT, layer=99)).apply(tiny_gpt2, FACTS[:1])


@pytest.mark.gemma
@pytest.mark.parametrize("method", ["ft", "ft-l"])
def test_ft_flips_facts_on_gemma(gemma, method):
    from rome.editing.hparams import load_hparams

    hp = load_hparams(method, "gemma-3-270m")
    ed = make_ft(hp) if method == "ft" else make_ft_l(hp)
    assert gemma_wins(gemma, ed, FACTS) >= 2
