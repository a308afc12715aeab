"""MEMIT, AlphaEdit and r-ROME: the algebra on hand-computed cases, the official code's loop on a
tiny model, the batched z* optimisation, state across batches, restoration and bad input."""
from __future__ import annotations

import math

import pytest
import torch

from rome.editing.base import EditRequest, EditRequestError, apply_batch, restore_all
from rome.editing.hparams import AlphaEditHparams, MEMITHparams, RROMEHparams, load_hparams
from rome.editing.memit import (
    AlphaEditEditor,
    MEMITEditor,
    MEMITError,
    alphaedit_update,
    block_states,
    memit_update,
    null_space_projector,
)
from rome.editing.rome import ROMEEditor, keys_at, optimise_values, template_prefix
from rome.editing.statistics import StatsProvider, StatsSettings
from testpaths import WIKITEXT2

REQS = [
    EditRequest("{} plays the sport of", "LeBron James", "football", "basketball", case_id=1),
    EditRequest("{} is located in the city of", "The Eiffel Tower", "Rome", "Paris", case_id=2),
    EditRequest("The mother tongue of {} is", "Danielle Darrieux", "English", "French", case_id=3),
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("memit-tiny")


def provider(cache) -> StatsProvider:
    return StatsProvider(StatsSettings(corpus=WIKITEXT2, max_tokens=1500, max_length=64), cache_dir=cache,
                         progress=False)


def editor(cls, lm, cache, **overrides):
    method = "alphaedit" if cls is AlphaEditEditor else "memit"
    return cls(load_hparams(method, lm.name, overrides), provider(cache), templates_dir=cache)


def weights(lm) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in lm.model.named_parameters()}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- the update, by hand ----------------------------------------------------------------------

def test_memit_update_solves_its_normal_equations():
    g = torch.Generator().manual_seed(0)
    K, R = torch.randn(3, 5, generator=g), torch.randn(3, 4, generator=g)
    A = torch.randn(5, 5, generator=g)
    C = A @ A.T + 0.1 * torch.eye(5)
    C = (C + C.T) / 2  # exactly symmetric, as the normal equations assume
    dw = memit_update(K, R, C, lam=2.0)
    # ΔW (λC + KᵀK) = Rᵀ K (the normal equations of min ‖ΔW K − R‖² + λ tr(ΔW C ΔWᵀ))
    residual = dw @ (2.0 * C.double() + K.double().T @ K.double()) - R.double().T @ K.double()
    assert residual.abs().max() < 1e-10


def test_one_fact_one_layer_is_a_least_squares_insert():
    # k = (1, 2), C = diag(1, 4), r = 3: u = C⁻¹k = (1, 0.5), kᵀC⁻¹k = 2.
    K, R, C = torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0]]), torch.diag(torch.tensor([1.0, 4.0]))
    # λ = 1 (Sherman-Morrison): ΔW = r uᵀ / (λ + kᵀC⁻¹k) = 3 (1, 0.5) / 3
    assert torch.allclose(memit_update(K, R, C, 1.0), torch.tensor([[1.0, 0.5]], dtype=torch.float64))
    # λ -> 0: ROME's insert r uᵀ / (u·k) = (1.5, 0.75), which writes k -> r exactly
    dw = memit_update(K, R, C, 1e-9)
    assert torch.allclose(dw, torch.tensor([[1.5, 0.75]], dtype=torch.float64), atol=1e-6)
    assert math.isclose(float(dw @ K[0].double()), 3.0, abs_tol=1e-6)


def test_projector_is_symmetric_idempotent_and_kills_the_principal_span():
    q, _ = torch.linalg.qr(torch.randn(4, 4, generator=torch.Generator().manual_seed(1)))
    C = q @ torch.diag(torch.tensor([1.0, 0.5, 0.01, 0.001])) @ q.T
    P = null_space_projector(C, 2e-2)
    assert torch.allclose(P, P.T, atol=1e-6)
    assert torch.allclose(P @ P, P, atol=1e-6)
    assert torch.allclose(P, q[:, 2:] @ q[:, 2:].T, atol=1e-5)  # the two directions below 0.02
    for k in (q[:, 0], q[:, 1], 3 * q[:, 0] - 2 * q[:, 1]):
        assert (P @ k).abs().max() < 1e-5
    # by hand: C = diag(1, 0.001) -> P = diag(0, 1)
    assert torch.allclose(null_space_projector(torch.diag(torch.tensor([1.0, 0.001])), 2e-2),
                          torch.diag(torch.tensor([0.0, 1.0])))


def test_alphaedit_update_by_hand():
    K, R = torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0]])
    # P = I, C_prev = 0, L2 = 1: ΔWᵀ = (KᵀK + I)⁻¹ KᵀR = diag(1/2, 1) (2, 0) = (1, 0)
    dw = alphaedit_update(K, R, torch.eye(2), torch.zeros(2, 2), 1.0)
    assert torch.allclose(dw, torch.tensor([[1.0, 0.0]]))
    # P annihilating the key's direction: no change at all (the preserved knowledge wins)
    dw = alphaedit_update(K, R, torch.diag(torch.tensor([0.0, 1.0])), torch.zeros(2, 2), 1.0)
    assert torch.equal(dw, torch.zeros(1, 2))
    # the update never leaves P's range: ΔW k = 0 for k in C's principal span
    P = torch.diag(torch.tensor([0.0, 1.0]))
    dw = alphaedit_update(torch.tensor([[1.0, 1.0]]), R, P, torch.eye(2), 10.0)
    assert dw @ torch.tensor([1.0, 0.0]) == 0


# -- the official loop on a tiny model ----------------------------------------------------------

def official_keys(lm, layer, requests, templates, groups):
    """compute_ks as the official code writes it: per request, a mean within each context type
    (template group), then the mean of those means; returned as [d_in, n] (official layout)."""
    out = []
    for r in requests:
        ks = keys_at(lm, layer, [(template_prefix(t), r.prompt, r.subject) for t in templates], "last_subject")
        means, start = [], 0
        for g in groups:
            means.append(ks[start:start + g].mean(0))
            start += g
        out.append(torch.stack(means).mean(0))
    return torch.stack(out).T


@pytest.mark.parametrize("cls", [MEMITEditor, AlphaEditEditor])
def test_equals_the_official_loop(tiny_gpt2, cache, cls):
    """execute_memit / apply_AlphaEdit_to_model written out in the official layouts (keys
    [d_in, n], targets [d, n], upd_matrix_match_shape) from the editor's z*, on the same
    weights and C: the weights after the batch agree."""
    lm = tiny_gpt2
    ed = editor(cls, lm, cache)
    hp = ed.hparams
    templates = ed.templates(lm)
    zs = torch.stack([v.v_star for v in ed.compute_z(lm, REQS[:2], templates)], dim=1)  # [d, n]
    start = weights(lm)
    ws = {}
    try:
        for i, layer in enumerate(hp.layers):
            ks = official_keys(lm, layer, REQS[:2], templates, ed.groups())
            cur = block_states(lm, hp.layers[-1], REQS[:2], "last_subject").T
            resid = ((zs - cur) / (len(hp.layers) - i)).double()
            C = ed.stats_provider(lm, layer)
            if cls is MEMITEditor:
                adj = torch.linalg.solve(hp.mom2_update_weight * C.double() + ks.double() @ ks.double().T, ks.double())
                upd = (resid @ adj.T).float()  # [d_out, d_in]
            else:
                P = null_space_projector(C, hp.nullspace_threshold)
                upd = torch.linalg.solve(P @ (ks @ ks.T) + hp.L2 * torch.eye(ks.shape[0]), P @ ks @ resid.float().T)
            w = lm.spec.edit_weight(lm.model, layer)
            upd = upd if upd.shape == w.shape else upd.T  # upd_matrix_match_shape
            with torch.no_grad():
                w += upd
        ws = weights(lm)
    finally:
        with torch.no_grad():
            for n, p in lm.model.named_parameters():
                p.copy_(start[n])
    ed.reset_state()
    result = ed.apply(lm, REQS[:2])
    try:
        for n in result.changed:
            got = dict(lm.model.named_parameters())[n].detach()
            assert torch.allclose(got, ws[n], atol=1e-6, rtol=1e-5), n
    finally:
        result.restore(lm.model)
    assert same(weights(lm), start)


def test_batched_z_equals_one_request_at_a_time(tiny_gpt2, cache):
    lm = tiny_gpt2
    ed = editor(MEMITEditor, lm, cache)
    templates = ed.templates(lm)
    batch = optimise_values(lm, 2, REQS, templates, ed.hparams, site="block")
    for r, b in zip(REQS, batch):
        alone = optimise_values(lm, 2, [r], templates, ed.hparams, site="block")[0]
        assert len(alone.losses) == len(b.losses)
        # equal up to the float rounding of a padded batch (Adam rescales each step to ~lr)
        assert torch.allclose(alone.v_star, b.v_star, atol=1e-4, rtol=1e-3)


def test_a_batch_larger_than_a_z_group_is_optimised_in_groups(tiny_gpt2, cache, monkeypatch):
    """Z_GROUP = 2 splits the 3 requests into groups of 2 and 1: each z* as in one batch (up to
    padding's rounding), in request order, every group through its own optimisation."""
    import rome.editing.memit as memit_mod

    lm = tiny_gpt2
    ed = editor(MEMITEditor, lm, cache)
    templates = ed.templates(lm)
    whole = ed.compute_z(lm, REQS, templates)
    sizes: list[int] = []
    real = memit_mod.optimise_values

    def counted(lm_, layer, reqs, *a, **kw):
        sizes.append(len(reqs))
        return real(lm_, layer, reqs, *a, **kw)

    monkeypatch.setattr(memit_mod, "Z_GROUP", 2)
    monkeypatch.setattr(memit_mod, "optimise_values", counted)
    grouped = ed.compute_z(lm, REQS, templates)
    assert sizes == [2, 1]
    for a, b in zip(whole, grouped):
        assert len(a.losses) == len(b.losses)
        assert torch.allclose(a.v_star, b.v_star, atol=1e-4, rtol=1e-3)


# -- editing, restoring, determinism --------------------------------------------------------------

@pytest.mark.parametrize("cls", [MEMITEditor, AlphaEditEditor])
def test_batch_edit_raises_the_new_targets_and_restores_exactly(tiny_gpt2, cache, cls):
    lm = tiny_gpt2
    # a tiny random model learns little in 10 steps: a weak λ (MEMIT) and a projector onto
    # every direction with a small L2 (AlphaEdit) let the small z* shifts show
    extra = dict(L2=1e-3, nullspace_threshold=1.0) if cls is AlphaEditEditor else {}
    ed = editor(cls, lm, cache, mom2_update_weight=1.0, **extra)
    start = weights(lm)
    result = apply_batch(ed, lm, REQS)
    deltas = {n: d.clone() for n, d in result.deltas(lm.model).items()}
    assert sorted(result.changed) == sorted(lm.spec.edit_weight_name(l) for l in ed.hparams.layers)
    # the residual streams at the last edited layer moved most of the way to z*
    errors = result.info["z_error"]
    assert len(errors) == len(ed.hparams.layers) + 1 and errors[-1] < 0.5 * errors[0], errors
    result.restore(lm.model)
    assert same(weights(lm), start)
    assert ed.state_dict().get("n_edits", 0) == 0
    again = apply_batch(ed, lm, REQS)  # the same stream and seed: the same bytes
    try:
        assert same({n: d for n, d in again.deltas(lm.model).items()}, deltas)
    finally:
        again.restore(lm.model)


def test_alphaedit_state_across_batches_saves_and_restores(tiny_gpt2, cache, tmp_path):
    lm = tiny_gpt2
    ed = editor(AlphaEditEditor, lm, cache)
    start = weights(lm)
    r1 = ed.apply(lm, REQS[:2])
    s1 = ed.state_dict()
    assert s1["n_edits"] == 2 and sorted(s1["kkt"]) == [str(l) for l in ed.hparams.layers]
    r2 = ed.apply(lm, REQS[2:])
    s2 = ed.state_dict()
    assert s2["n_edits"] == 3
    path = tmp_path / "state.pt"
    torch.save(s2, path)
    other = editor(AlphaEditEditor, lm, cache)
    other.load_state_dict(torch.load(path))
    assert all(torch.equal(other.state_dict()["kkt"][k], s2["kkt"][k]) for k in s2["kkt"])
    with pytest.raises(ValueError, match="does not fit"):
        editor(AlphaEditEditor, lm, cache, layers=[1]).load_state_dict(s2)
    restore_all(lm.model, [r1, r2])
    assert same(weights(lm), start)
    assert ed.state_dict()["n_edits"] == 0 and ed.state_dict()["kkt"] == {}


# -- bad input and faults: one line, weights untouched ------------------------------------------------

@pytest.mark.parametrize("cls", [MEMITEditor, AlphaEditEditor])
def test_conflicting_or_repeated_subjects_in_one_batch(tiny_gpt2, cache, cls):
    lm = tiny_gpt2
    ed = editor(cls, lm, cache)
    start = weights(lm)
    clash = EditRequest("{} plays the sport of", "LeBron James", "tennis", case_id=9)
    with pytest.raises(EditRequestError, match=r"record 1 and record 9: subject 'LeBron James'.*conflicting"):
        ed.apply(lm, [REQS[0], REQS[1], clash])
    with pytest.raises(EditRequestError, match="the same request twice"):
        ed.apply(lm, [REQS[0], REQS[0]])
    assert same(weights(lm), start)
    assert ed.state_dict().get("n_edits", 0) == 0


def test_prompt_without_placeholder_is_refused():
    with pytest.raises(EditRequestError, match="case 4.*'prompt' must contain"):
        EditRequest("LeBron James plays", "LeBron James", "football", case_id=4)


@pytest.mark.parametrize("cls", [MEMITEditor, AlphaEditEditor])
def test_non_finite_statistics_leave_the_weights_untouched(tiny_gpt2, cache, cls):
    lm = tiny_gpt2
    hp = load_hparams("alphaedit" if cls is AlphaEditEditor else "memit", lm.name)
    good = provider(cache)

    def bad(lm_, layer):
        C = good(lm_, layer).clone()
        if layer == hp.layers[-1]:
            C[0, 0] = float("nan")
        return C

    ed = cls(hp, bad, templates_dir=cache)
    start = weights(lm)
    with pytest.raises(MEMITError, match=f"C of layer {hp.layers[-1]} has non-finite|key statistics C has non-finite"):
        ed.apply(lm, REQS[:1])
    assert same(weights(lm), start)  # the first layer's update was taken back


def test_hparams_defaults_match_the_official_files():
    gptj = load_hparams("memit", "EleutherAI/gpt-j-6B")
    assert isinstance(gptj, MEMITHparams)
    assert (gptj.layers, gptj.mom2_update_weight, gptj.clamp_norm_factor, gptj.v_steps) == ([3, 4, 5, 6, 7, 8], 15000, 0.75, 25)
    xl = load_hparams("memit", "gpt2-xl")
    assert (xl.layers, xl.mom2_update_weight, xl.v_steps) == ([13, 14, 15, 16, 17], 20000, 20)
    ae = load_hparams("alphaedit", "EleutherAI/gpt-j-6B")
    assert isinstance(ae, AlphaEditHparams) and (ae.nullspace_threshold, ae.L2, ae.layers) == (0.02, 10, [3, 4, 5, 6, 7, 8])
    rr = load_hparams("r-rome", "gpt2-xl")
    assert isinstance(rr, RROMEHparams) and rr.key_for_insert == "mean" and rr.layer == 17
    assert load_hparams("memit", "gemma-3-270m").layers == [3, 4, 5, 6]


def test_r_rome_is_rome_with_the_mean_key(tiny_gpt2, cache):
    lm = tiny_gpt2
    ed = ROMEEditor(load_hparams("r-rome", lm.name), provider(cache), templates_dir=cache, name="r-rome")
    assert not ed.batch_native and ed.state_dict() == {}
    start = weights(lm)
    result = apply_batch(ed, lm, REQS[:2])  # one after the other
    assert result.method == "r-rome" and len(result.info["requests"]) == 2
    assert all(i["key_for_insert"] == "mean" for i in result.info["requests"])
    result.restore(lm.model)
    assert same(weights(lm), start)


@pytest.mark.parametrize("model", ["tiny_gpt2", "tiny_gemma"])
def test_z_suffix_pass_with_batched_prefixes_equals_the_full_pass(model, cache, request):
    lm = request.getfixturevalue(model)
    ed = editor(MEMITEditor, lm, cache)
    templates = ed.templates(lm)
    fast = optimise_values(lm, 2, REQS, templates, ed.hparams, site="block")
    full = optimise_values(lm, 2, REQS, templates, ed.hparams.with_changes(v_suffix_pass=False), site="block")
    for a, b in zip(fast, full):
        assert torch.allclose(a.v_star, b.v_star, atol=1e-4, rtol=1e-3)
        assert a.losses[0] == pytest.approx(b.losses[0], rel=1e-5)


def test_a_request_that_stops_keeps_its_z_while_the_others_go_on(tiny_gpt2, cache):
    """The stop rule per request (official compute_z's break): the request with the lowest
    starting loss stops at once, the others keep optimising in the same batch (their rows
    alone go through the vocabulary projection from then on) and end as when alone."""
    lm = tiny_gpt2
    ed = editor(MEMITEditor, lm, cache)
    templates = ed.templates(lm)
    first = [optimise_values(lm, 2, [r], templates, ed.hparams.with_changes(v_steps=1), site="block")[0].losses[0]
             for r in REQS]
    low, second = sorted(first)[:2]
    hp = ed.hparams.with_changes(v_loss_stop=(low + second) / 2)
    batch = optimise_values(lm, 2, REQS, templates, hp, site="block")
    for r, b, loss0 in zip(REQS, batch, first):
        alone = optimise_values(lm, 2, [r], templates, hp, site="block")[0]
        if loss0 == low:
            assert len(b.losses) == 1 and torch.equal(b.delta, torch.zeros_like(b.delta))
        else:
            assert len(b.losses) == hp.v_steps
        assert len(alone.losses) == len(b.losses)
        assert torch.allclose(alone.v_star, b.v_star, atol=1e-4, rtol=1e-3)


def test_residual_target_through_gemmas_output_norm(tiny_gemma, monkeypatch):
    """Gemma's MLP output passes post_feedforward_layernorm: the module-output change that
    through_output_norm returns moves the normed output by the residual target R (up to the
    norm's sphere: for a small R, to first order). The norm's eps is set to 0: the tiny random
    model's MLP outputs are so small that eps would dominate (on Gemma 3 270M mean(m²) ~ 1e-2
    against eps 1e-6, where the norm is scale-free as the mapping assumes)."""
    from rome.editing.memit import through_output_norm
    from rome.model.hooks import Trace
    from rome.model.tokens import encode_with_subject

    lm = tiny_gemma
    req = REQS[:1]
    enc = encode_with_subject(lm.tokenizer, req[0].prompt, req[0].subject)
    with Trace(lm.model, lm.layer_name("edit", 1), retain_output=True, stop=True) as tr:
        lm.model(input_ids=torch.tensor([enc.input_ids]), use_cache=False)
    m = tr.output[0, enc.last_subject].float()
    norm = lm.model.get_submodule(f"{lm.spec.layers}.1.{lm.spec.mlp_out_norm}")
    monkeypatch.setattr(norm, "eps", 0.0)
    y = norm(m[None])[0]
    R = 1e-3 * y.norm() * torch.randn(1, m.shape[0], generator=torch.Generator().manual_seed(0)) / m.shape[0] ** 0.5
    dm = through_output_norm(lm, 1, req, "last_subject", R)
    moved = norm((m + dm[0])[None])[0] - y
    # the norm keeps its output on a sphere: R's radial part is lost, the rest arrives
    assert (moved - R[0]).norm() < 0.5 * R.norm()
    # without the mapping the same R written as module output moves the residual elsewhere
    plain = norm((m + R[0])[None])[0] - y
    assert (plain - R[0]).norm() > 10 * (moved - R[0]).norm()


def _rms_norm(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return g * x / x.pow(2).mean(dim=-1, keepdim=True).sqrt()


def test_nearest_normed_input_hand_cases():
    """An RMS norm g ⊙ x / rms(x) reaches only the ellipsoid mean((out/g)²) = 1. Hand cases:
    a reachable target is met exactly (x ∝ p / g); an unreachable one goes to the nearest point
    of the ellipsoid; a coordinate with a tiny gain is not divided by that gain."""
    from rome.editing.memit import nearest_normed_input

    # reachable: g = (2, 1), p = (2, 1) has mean((p/g)^2) = 1, so the output is p itself
    g = torch.tensor([2.0, 1.0])
    m = torch.tensor([[0.3, 0.1]])
    x = nearest_normed_input(g, m, torch.tensor([[2.0, 1.0]]))
    assert torch.allclose(_rms_norm(g, x), torch.tensor([[2.0, 1.0]]), atol=1e-6)
    # scaled towards m: x = c (1, 1) with c = (x . m) / (x . x) = 0.2
    assert torch.allclose(x, torch.tensor([[0.2, 0.2]]), atol=1e-6)

    # unreachable: g = (1, 1) reaches the circle of radius sqrt(2); p = (3, 0) -> (sqrt(2), 0)
    g = torch.tensor([1.0, 1.0])
    x = nearest_normed_input(g, torch.tensor([[1.0, 1.0]]), torch.tensor([[3.0, 0.0]]))
    assert torch.allclose(_rms_norm(g, x), torch.tensor([[2 ** 0.5, 0.0]]), atol=1e-6)

    # a tiny gain: g = (1, 1e-3), p = (1, 1). Minimising (x1 - 1)^2 + (1e-3 x2 - 1)^2 on
    # x1^2 + x2^2 = 2 gives x ~ (0.999, 1), output ~ (0.999, 0.001), loss ~ 0.998; dividing by the
    # gain (x = p / g = (1, 1000)) would give the output (1, 1) / 707, loss ~ 2
    g = torch.tensor([1.0, 1e-3])
    p = torch.tensor([[1.0, 1.0]])
    x = nearest_normed_input(g, torch.tensor([[1.0, 0.0]]), p)
    out = _rms_norm(g, x)
    assert abs(float(out[0, 0]) - 0.999) < 2e-3
    assert float((out - p).pow(2).sum()) < 1.0
    divided = _rms_norm(g, p / g)
    assert float((divided - p).pow(2).sum()) > 1.9


def test_nearest_normed_input_dead_coordinates_keep_m():
    """A zero gain: that coordinate's output is 0 whatever x is; it keeps m's direction and takes
    what the live coordinates leave of the norm (so a reachable target is still met)."""
    from rome.editing.memit import nearest_normed_input

    g = torch.tensor([1.0, 1.0, 0.0])
    m = torch.tensor([[0.5, 0.5, -2.0]])
    p = torch.tensor([[1.0, 0.0, 0.0]])  # mean((x/1)^2 over live) can be met with room to spare
    x = nearest_normed_input(g, m, p)
    out = _rms_norm(g, x)
    assert torch.allclose(out, p, atol=1e-6)
    assert float(x[0, 2]) < 0  # the dead coordinate kept m's sign
