import pytest

from rome.editing.attn_edit import make_attn_edit

from ._baseline_helpers import FACTS, check_edit_contract, gemma_wins

TINY = {"layer": 2, "lr": 5e-2, "steps": 10, "epsilon": 1e-3, "early_stop_loss": 1e-3}


@pytest.mark.parametrize("arch", ["gpt2", "gemma3"])
def test_attn_edit_changes_only_qkv_and_restores(arch, tiny_gpt2, tiny_gemma):
    lm = tiny_gpt2 if arch == "gpt2" else tiny_gemma
    result = check_edit_contract(lm, make_attn_edit(TINY), FACTS[:1])
    assert set(result.changed) == set(lm.spec.attn_weight_names(2))
    assert result.info["max_abs_delta"] <= 1e-3 * (1 + 1e-5) + 1e-7


@pytest.mark.gemma
def test_attn_edit_flips_facts_on_gemma(gemma):
    from rome.editing.hparams import load_hparams

    ed = make_attn_edit(load_hparams("attn", "gemma-3-270m"))
    assert gemma_wins(gemma, ed, FACTS) >= 2
