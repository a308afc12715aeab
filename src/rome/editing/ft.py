"""FT and FT+L: fine-tuning one layer's MLP output weight on the rewrite (paper section 3.2 and appendix).

* **FT** (unconstrained): Adam on the edited projection weight of one layer
  (``spec.edit_weight_name(layer)``) minimising the teacher-forced NLL of
  ``" " + target_new`` after the rewrite prompt, at most ``steps`` steps, stopping early
  once the loss is below ``early_stop_loss``.
* **FT+L**: the same with an L-infinity bound ``epsilon`` on the change of every tuned
  weight, enforced by projecting (clamping) after every optimiser step.

:class:`FineTuneEditor` is generic over *which* parameters it tunes, so AttnEdit
(:mod:`rome.editing.attn_edit`) is the same editor pointed at attention weights.

This module also holds the small differentiable scoring helpers every gradient-based
baseline here shares (:class:`TargetBatch`, :func:`target_nll`, :func:`last_token_logits`):
a forward pass that stops at the final norm and unembeds only the positions that predict
a target token (Gemma's vocabulary has 262k entries).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..model.architectures import ArchSpec, check_layers, get_parameter
from ..model.teacher_forcing import TargetBatch, pack_targets, pad_id  # noqa: F401 (TargetBatch re-exported)
from ..model.tokens import TargetTokenError, target_token_ids
from ..model.vocab_projection import final_hidden, head_logits
from .base import EditRequest, EditRequestError, EditResult, all_or_nothing, begin_edit
from .hparams import FTHparams, FTLHparams, HparamsError

# -- differentiable target scoring ------------------------------------------------------

def encode_prompt_ids(tokenizer, prompt: str) -> list[int]:
    """Token ids of a prompt with the tokenizer's own special tokens (Gemma's BOS)."""
    ids = list(tokenizer(prompt)["input_ids"])
    if not ids:
        raise EditRequestError(f"prompt {prompt!r} encodes to no tokens")
    return ids


def encode_target_ids(tokenizer, target: str) -> list[int]:
    """Token ids of ``" " + target`` (:func:`rome.model.tokens.target_token_ids`)."""
    try:
        return target_token_ids(tokenizer, target)
    except TargetTokenError as err:
        raise EditRequestError(str(err)) from None


def build_target_batch(lm, prompts: Sequence[str], targets: Sequence[str]) -> TargetBatch:
    """Teacher-forcing batch of ``prompt + " " + target`` pairs (last target token not input)."""
    if len(prompts) != len(targets):
        raise ValueError(f"{len(prompts)} prompts but {len(targets)} targets")
    if not prompts:
        raise ValueError("no prompts to build a batch from")
    tok = lm.tokenizer
    seqs = [(encode_prompt_ids(tok, p), encode_target_ids(tok, t)) for p, t in zip(prompts, targets)]
    return pack_targets(seqs, pad_id(tok)).to(lm.device)


def target_token_logprobs(lm, batch: TargetBatch) -> torch.Tensor:
    """log p of every target token, (T,), differentiable w.r.t. anything that requires grad."""
    hidden = final_hidden(lm, batch.input_ids, batch.attention_mask)
    logp = torch.log_softmax(head_logits(lm, hidden[batch.rows, batch.cols]), dim=-1)
    return logp.gather(1, batch.gold[:, None])[:, 0]


def per_sequence_nll(lm, batch: TargetBatch) -> torch.Tensor:
    """Mean per-token NLL of each sequence's target, (n,)."""
    token_lp = target_token_logprobs(lm, batch)
    total = torch.zeros(batch.n_seqs, device=token_lp.device).index_add(0, batch.rows, -token_lp)
    count = torch.zeros(batch.n_seqs, device=token_lp.device).index_add(
        0, batch.rows, torch.ones_like(token_lp))
    return total / count


def target_nll(lm, batch: TargetBatch) -> torch.Tensor:
    """Mean over sequences of the mean per-token target NLL (a scalar loss)."""
    return per_sequence_nll(lm, batch).mean()


def last_token_logits(lm, prompts: Sequence[str]) -> torch.Tensor:
    """Next-token logits after each prompt, (n, vocab)."""
    enc = lm.tokenizer(list(prompts), return_tensors="pt", padding=True)
    ids, mask = enc["input_ids"].to(lm.device), enc["attention_mask"].to(lm.device)
    hidden = final_hidden(lm, ids, mask)
    last = mask.sum(dim=1) - 1
    return head_logits(lm, hidden[torch.arange(len(prompts), device=lm.device), last])


# -- the editor ---------------------------------------------------------------------------

ParamSelector = Callable[[ArchSpec, int], list[str]]


def mlp_out_weight(spec: ArchSpec, layer: int) -> list[str]:
    return [spec.edit_weight_name(layer)]


def attention_qkv_weights(spec: ArchSpec, layer: int) -> list[str]:
    return spec.attn_weight_names(layer)


@dataclass
class FineTuneEditor:
    """Fine-tune the parameters ``select(spec, layer)`` on the rewrite prompts.

    ``epsilon=None`` is unconstrained (FT); a number bounds ``|w - w_orig|`` elementwise
    after every step (FT+L, AttnEdit). The bound holds exactly up to float rounding of
    ``w_orig ± epsilon`` (at most one unit in the last place of the weight).
    """

    name: str
    layer: int
    lr: float
    steps: int
    epsilon: float | None = None
    early_stop_loss: float = 1e-2
    weight_decay: float = 0.0
    select: ParamSelector = mlp_out_weight

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ValueError(f"{self.name}: steps must be >= 0, got {self.steps}")
        if self.epsilon is not None and not self.epsilon > 0:
            raise ValueError(f"{self.name}: epsilon must be positive or None, got {self.epsilon}")

    def param_names(self, lm) -> list[str]:
        check_layers([self.layer], lm.n_layers, f"{self.name} hyperparameter 'layer'", lm.name)
        return self.select(lm.spec, self.layer)

    @all_or_nothing
    def apply(self, lm, requests: Sequence[EditRequest]) -> EditResult:
        model = lm.model
        names = self.param_names(lm)
        result = begin_edit(model, names, self.name)
        params = [get_parameter(model, n) for n in names]
        batch = build_target_batch(lm, [r.text for r in requests], [r.target_new for r in requests])
        was = [p.requires_grad for p in params]
        losses: list[float] = []
        try:
            for p in params:
                p.requires_grad_(True)
            opt = torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
            for _ in range(self.steps):
                opt.zero_grad(set_to_none=True)
                loss = target_nll(lm, batch)
                losses.append(float(loss.detach()))
                if losses[-1] < self.early_stop_loss:
                    break
                loss.backward()
                opt.step()
                if self.epsilon is not None:
                    self._project(model, result.originals)
            with torch.no_grad():
                final = float(target_nll(lm, batch))
        finally:
            for p, w in zip(params, was):
                p.requires_grad_(w)
                p.grad = None
        result.info = {
            "layer": self.layer, "params": names, "lr": self.lr, "epsilon": self.epsilon,
            "steps_run": len(losses), "losses": losses, "final_loss": final,
            "max_abs_delta": max(float(d.abs().max()) for d in result.deltas(model).values()),
        }
        return result

    @torch.no_grad()
    def _project(self, model, originals: Mapping[str, torch.Tensor]) -> None:
        eps = self.epsilon
        assert eps is not None  # only bounded edits project
        for n, w0 in originals.items():
            p = get_parameter(model, n)
            delta = (p - w0).clamp_(-eps, eps)
            p.copy_(w0 + delta)


def make_ft(hparams: FTHparams | Mapping[str, Any], name: str = "ft") -> FineTuneEditor:
    """FT / FT+L from its settings (:class:`rome.editing.hparams.FTHparams`, or a mapping of its fields)."""
    hp = FTHparams.coerce(hparams)
    return FineTuneEditor(
        name=name, layer=hp.layer, lr=hp.lr, steps=hp.steps, epsilon=hp.epsilon,
        early_stop_loss=hp.early_stop_loss, weight_decay=hp.weight_decay, select=mlp_out_weight,
    )


def make_ft_l(hparams: FTHparams | Mapping[str, Any]) -> FineTuneEditor:
    hp = FTLHparams.coerce(hparams)
    if hp.epsilon is None:
        raise HparamsError("ft-l hparams: 'epsilon' (the L-infinity bound) is required")
    return make_ft(hp, name="ft-l")

