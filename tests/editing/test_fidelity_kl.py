"""ROME's KL penalty is D_KL(P_edited ‖ P_orig) (paper Eq. 4; the official compute_v.py
calls torch's kl_div(input=log P_orig, target=log P_edited, log_target=True,
reduction="batchmean")). Values below are computed by hand from the definition
D_KL(P ‖ Q) = Σ_x P(x) ln(P(x)/Q(x)), not from the package."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from rome.editing.base import EditRequest
from rome.editing.hparams import load_hparams
from rome.editing.rome import kl_term, optimise_v

# a 3-token vocabulary
P_EDITED = [1 / 2, 1 / 4, 1 / 4]
P_ORIG = [1 / 8, 1 / 8, 3 / 4]
# KL(P_e ‖ P_o) = 1/2 ln 4 + 1/4 ln 2 + 1/4 ln(1/3) = 5/4 ln 2 − 1/4 ln 3
KL_EDITED_ORIG = 1.25 * math.log(2) - 0.25 * math.log(3)      # 0.591781...
# KL(P_o ‖ P_e) = 1/8 ln(1/4) + 1/8 ln(1/2) + 3/4 ln 3 = −3/8 ln 2 + 3/4 ln 3
KL_ORIG_EDITED = -0.375 * math.log(2) + 0.75 * math.log(3)    # 0.564029...


def _logp(p):
    return torch.tensor([p], dtype=torch.float64).log()


def test_hand_values_differ():
    assert KL_EDITED_ORIG == pytest.approx(0.5917808, abs=1e-6)
    assert KL_ORIG_EDITED == pytest.approx(0.5640287, abs=1e-6)
    assert abs(KL_EDITED_ORIG - KL_ORIG_EDITED) > 0.02


def test_default_kl_term_is_edited_given_original():
    got = float(kl_term(_logp(P_EDITED), _logp(P_ORIG), 1))
    assert got == pytest.approx(KL_EDITED_ORIG, abs=1e-12)
    assert got != pytest.approx(KL_ORIG_EDITED, abs=1e-3)


def test_reverse_setting_gives_the_other_direction():
    got = float(kl_term(_logp(P_EDITED), _logp(P_ORIG), 1, "original_edited"))
    assert got == pytest.approx(KL_ORIG_EDITED, abs=1e-12)
    with pytest.raises(ValueError, match="kl_direction"):
        kl_term(_logp(P_EDITED), _logp(P_ORIG), 1, "sideways")


def test_batchmean_divides_by_the_number_of_kl_prompts():
    # two prompts: the pair above and an unchanged distribution (KL 0): mean = KL/2;
    # a prompt whose row is left out (its KL cannot change) still counts in the mean.
    e = torch.cat([_logp(P_EDITED), _logp(P_ORIG)])
    o = torch.cat([_logp(P_ORIG), _logp(P_ORIG)])
    assert float(kl_term(e, o, 2)) == pytest.approx(KL_EDITED_ORIG / 2, abs=1e-12)
    assert float(kl_term(e[:1], o[:1], 2)) == pytest.approx(KL_EDITED_ORIG / 2, abs=1e-12)


def test_rome_default_hparams_use_the_paper_direction():
    for model in ("gpt2-xl", "gpt2-medium", "gpt2-large", "gpt-j-6b", "gemma-3-270m", "tiny"):
        assert load_hparams("rome", model)["kl_direction"] == "edited_original"


def test_optimisation_follows_the_direction_from_step_two(tiny_gpt2):
    """Both directions are 0 at step 1 (δ = 0); they differ once δ moves the KL prompt."""
    req = EditRequest("{} plays the sport of", "LeBron James", "football", "basketball")
    hp = load_hparams("rome", tiny_gpt2.name, {"v_steps": 4, "kl_factor": 50.0, "v_loss_stop": 0.0})
    templates = ["{}", "A text. {}"]
    runs = {}
    for d in ("edited_original", "original_edited"):
        runs[d] = optimise_v(tiny_gpt2, 1, req, templates, dataclasses.replace(hp, kl_direction=d))
    a, b = runs["edited_original"].losses, runs["original_edited"].losses
    assert a[0] == pytest.approx(b[0], abs=1e-6)
    assert any(abs(x - y) > 1e-6 for x, y in zip(a[1:], b[1:]))
    # the dataclass default (what a YAML without the key gets) is the official direction
    assert dataclasses.fields(hp)[[f.name for f in dataclasses.fields(hp)].index("kl_direction")].default \
        == "edited_original"
    default = optimise_v(tiny_gpt2, 1, req, templates, hp)
    assert default.losses == pytest.approx(a, abs=1e-6)
