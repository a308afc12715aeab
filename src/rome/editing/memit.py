"""MEMIT and AlphaEdit: one update of several layers for a batch of requests.

MEMIT (Meng et al., "Mass-Editing Memory in a Transformer", ICLR 2023; official code
kmeng01/memit at 80426fd, ``memit/memit_main.py``, ``compute_z.py``, ``compute_ks.py``).
For a batch of requests and the ascending layer range R = [l_1 .. l_L]:

1. z_i, the target of request i's residual stream (block output) at the last layer l_L at
   the subject's last token, by the value optimisation ROME uses for v*
   (:func:`rome.editing.rome.optimise_values` with ``site="block"``: the same NLL, KL term,
   weight decay, clamp and stop rule; all requests of the batch in one set of passes);
2. for each layer l_j in order, on the model as edited so far: K = the requests' keys at l_j
   (input of the MLP output projection, averaged over the context templates, official
   ``compute_ks``: the mean of each template group's mean), H = their block outputs at l_L
   for the un-prefixed prompts, the residual R = (Z − H) / (L − j + 1) (the rest spread over
   the layers still to edit), and

       ΔW = R Kᵀ (λ·C + K Kᵀ)⁻¹,   λ = ``mom2_update_weight``,

   computed as ``R · solve(λC + KKᵀ, K)ᵀ`` in float64 (``memit_main.execute_memit``), added
   to W before the next layer. ΔW solves the normal equations of
   min ‖ΔW K − R‖² + λ·tr(ΔW C ΔWᵀ).

AlphaEdit (Fang et al., ICLR 2025; official code jianghoucheng/AlphaEdit at f5248d3,
``AlphaEdit/AlphaEdit_main.py``, ``experiments/evaluate.py:get_project``): the same z* and
keys, but per layer

       ΔWᵀ = solve(P (K Kᵀ + C_prev) + L2·I, P K Rᵀ)

in float32, with P = U_s U_sᵀ over C's singular vectors whose singular value is below
``nullspace_threshold`` (the null space of the preserved knowledge: ΔW k = 0 for every k in
C's principal span) and C_prev = Σ K Kᵀ of every earlier batch of the sequence (official
``cache_c``; the keys recomputed on the edited model after each batch). C itself enters only
through P. C_prev is the editor's state: see :class:`AlphaEditEditor`.

Weights are edited in place and restored exactly (all-or-nothing, :mod:`.base`); the key
statistics C of every edited layer come from the stats provider in one pass over the corpus.
"""
from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from ..model.hooks import Trace
from ..model.teacher_forcing import right_pad
from ..model.tokens import encode_with_subject
from .base import EditRequest, EditRequestError, EditResult, all_or_nothing, begin_edit
from .context_templates import context_templates, template_groups, templates_file
from .hparams import AlphaEditHparams, MEMITHparams
from .rome import ROMEError, StatsFn, check_request, keys_at, optimise_values, template_prefix, token_position

# Requests whose z* share one set of forward/backward passes. The official compute_z optimises
# one request after the other; each request's z* here follows its own objective and stop rule,
# so grouping changes only the float rounding of a padded batch. Sharing saves the per-pass
# overhead (the vocabulary projection's weight reads), but beyond a few dozen rows each pass
# costs in proportion to its rows and the activations kept for the backward pass grow with them
# (a batch of 100 Gemma requests held ~14 GB at once): larger batches go through in groups.
Z_GROUP = 16


class MEMITError(ROMEError):
    """MEMIT/AlphaEdit could not compute an update (singular system, non-finite C or z*)."""


# -- checks ---------------------------------------------------------------------------------

def _name(r: EditRequest, i: int) -> str:
    return f"record {r.case_id}" if r.case_id is not None else f"request {i}"


def check_batch(lm, requests: Sequence[EditRequest], token: str) -> None:
    """Refuse a batch two of whose requests read the same key: the same subject after the same
    text (everything up to the key's token). Their keys are equal at every layer, so one
    least-squares update cannot give them different values (conflicting targets), and a
    repeated request counts twice. One line naming both records."""
    seen: dict[tuple[int, ...], int] = {}
    for i, r in enumerate(requests):
        enc = encode_with_subject(lm.tokenizer, r.prompt, r.subject)
        pos = token_position(enc, token)
        key = tuple(enc.input_ids[:pos + 1])
        if key in seen:
            j = seen[key]
            other = requests[j]
            what = ("the same request twice" if (other.prompt, other.target_new) == (r.prompt, r.target_new)
                    else f"conflicting targets {other.target_new!r} and {r.target_new!r}")
            raise EditRequestError(
                f"{_name(other, j)} and {_name(r, i)}: subject {r.subject!r} after the same text gives the same key "
                f"({what}); a MEMIT/AlphaEdit batch needs distinct keys: put them in different batches")
        seen[key] = i


def _finite(t: torch.Tensor, what: str) -> torch.Tensor:
    if not torch.isfinite(t).all():
        raise MEMITError(f"{what} has non-finite values")
    return t


# -- the pieces -----------------------------------------------------------------------------

@torch.no_grad()
def batch_keys(lm, layer: int, requests: Sequence[EditRequest], templates: Sequence[str], groups: Sequence[int],
               token: str, average: str = "groups") -> torch.Tensor:
    """Keys [n, d_in] of the requests at ``layer``: per request, the keys of its templated
    prompts averaged per template group then across groups (``average="groups"``, official
    ``compute_ks``) or over all templates (``"flat"``, ROME's k*)."""
    texts = [(template_prefix(t), r.prompt, r.subject) for r in requests for t in templates]
    keys = keys_at(lm, layer, texts, token).view(len(requests), len(templates), -1)
    if average == "flat":
        return keys.mean(dim=1)
    bounds = [0]
    for g in groups:
        bounds.append(bounds[-1] + g)
    if bounds[-1] != len(templates):
        raise ValueError(f"template groups {list(groups)} do not cover the {len(templates)} templates")
    return torch.stack([keys[:, a:b].mean(dim=1) for a, b in zip(bounds, bounds[1:])], dim=1).mean(dim=1)


@torch.no_grad()
def _outputs_at_token(lm, module: str, requests: Sequence[EditRequest], token: str) -> torch.Tensor:
    """Outputs [n, d] of ``module`` at the chosen token of each un-prefixed prompt, one padded pass."""
    encs = [encode_with_subject(lm.tokenizer, r.prompt, r.subject) for r in requests]
    pos = [token_position(e, token) for e in encs]
    ids, mask = right_pad([e.input_ids for e in encs], lm.tokenizer.pad_token_id or 0, lm.device)
    with Trace(lm.model, module, retain_output=True, stop=True) as tr:
        lm.model(input_ids=ids, attention_mask=mask, use_cache=False)
    assert tr.output is not None
    return tr.output[torch.arange(len(encs)), pos].float()


def block_states(lm, layer: int, requests: Sequence[EditRequest], token: str) -> torch.Tensor:
    """Block outputs [n, d] at ``layer`` at the chosen token of each un-prefixed prompt
    (official ``get_module_input_output_at_words`` with ``layer_module_tmp``)."""
    return _outputs_at_token(lm, lm.layer_name("block", layer), requests, token)


def _ellipsoid_multiplier(gp: torch.Tensor, g2: torch.Tensor, d: int, has_dead: bool) -> float:
    """μ with Σ (gp_i / (g2_i + μ))² = d over the live coordinates: 0 when that sum is already
    ≤ d and dead coordinates can take the rest, else the root on (lower, ∞), where the sum
    decreases (lower = 0 with dead coordinates, −min g² without); bracketing, then bisection."""

    def norm2(mu: float) -> float:
        return float((gp / (g2 + mu)).pow(2).sum())

    lo = 0.0 if has_dead else -float(g2.min())
    if has_dead and norm2(0.0) <= d:
        return 0.0
    hi = lo + max(float(g2.max()), 1e-12)
    while norm2(hi) > d:
        hi = lo + (hi - lo) * 4.0
    a = lo
    for _ in range(200):
        mid = 0.5 * (a + hi)
        if mid in (a, hi):
            break
        if norm2(mid) > d:
            a = mid
        else:
            hi = mid
    return hi


def nearest_normed_input(gain: torch.Tensor, m: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Inputs [n, d] of an RMS norm ``out = g ⊙ x / rms(x)`` whose outputs are the points of the
    norm's reachable set nearest (least squares) to ``target`` [n, d], as close to ``m`` [n, d] as
    the norm's scale invariance allows.

    An RMS norm's outputs lie on the ellipsoid mean((out/g)²) = 1 (0 where g = 0). With x scaled
    to mean(x²) = 1 the problem is min ‖g ⊙ x − p‖² subject to ‖x‖² = d, whose solution is
    x_i = g_i p_i / (g_i² + μ) for the multiplier μ that meets the constraint (μ ≥ 0 where some
    gain is (nearly) 0, else μ > −min g²; found by bisection, in float64). Where the target is reachable
    (it lies on the ellipsoid) this is exactly x = p / g; where it is not, coordinates with a
    small gain are shrunk instead of divided by that gain. Coordinates with g = 0 keep m's
    direction and take what is left of ‖x‖² = d. The result is x scaled by the c > 0 nearest to
    m (c = x·m / x·x), which leaves the normed output unchanged.
    """
    dtype = m.dtype
    g, m, p = gain.double(), m.double(), target.double()
    d = g.numel()
    dead = g.abs() <= 1e-6 * g.abs().max()  # coordinates the norm sends to (nearly) zero
    live = ~dead
    g2 = g * g
    out = torch.empty_like(m)
    has_dead = bool(dead.any())
    for i in range(m.shape[0]):
        gp = torch.where(live, g * p[i], torch.zeros_like(g))
        mu = _ellipsoid_multiplier(gp[live], g2[live], d, has_dead)
        x = torch.where(live, gp / (g2 + mu), torch.zeros_like(g))
        rest = d - float(x.pow(2).sum())
        if has_dead and rest > 0:  # the dead coordinates take the rest of the norm, along m
            md = torch.where(dead, m[i], torch.zeros_like(m[i]))
            md = md if float(md.norm()) > 0 else dead.double()
            x = x + md / md.norm() * rest ** 0.5
        if float(x @ x) == 0.0:  # nothing reachable to aim at: keep m
            out[i] = m[i]
            continue
        c = float(x @ m[i]) / float(x @ x)
        out[i] = x * (c if c > 0 else float(m[i].pow(2).mean().sqrt()))
    return out.to(dtype)


@torch.no_grad()
def through_output_norm(lm, layer: int, requests: Sequence[EditRequest], token: str, R: torch.Tensor) -> torch.Tensor:
    """The change of the edited module's output that moves the residual stream by ``R`` [n, d]
    where the MLP output passes a norm before the residual (Gemma's ``post_feedforward_layernorm``,
    ``spec.mlp_out_norm``); ``R`` itself where it does not.

    With m the module's output at the chosen token of each un-prefixed prompt and y = norm(m),
    the new output m' is the input whose normed output is the reachable point nearest to y + R
    (:func:`nearest_normed_input`, with the norm's gain g = norm of a vector of ones): y + R
    itself where it lies on the norm's ellipsoid, else its least-squares projection there.
    Returns m' − m.
    """
    spec = lm.spec
    if not spec.mlp_out_norm:
        return R
    m = _outputs_at_token(lm, lm.layer_name("edit", layer), requests, token)
    norm = lm.model.get_submodule(f"{spec.layers}.{layer}.{spec.mlp_out_norm}")
    y = norm(m.to(lm.dtype)).float()
    gain = norm(torch.ones(1, m.shape[1], dtype=lm.dtype, device=m.device)).float()[0]
    target = nearest_normed_input(gain.cpu(), m.cpu(), (y + R.float()).cpu()).to(m.device)
    return target.float() - m


def memit_update(K: torch.Tensor, R: torch.Tensor, C: torch.Tensor, lam: float) -> torch.Tensor:
    """ΔW [out, in] = R Kᵀ (λC + KKᵀ)⁻¹ in float64, for keys K [n, in] and residuals R [n, out]
    (rows are requests), by a linear solve, never an explicit inverse."""
    K, R, C = K.double(), R.double(), C.double()
    A = lam * C + K.T @ K
    try:
        adj = torch.linalg.solve(A, K.T)  # [in, n]
    except RuntimeError as err:
        raise MEMITError(f"λ·C + K Kᵀ is singular ({err}); use more statistics tokens or a larger "
                         "mom2_update_weight") from err
    return _finite(R.T @ adj.T, "the MEMIT update (λ·C + K Kᵀ is ill-conditioned)")


def null_space_projector(C: torch.Tensor, threshold: float) -> torch.Tensor:
    """P = U_s U_sᵀ over the left singular vectors of C whose singular value is below
    ``threshold`` (official ``get_project``: float32 SVD on the CPU). Symmetric, idempotent,
    and P k = 0 for every k in the span of the singular vectors above the threshold."""
    U, S, _ = torch.linalg.svd(_finite(C, "the key statistics C").float().cpu(), full_matrices=False)
    small = U[:, S < threshold]
    return small @ small.T


def alphaedit_update(K: torch.Tensor, R: torch.Tensor, P: torch.Tensor, kkt_prev: torch.Tensor,
                     l2: float) -> torch.Tensor:
    """ΔW [out, in] with ΔWᵀ = solve(P (KᵀK + C_prev) + L2·I, P Kᵀ R) in float32 (official
    ``apply_AlphaEdit_to_model``; K [n, in], R [n, out], rows are requests)."""
    K, R, P, prev = K.float(), R.float(), P.float(), kkt_prev.float()
    eye = torch.eye(K.shape[1], dtype=torch.float32, device=K.device)
    try:
        upd = torch.linalg.solve(P @ (K.T @ K + prev) + l2 * eye, P @ K.T @ R)  # [in, out]
    except RuntimeError as err:
        raise MEMITError(f"P (K Kᵀ + C_prev) + L2·I is singular ({err}); use a larger L2") from err
    return _finite(upd.T, "the AlphaEdit update")


# -- the editors ----------------------------------------------------------------------------

@dataclass
class MEMITEditor:
    """The MEMIT editor (Editor protocol of :mod:`rome.editing.base`); ``apply(lm, requests)``
    is one joint update of the batch (``batch_native``). Stateless across batches: a
    sequential caller applies batch after batch on the edited model.

    ``stats_provider(lm, layer)`` returns C = E[k kᵀ] of ``layer`` (computed for every edited
    layer in one pass when it is a :class:`rome.editing.statistics.StatsProvider`).
    """

    hparams: MEMITHparams
    stats_provider: StatsFn
    templates_dir: str | os.PathLike | None = None
    name: str = "memit"
    batch_native: ClassVar[bool] = True
    hparams_class: ClassVar[type[MEMITHparams]] = MEMITHparams

    def __post_init__(self) -> None:
        self.hparams = self.hparams_class.coerce(self.hparams)
        prefetch = getattr(self.stats_provider, "prefetch_layers", None)
        if isinstance(prefetch, list):  # one pass over the corpus serves every edited layer
            prefetch.extend(l for l in self.hparams.layers if l not in prefetch)

    # -- state (none for MEMIT; AlphaEdit overrides)
    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            raise ValueError(f"{self.name} keeps no state, got keys {sorted(state)}")

    def reset_state(self) -> None:
        pass

    def use_statistics(self, stats_provider: StatsFn) -> None:
        """Take C from ``stats_provider`` from now on (forgets what was derived from the old C)."""
        self.stats_provider = stats_provider

    # -- templates
    def _template_settings(self) -> tuple[list, int, int, Any, str]:
        hp = self.hparams
        return hp.context_templates, hp.context_top_k, hp.context_seed, self.templates_dir, hp.context_template_mode

    def templates(self, lm) -> list[str]:
        return context_templates(lm, *self._template_settings(), starts=self.hparams.context_starts)

    def templates_path(self, lm):
        """The cached templates file (an input of every result; its checksum goes in cache keys)."""
        self.templates(lm)
        return templates_file(lm, *self._template_settings(), starts=self.hparams.context_starts)

    def groups(self) -> list[int]:
        return template_groups(self.hparams.context_templates, self.hparams.context_starts)

    def keys(self, lm, layer: int, requests: Sequence[EditRequest], templates: Sequence[str]) -> torch.Tensor:
        return batch_keys(lm, layer, requests, templates, self.groups(), self.hparams.token, self.hparams.key_average)

    # -- the update
    def compute_z(self, lm, requests: Sequence[EditRequest], templates: Sequence[str]):
        """z* of every request at the last edited layer's block output (batched optimisations of
        at most :data:`Z_GROUP` requests each)."""
        hp = self.hparams
        requests = list(requests)
        vres = []
        for start in range(0, len(requests), Z_GROUP):
            vres += optimise_values(lm, hp.layers[-1], requests[start:start + Z_GROUP], templates, hp, site="block")
        for i, (r, v) in enumerate(zip(requests, vres)):
            if not torch.isfinite(v.v_star).all():
                raise MEMITError(f"{_name(r, i)}: z* has non-finite values")
        return vres

    def layer_update(self, lm, j: int, layer: int, K: torch.Tensor, R: torch.Tensor) -> torch.Tensor:
        """ΔW [out, in] of layer ``layer`` (the j-th edited, from 0)."""
        C = _finite(self.stats_provider(lm, layer), f"the key statistics C of layer {layer}")
        return memit_update(K, R, C, self.hparams.mom2_update_weight)

    def after_batch(self, lm, requests: Sequence[EditRequest], templates: Sequence[str]) -> Any:
        """Hook after a batch is written (AlphaEdit accumulates its keys); returns an undo."""
        return None

    def write(self, lm, requests: Sequence[EditRequest], templates: Sequence[str], Z: torch.Tensor) -> list[float]:
        """Write the targets ``Z`` [n, d] into the edited layers in place, layer after layer on
        the model as edited so far; the mean ‖z* − h‖ before each layer and after the last.
        (The caller snapshots the weights: :meth:`apply` does, inside all-or-nothing.)"""
        hp = self.hparams
        z_error = []
        for j, layer in enumerate(hp.layers):
            K = self.keys(lm, layer, requests, templates)
            H = block_states(lm, hp.layers[-1], requests, hp.token)
            R = (Z - H) / (len(hp.layers) - j)  # the rest spread over the layers still to edit
            if hp.mlp_out_norm == "invert":  # Gemma: the module's output passes a norm first
                R = through_output_norm(lm, layer, requests, hp.token, R)
            z_error.append(float((Z - H).norm(dim=1).mean()))
            delta_w = self.layer_update(lm, j, layer, K, R)
            weight = lm.spec.edit_weight(lm.model, layer)
            with torch.no_grad():
                lm.spec.as_out_in(weight).add_(delta_w.to(weight.dtype))
        z_error.append(float((Z - block_states(lm, hp.layers[-1], requests, hp.token)).norm(dim=1).mean()))
        return z_error

    @all_or_nothing
    def apply(self, lm, requests: list[EditRequest]) -> EditResult:
        """Edit ``lm.model`` in place with one update for the whole batch; restorable bit for bit."""
        hp = self.hparams
        t0 = time.time()
        from ..model.architectures import check_layers

        check_layers(hp.layers, lm.n_layers, f"{self.name} layers", str(lm.name))
        for r in requests:
            check_request(lm, r)
        check_batch(lm, requests, hp.token)
        templates = self.templates(lm)
        names = [lm.spec.edit_weight_name(l) for l in hp.layers]
        result = begin_edit(lm.model, names, self.name)
        vres = self.compute_z(lm, requests, templates)
        Z = torch.stack([v.v_star for v in vres])
        t_z = time.time() - t0
        z_error = self.write(lm, requests, templates, Z)
        undo = self.after_batch(lm, requests, templates)
        result.undo = undo
        deltas = result.deltas(lm.model)
        result.info = dict(
            layers=list(hp.layers), weights=names,
            z_error=z_error,  # mean ‖z* − h‖ before each layer's update and after the last
            delta_w_norm={n: float(deltas[n].norm()) for n in names},
            seconds=round(time.time() - t0, 3), z_seconds=round(t_z, 3),
            requests=[dict(case_id=r.case_id, subject=r.subject, target_new=r.target_new, loss=v.losses, nll=v.nll,
                           steps=len(v.losses), delta_norm=float(v.delta.norm()), z_init_norm=float(v.v_init.norm()))
                      for r, v in zip(requests, vres)],
        )
        return result


@dataclass
class AlphaEditEditor(MEMITEditor):
    """The AlphaEdit editor: MEMIT's z* and keys, the update projected on C's null space.

    State across batches (official ``cache_c``): for each edited layer, C_prev = Σ K Kᵀ over
    the keys of every earlier batch (recomputed on the model after that batch was written).
    A sequential caller applies batch after batch without restoring; ``result.restore`` of a
    batch also takes its keys back out of C_prev (``EditResult.undo``).

    Checkpointing: ``state_dict()`` returns ``{"method": "alphaedit", "layers": [...],
    "n_edits": int, "kkt": {str(layer): float32 CPU tensor [d_in, d_in]}}`` (``torch.save``
    writes it); ``load_state_dict(state)`` puts it back exactly (after checking method and
    layers); ``reset_state()`` forgets every earlier edit. The projectors P are not state:
    they depend only on C and are cached per layer.
    """

    hparams: AlphaEditHparams  # type: ignore[assignment]
    name: str = "alphaedit"
    hparams_class: ClassVar[type[MEMITHparams]] = AlphaEditHparams
    kkt: dict[int, torch.Tensor] = field(default_factory=dict, repr=False)
    n_edits: int = 0
    _projectors: dict[int, torch.Tensor] = field(default_factory=dict, repr=False)

    def use_statistics(self, stats_provider: StatsFn) -> None:
        super().use_statistics(stats_provider)
        self._projectors.clear()

    def projector(self, lm, layer: int) -> torch.Tensor:
        if layer not in self._projectors:
            C = self.stats_provider(lm, layer)
            self._projectors[layer] = null_space_projector(C, self.hparams.nullspace_threshold)
        return self._projectors[layer]

    def layer_update(self, lm, j: int, layer: int, K: torch.Tensor, R: torch.Tensor) -> torch.Tensor:
        P = self.projector(lm, layer).to(K.device)
        d_in = K.shape[1]
        prev = self.kkt.get(layer, torch.zeros(d_in, d_in)).to(K.device)
        return alphaedit_update(K, R, P, prev, self.hparams.L2)

    def after_batch(self, lm, requests: Sequence[EditRequest], templates: Sequence[str]):
        before = self.state_dict()
        updated = dict(self.kkt)
        for layer in self.hparams.layers:  # the keys on the model with this batch written
            K = self.keys(lm, layer, requests, templates).float().cpu()
            updated[layer] = updated.get(layer, torch.zeros(K.shape[1], K.shape[1])) + K.T @ K
        self.kkt, self.n_edits = updated, self.n_edits + len(requests)  # all at once: a failure above changes nothing
        return lambda: self.load_state_dict(before)

    def state_dict(self) -> dict[str, Any]:
        return {"method": self.name, "layers": list(self.hparams.layers), "n_edits": int(self.n_edits),
                "kkt": {str(l): t.clone() for l, t in sorted(self.kkt.items())}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("method") != self.name or list(state.get("layers", [])) != list(self.hparams.layers):
            raise ValueError(f"AlphaEdit state for method {state.get('method')!r}, layers {state.get('layers')!r} "
                             f"does not fit this editor (layers {list(self.hparams.layers)})")
        self.kkt = {int(l): t.clone().float().cpu() for l, t in state["kkt"].items()}
        self.n_edits = int(state["n_edits"])

    def reset_state(self) -> None:
        self.kkt, self.n_edits = {}, 0
