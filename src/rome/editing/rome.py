"""ROME: Rank-One Model Editing (paper section 3.1).

For a request (subject s, prompt p, new object o*) at layer l and token position t:

1. context templates ``"{}"`` + sampled ``"<text>. {}"`` (:mod:`.context_templates`;
   ``context_template_mode`` official or new_tokens);
2. ``k*`` = mean over templates of the key (input of the edited projection) at t;
3. ``u = C⁻¹ k*`` (``torch.linalg.solve``, never an explicit inverse), normalised;
4. ``v*`` = v_init + δ, δ optimised (Adam) as an addition to the edited module's output at
   t of every templated prompt, to minimise mean NLL(o*) + kl_factor·D_KL(P_edited ‖ P_orig)
   at the subject's last token of ``"{} is a"`` + weight_decay·‖δ‖/‖v_init‖², clamped to
   ‖δ‖ ≤ clamp·‖v_init‖. The KL direction is the paper's Eq. 4 and the official
   ``compute_v.py`` (``kl_div(input=log P_orig, target=log P_edited, log_target=True,
   reduction="batchmean")``); ``kl_direction: original_edited`` gives the reverse,
   D_KL(P_orig ‖ P_edited), which this package used before (only to reproduce old numbers);
5. ``ΔW = (v* − W k₀) uᵀ / (u·k₀)`` in [out, in] layout (transposed for Conv1D), with k₀
   the key of the un-prefixed prompt (paper) or k* (``key_for_insert: mean``, r-ROME).

The edited module's output already includes its bias, so ``W k₀`` is computed by calling
the module on k₀. For Gemma the MLP output goes through ``post_feedforward_layernorm``
before the residual; δ is added at the edited module (``down_proj``) output, which is
exactly what ΔW changes.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch

from ..model.hooks import Trace, TraceDict, with_primary
from ..model.partial_forward import build_cache, capture_raw_output, left_padded_prefix_cache, replay_blocks
from ..model.queries import target_ids, target_probability
from ..model.teacher_forcing import right_pad
from ..model.tokens import Encoded, encode_with_subject
from ..model.vocab_projection import final_hidden, head_logits
from .base import EditRequest, EditRequestError, EditResult, all_or_nothing, begin_edit
from .context_templates import context_templates, templates_file
from .hparams import ROMEHparams

TOKEN_CHOICES = ("first_subject", "last_subject", "first_subsequent", "last")

StatsFn = Callable[[object, int], torch.Tensor]


class ROMEError(RuntimeError):
    """ROME could not compute an edit (e.g. a singular statistics matrix)."""


def token_position(enc: Encoded, token: str, n_prompt: int | None = None) -> int:
    """Position of the chosen token in an encoded prompt (``n_prompt``: prompt length,
    when target tokens follow it)."""
    n = len(enc) if n_prompt is None else n_prompt
    if token == "last_subject":
        return enc.last_subject
    if token == "first_subject":
        return enc.subject_start
    if token == "first_subsequent":
        if enc.subject_end >= n:
            raise EditRequestError(f"prompt {enc.text!r} has no token after the subject")
        return enc.subject_end
    if token == "last":
        return n - 1
    raise ValueError(f"unknown token choice {token!r}; expected one of {TOKEN_CHOICES}")


def template_prefix(template: str) -> str:
    if not template.endswith("{}") or template.count("{}") != 1:
        raise ValueError(f"context template must end with '{{}}': {template!r}")
    return template[:-2]


def check_request(lm, request: EditRequest) -> None:
    """Clear errors for requests ROME cannot carry out."""
    if not request.target_new.strip():
        raise EditRequestError(f"edit request (case {request.case_id}): field 'target_new' is empty")
    # raises SubjectNotFoundError when the subject has no tokens in the prompt
    encode_with_subject(lm.tokenizer, request.prompt, request.subject)


# -- keys ----------------------------------------------------------------------------------

@torch.no_grad()
def keys_at(lm, layer: int, texts: Sequence[tuple[str, str, str]], token: str) -> torch.Tensor:
    """Keys [n, d] at the chosen token of each ``(prefix, prompt, subject)``."""
    encs = [encode_with_subject(lm.tokenizer, p, s, prefix=pre) for pre, p, s in texts]
    pos = [token_position(e, token) for e in encs]
    ids, mask = right_pad([e.input_ids for e in encs], lm.tokenizer.pad_token_id or 0, lm.device)
    name = lm.layer_name("edit", layer)
    with Trace(lm.model, name, retain_output=False, retain_input=True, stop=True) as tr:
        lm.model(input_ids=ids, attention_mask=mask, use_cache=False)
    assert tr.input is not None  # the traced module ran (retain_input)
    return tr.input[torch.arange(len(encs)), pos].float()


def solve_u(C: torch.Tensor, k_star: torch.Tensor) -> torch.Tensor:
    """u = C⁻¹ k* by a linear solve in float64, normalised to unit length."""
    try:
        u = torch.linalg.solve(C.double(), k_star.double())
    except RuntimeError as err:
        raise ROMEError(f"the key statistics matrix is singular ({err}); use more statistics tokens") from err
    if not torch.isfinite(u).all():
        raise ROMEError("solving C u = k* gave non-finite values; the statistics are ill-conditioned")
    return (u / u.norm()).float()


# -- v* ------------------------------------------------------------------------------------

@dataclass
class VResult:
    v_star: torch.Tensor
    v_init: torch.Tensor
    delta: torch.Tensor
    losses: list[float]
    nll: list[float]


@dataclass
class VRows:
    """The batch of v*'s objective: templated rewrite prompts + target, then KL prompts."""

    seqs: list[list[int]]
    lookup: list[int]              # per row: position where δ is added
    label_rows: list[int]          # per target token: its row ...
    label_cols: list[int]          # ... and the position whose logits predict it
    labels: list[int]
    n_rewrite: int
    n_target: int
    kl_rows: list[int]
    kl_cols: list[int]             # KL measured at the subject's last token


def v_rows(lm, request: EditRequest, templates: Sequence[str], token: str, kl_prompts: Sequence[str]) -> VRows:
    tok = lm.tokenizer
    tgt = target_ids(tok, request.target_new)
    seqs, lookup, rows, cols = [], [], [], []
    for r, t in enumerate(templates):
        enc = encode_with_subject(tok, request.prompt, request.subject, prefix=template_prefix(t))
        n = len(enc)
        seqs.append(enc.input_ids + tgt[:-1])
        lookup.append(token_position(enc, token))
        rows += [r] * len(tgt)
        cols += [n - 1 + j for j in range(len(tgt))]
    n_rewrite = len(seqs)
    kl_rows, kl_cols = [], []
    for kp in kl_prompts:
        enc = encode_with_subject(tok, kp, request.subject)
        kl_rows.append(len(seqs))
        kl_cols.append(enc.last_subject)
        seqs.append(enc.input_ids)
        lookup.append(token_position(enc, token))
    return VRows(seqs, lookup, rows, cols, tgt * n_rewrite, n_rewrite, len(tgt), kl_rows, kl_cols)


@dataclass
class RowsPart:
    """Where one request's rows, labels and KL rows lie in a batch's :class:`VRows`."""

    first_row: int     # its row of template "{}" (v_init is read there)
    label_start: int
    n_rewrite: int
    n_target: int
    n_kl: int


def v_rows_batch(lm, requests: Sequence[EditRequest], templates: Sequence[str], token: str,
                 kl_prompts: Sequence[str]) -> tuple[VRows, list[RowsPart], list[int]]:
    """The rows of several requests' objectives in one batch: each request's :func:`v_rows`
    one after the other (so one request gives exactly :func:`v_rows`), with where each
    request's part lies and the request of every row."""
    merged = VRows([], [], [], [], [], 0, 0, [], [])
    parts: list[RowsPart] = []
    row_request: list[int] = []
    for i, r in enumerate(requests):
        one = v_rows(lm, r, templates, token, kl_prompts)
        off = len(merged.seqs)
        parts.append(RowsPart(off, len(merged.labels), one.n_rewrite, one.n_target, len(one.kl_rows)))
        merged.seqs += one.seqs
        merged.lookup += one.lookup
        merged.label_rows += [off + x for x in one.label_rows]
        merged.label_cols += one.label_cols
        merged.labels += one.labels
        merged.kl_rows += [off + x for x in one.kl_rows]
        merged.kl_cols += one.kl_cols
        row_request += [i] * len(one.seqs)
    merged.n_rewrite = sum(p.n_rewrite for p in parts)
    merged.n_target = parts[0].n_target if len(parts) == 1 else 0  # per request: see parts
    return merged, parts, row_request


EditAt = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (module output, position per row) -> output


class FullPass:
    """v*'s forward pass over every position and layer (the plain way)."""

    def __init__(self, lm, layer: int, rows: VRows, site: str = "edit"):
        self.lm, self.name = lm, lm.layer_name(site, layer)
        self.kl_row_ids = list(rows.kl_rows)  # the row of each returned KL state
        self.ids, self.mask = right_pad(rows.seqs, lm.tokenizer.pad_token_id or 0, lm.device)
        dev = lm.device
        self.look = torch.tensor(rows.lookup, device=dev)
        self.lab = (torch.tensor(rows.label_rows, device=dev), torch.tensor(rows.label_cols, device=dev))
        self.kl = (torch.tensor(rows.kl_rows, device=dev), torch.tensor(rows.kl_cols, device=dev))

    def __call__(self, edit_at: EditAt) -> tuple[torch.Tensor, torch.Tensor]:
        """Final-normed states at the label positions and at the KL positions."""
        with Trace(self.lm.model, self.name, retain_output=False, edit_output=lambda out, _n: edit_at(out, self.look)):
            h = final_hidden(self.lm, self.ids, self.mask)
        return h[self.lab], h[self.kl]


class SuffixPass:
    """The same pass computing only what δ can change: positions from each row's edited
    token on (earlier ones come from a key/value cache) and layers from the edited one on
    (lower blocks replay their outputs). Equal to :class:`FullPass` up to float rounding;
    ``ok`` is False where the model keeps no usable cache (then use :class:`FullPass`)."""

    def __init__(self, lm, layer: int, rows: VRows, site: str = "edit"):
        model, dev, spec = lm.model, lm.device, lm.spec
        self.lm, self.name, self.ok = lm, lm.layer_name(site, layer), False
        look = rows.lookup
        prefix = left_padded_prefix_cache(model, [s[:p] for s, p in zip(rows.seqs, look)], dev)
        if prefix is None:
            return
        self.prefix_layers, prefix_mask = prefix
        suffixes = [s[p:] for s, p in zip(rows.seqs, look)]
        self.ids, suffix_mask = right_pad(suffixes, lm.tokenizer.pad_token_id or 0, dev)
        self.mask = torch.cat([prefix_mask, suffix_mask], dim=1)
        self.positions = torch.tensor(look, device=dev)[:, None] + torch.arange(self.ids.shape[1], device=dev)[None]
        self.zero = torch.zeros(len(look), dtype=torch.long, device=dev)
        self.lab = (torch.tensor(rows.label_rows, device=dev),
                    torch.tensor([c - look[r] for r, c in zip(rows.label_rows, rows.label_cols)], device=dev))
        # a KL position before the edited token cannot change: its KL term is exactly 0
        kept = [(r, c - look[r]) for r, c in zip(rows.kl_rows, rows.kl_cols) if c >= look[r]]
        self.kl_row_ids = [r for r, _ in kept]
        self.kl = (torch.tensor([r for r, _ in kept], dtype=torch.long, device=dev),
                   torch.tensor([c for _, c in kept], dtype=torch.long, device=dev))
        self.replay = {}
        if layer > 0:
            blocks = [spec.layer_name("block", k) for k in range(layer)]
            with torch.no_grad(), TraceDict(model, blocks, retain_output=True, detach=True) as td, \
                    capture_raw_output(spec.module(model, "block", 0)) as raw, \
                    Trace(model, spec.layer_name("block", layer - 1), stop=True):
                model(**self._inputs())
            for k, name in enumerate(blocks):
                cached = td[name].output
                self.replay[spec.module(model, "block", k)] = (
                    lambda *a, _c=cached, _t=raw["output"], **kw: with_primary(_t, _c))
        self.ok = True

    def _inputs(self) -> dict:
        cache = build_cache(self.lm.model.config, self.prefix_layers) if self.prefix_layers else None
        return dict(input_ids=self.ids, attention_mask=self.mask, position_ids=self.positions,
                    cache=cache, use_cache=cache is not None)

    def __call__(self, edit_at: EditAt) -> tuple[torch.Tensor, torch.Tensor]:
        model, spec = self.lm.model, self.lm.spec
        with replay_blocks(self.replay), \
                Trace(model, self.name, retain_output=False, edit_output=lambda out, _n: edit_at(out, self.zero)), \
                Trace(model, spec.final_norm, stop=True) as fin:
            model(**self._inputs())
        h = fin.output
        assert h is not None  # the final norm ran (the pass stops there)
        return h[self.lab], h[self.kl]


KL_DIRECTIONS = ("edited_original", "original_edited")


def kl_term(logp_edited: torch.Tensor, logp_orig: torch.Tensor, n_prompts: int,
            direction: str = "edited_original") -> torch.Tensor:
    """ROME's KL penalty over the KL prompts, averaged over ``n_prompts`` ("batchmean").

    ``edited_original`` (default): Σ_prompts D_KL(P_edited ‖ P_orig) / n, with
    D_KL(P ‖ Q) = Σ_x P(x) (log P(x) − log Q(x)) (paper Eq. 4, official ``compute_v.py``).
    ``original_edited``: the reverse, D_KL(P_orig ‖ P_edited). Rows are log-probabilities
    over the vocabulary; ``n_prompts`` may exceed the rows given (rows whose KL cannot
    change are left out and count as 0).
    """
    if direction == "edited_original":
        inp, tgt = logp_orig, logp_edited
    elif direction == "original_edited":
        inp, tgt = logp_edited, logp_orig
    else:
        raise ValueError(f"kl_direction must be one of {KL_DIRECTIONS}, got {direction!r}")
    # torch's kl_div(input, target, log_target=True) = Σ exp(target)·(target − input)
    return torch.nn.functional.kl_div(inp, tgt, log_target=True, reduction="sum") / max(int(n_prompts), 1)


def optimise_v(lm, layer: int, request: EditRequest, templates: Sequence[str], hp: ROMEHparams) -> VResult:
    """v* = v_init + δ by gradient descent on δ (paper Eq. 4); one request of
    :func:`optimise_values` at the edited module's output."""
    return optimise_values(lm, layer, [request], templates, hp)[0]


def optimise_values(lm, layer: int, requests: Sequence[EditRequest], templates: Sequence[str], hp,
                    site: str = "edit") -> list[VResult]:
    """The value optimisation shared by ROME's v* and MEMIT's z*, for a batch of requests.

    δ_i is added at ``site`` of ``layer`` (``"edit"``: the edited module's output, ROME's v*,
    official ``rome/compute_v.py``; ``"block"``: the block output, i.e. the residual stream,
    MEMIT's z*, official ``memit/compute_z.py`` with ``layer_module_tmp``) at the chosen
    token of request i's rows. Each request has its own objective (NLL + KL + weight decay,
    clamp, stop rule, as in the official per-request loop); the batch shares the forward
    passes only. The gradient of Σ_i loss_i with respect to δ_i is that of loss_i, and Adam
    works element by element, so each δ_i follows the same path as alone (up to the float
    rounding of a padded batch); a request whose loss falls below ``v_loss_stop`` keeps its δ
    from then on, as the official loop's ``break``. ``hp`` needs the fields ``token``,
    ``kl_prompts``, ``v_lr``, ``v_steps``, ``v_loss_stop``, ``kl_factor``, ``kl_direction``,
    ``v_weight_decay``, ``clamp_norm_factor`` and ``v_suffix_pass``
    (:class:`SuffixPass` when true, else :class:`FullPass`).
    """
    dev = lm.device
    if hp.kl_direction not in KL_DIRECTIONS:
        raise ValueError(f"kl_direction must be one of {KL_DIRECTIONS}, got {hp.kl_direction!r}")
    requests = list(requests)
    n = len(requests)
    rows, parts, row_request = v_rows_batch(lm, requests, templates, hp.token, hp.kl_prompts)
    suffix = SuffixPass(lm, layer, rows, site) if hp.v_suffix_pass else None
    run: SuffixPass | FullPass = suffix if suffix is not None and suffix.ok else FullPass(lm, layer, rows, site)
    all_rows = torch.arange(len(rows.seqs), device=dev)
    labels = torch.tensor(rows.labels, device=dev)
    n_labels = len(rows.labels)
    # each request's slice of the returned KL states (its rows are consecutive)
    kl_req = [row_request[r] for r in run.kl_row_ids]
    kl_slices = [(kl_req.index(i), len(kl_req) - kl_req[::-1].index(i)) if i in kl_req else (0, 0) for i in range(n)]
    dim = lm.spec.value_dim(lm.model, layer) if site == "edit" else int(lm.model.config.hidden_size)
    delta = torch.zeros(n, dim, device=dev, dtype=torch.float32, requires_grad=True)
    row_req = torch.tensor(row_request, device=dev)
    first_rows = [p.first_row for p in parts]
    state: dict[str, list[torch.Tensor]] = {}

    def add_delta(out: torch.Tensor, look: torch.Tensor) -> torch.Tensor:
        if "v_init" not in state:  # each request's template "{}"
            state["v_init"] = [out[r, look[r]].detach().float().clone() for r in first_rows]
        out = out.clone()
        d = delta[0] if n == 1 else delta[row_req]
        out[all_rows, look] = out[all_rows, look] + d.to(out.dtype)
        return out

    opt = torch.optim.Adam([delta], lr=hp.v_lr)
    losses: list[list[float]] = [[] for _ in range(n)]
    nlls: list[list[float]] = [[] for _ in range(n)]
    active = [True] * n
    kl_init = None
    for step in range(hp.v_steps):
        opt.zero_grad()
        h_lab, h_kl = run(add_delta)
        # one vocabulary projection per step (for a small model it costs more than the body)
        logp = torch.log_softmax(head_logits(lm, torch.cat([h_lab, h_kl])), dim=-1)
        token_lp_all = logp[torch.arange(n_labels, device=dev), labels]
        kl_logp = logp[n_labels:]
        if kl_init is None:
            kl_init = kl_logp.detach().clone()
        still: list[int] = []
        step_losses = {}
        for i, part in enumerate(parts):
            if not active[i]:
                continue
            token_lp = token_lp_all[part.label_start:part.label_start + part.n_rewrite * part.n_target]
            nll = -token_lp.view(part.n_rewrite, part.n_target).mean(dim=1).mean()
            a, b = kl_slices[i]
            # "batchmean" over every KL prompt (rows whose KL cannot change contribute 0)
            kl = kl_term(kl_logp[a:b], kl_init[a:b], part.n_kl, hp.kl_direction)
            v_norm = state["v_init"][i].norm()
            wd = hp.v_weight_decay * (delta[i].norm() / v_norm ** 2)
            loss = nll + hp.kl_factor * kl + wd
            loss_value = float(loss.detach())
            losses[i].append(loss_value)
            nlls[i].append(float(nll.detach()))
            if loss_value < hp.v_loss_stop:
                active[i] = False  # keeps its δ (the official loop's break)
            else:
                still.append(i)
                step_losses[i] = loss
        if not still or step == hp.v_steps - 1:
            break
        total = step_losses[still[0]] if len(still) == 1 else torch.stack([step_losses[i] for i in still]).sum()
        total.backward()
        kept = delta.detach().clone() if len(still) < n else None
        opt.step()
        with torch.no_grad():
            if kept is not None:  # requests that stopped keep their δ (Adam's momentum would move it)
                done = torch.tensor([i not in step_losses for i in range(n)], device=dev)
                delta[done] = kept[done]
            for i in still:
                max_norm = hp.clamp_norm_factor * state["v_init"][i].norm()
                if delta[i].norm() > max_norm:
                    delta[i].mul_(max_norm / delta[i].norm())
    d = delta.detach().clone()
    return [VResult(state["v_init"][i] + d[i], state["v_init"][i], d[i], losses[i], nlls[i]) for i in range(n)]


# -- the rank-one insert --------------------------------------------------------------------

def rank_one_update(u: torch.Tensor, k0: torch.Tensor, v_star: torch.Tensor, v0: torch.Tensor) -> torch.Tensor:
    """ΔW in [out, in] layout: ``(v* − v₀) uᵀ / (u·k₀)`` so that ``(W+ΔW) k₀ = v*``."""
    denom = torch.dot(u.double(), k0.double())
    if denom.abs() < 1e-12:
        raise ROMEError("u · k0 is zero: the insert is undefined for this key")
    return (torch.outer((v_star - v0).double(), u.double()) / denom)


@dataclass
class PreparedEdit:
    """The C-independent part of one edit (see :meth:`ROMEEditor.prepare`)."""

    layer: int
    token: str
    keys: torch.Tensor  # [n_templates, d_in]; row 0 is the un-prefixed prompt
    v: VResult


@dataclass
class ROMEEditor:
    """The ROME editor (Editor protocol of :mod:`rome.editing.base`).

    ``stats_provider(lm, layer)`` returns C = E[k kᵀ] as a tensor (see
    :class:`rome.editing.statistics.StatsProvider`, which computes or loads it).
    """

    hparams: ROMEHparams
    stats_provider: StatsFn
    templates_dir: str | os.PathLike | None = None
    name: str = "rome"
    #: ``apply`` edits a batch one request after the other (base.apply_batch)
    batch_native: ClassVar[bool] = False

    def __post_init__(self) -> None:
        self.hparams = ROMEHparams.coerce(self.hparams)

    def state_dict(self) -> dict:
        """ROME keeps no state across edits (the batch API's checkpoint hook; see AlphaEdit's)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        if state:
            raise ValueError(f"{self.name} keeps no state, got keys {sorted(state)}")

    def reset_state(self) -> None:
        pass

    def _template_settings(self) -> tuple:
        hp = self.hparams
        return hp.context_templates, hp.context_top_k, hp.context_seed, self.templates_dir, hp.context_template_mode

    def templates(self, lm) -> list[str]:
        return context_templates(lm, *self._template_settings())

    def templates_path(self, lm) -> Path:
        """The cached templates file this editor uses (sampled now if missing): an input of
        every result it makes, so its checksum belongs in their cache keys."""
        self.templates(lm)
        return templates_file(lm, *self._template_settings())

    def prepare(self, lm, request: EditRequest, layer: int | None = None) -> PreparedEdit:
        """Everything of an edit that does not depend on the statistics C: the keys of the
        templated prompts and v* (the optimisation of δ never sees C)."""
        hp = self.hparams
        layer = hp.layer if layer is None else int(layer)
        token = hp.token
        check_request(lm, request)
        templates = self.templates(lm)
        keys = keys_at(lm, layer, [(template_prefix(t), request.prompt, request.subject) for t in templates], token)
        vres = optimise_v(lm, layer, request, templates, hp)
        return PreparedEdit(layer, token, keys, vres)

    def insert(self, lm, prepared: PreparedEdit, C: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """ΔW ([out, in]) from a prepared edit and the key statistics C, and details."""
        layer, keys, vres = prepared.layer, prepared.keys, prepared.v
        k_star = keys.mean(dim=0)
        u = solve_u(C, k_star)
        mode = self.hparams.key_for_insert
        if mode == "prompt":
            k0 = keys[0]  # templates[0] == "{}": the un-prefixed prompt
        elif mode == "mean":
            k0 = k_star
        else:
            raise ValueError(f"key_for_insert must be 'prompt' or 'mean', got {mode!r}")
        module = lm.module("edit", layer)
        with torch.no_grad():
            v0 = module(k0.to(lm.dtype)[None])[0].float()
        delta_w = rank_one_update(u, k0, vres.v_star, v0)
        info = dict(
            layer=layer, token=prepared.token, key_for_insert=mode, n_templates=len(keys),
            loss=vres.losses, nll=vres.nll, steps=len(vres.losses),
            delta_norm=float(vres.delta.norm()), v_init_norm=float(vres.v_init.norm()),
            u_dot_k0=float(torch.dot(u, k0)),
        )
        return delta_w, info

    def compute_update(self, lm, request: EditRequest, layer: int | None = None) -> tuple[torch.Tensor, dict]:
        """ΔW ([out, in]) for one request against the model's current weights, and details."""
        prepared = self.prepare(lm, request, layer)
        return self.insert(lm, prepared, self.stats_provider(lm, prepared.layer))

    @all_or_nothing
    def apply(self, lm, requests: list[EditRequest]) -> EditResult:
        """Edit ``lm.model`` in place, one request after the other; restorable bit for bit.
        (:func:`~rome.editing.base.all_or_nothing` also takes one request alone.)"""
        for r in requests:
            check_request(lm, r)
        layer = self.hparams.layer
        wname = lm.spec.edit_weight_name(layer)
        result = begin_edit(lm.model, [wname], self.name)
        per_request = []
        try:
            for r in requests:
                t0 = time.time()
                prompt_text = r.prompt.replace("{}", r.subject)
                p_before = target_probability(lm, prompt_text, r.target_new)
                delta_w, info = self.compute_update(lm, r, layer)
                weight = lm.spec.edit_weight(lm.model, layer)
                with torch.no_grad():
                    lm.spec.as_out_in(weight).add_(delta_w.to(weight.dtype))
                info.update(
                    case_id=r.case_id, subject=r.subject, target_new=r.target_new,
                    delta_w_norm=float(delta_w.norm()), rank=int(torch.linalg.matrix_rank(delta_w.float())),
                    p_new_before=p_before, p_new_after=target_probability(lm, prompt_text, r.target_new),
                    seconds=round(time.time() - t0, 3),
                )
                per_request.append(info)
        except BaseException:
            result.restore(lm.model)
            raise
        result.info = dict(layer=layer, weight=wname, requests=per_request,
                           delta_w_norm=float(result.deltas(lm.model)[wname].norm()))
        return result
