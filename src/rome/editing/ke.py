"""KE: KnowledgeEditor (De Cao et al. 2021), a compact version trained by this package.

A hyper-network maps an edit request to a weight update of chosen layers' MLP output
projections. As in De Cao et al., the update is a *conditioned* transformation of the
fine-tuning gradient ``G = dL/dW`` of the edit loss (NLL of the new target after the
prompt):

    dW = -lr_l * 2 sigmoid(eta) * (alpha ⊙ G/rms(G)) + beta_hat beta_check^T
    alpha = 4 sigmoid(a_hat) sigmoid(a_check)^T

where ``a_hat, beta_hat`` (width d_out), ``a_check, beta_check`` (width d_in) and ``eta``
come from a small MLP per layer applied to the request's representation: the frozen
model's final-norm hidden states of ``prompt + " " + target`` (mean over tokens, and
the last prompt token), layer-normalised. (De Cao et al. encode the request with an
LSTM over the text; the pooled hidden state of the edited model is this package's
compact stand-in.) The last MLP layer starts near zero, so an untrained KE is a plain
gradient step of size ``init_lr`` per layer; training (``rome train --method ke``)
learns where and how much to change. Variants: ``ke`` (generic corpus edits),
``ke-cf`` (COUNTERFACT train split), ``ke-zsre`` (zsRE train split).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, cast

import torch
from torch import nn

from ..model.vocab_projection import final_hidden
from .ft import build_target_batch
from .hparams import KEHparams
from .hypernet_data import gradient_factors


class KENet(nn.Module):
    method = "ke"

    def __init__(self, layers: list[int], d_model: int, d_in: int, d_out: int, hidden: int = 128,
                 init_lr: float = 1e-3) -> None:
        super().__init__()
        self.layers = [int(l) for l in layers]
        self.d_model, self.d_in, self.d_out, self.hidden, self.init_lr = d_model, d_in, d_out, hidden, init_lr
        self.norm = nn.LayerNorm(2 * d_model, elementwise_affine=False)
        self.heads = nn.ModuleDict()
        for l in self.layers:
            head = nn.Sequential(nn.Linear(2 * d_model, hidden), nn.Tanh(),
                                 nn.Linear(hidden, 2 * d_out + 2 * d_in + 1))
            last = cast(nn.Linear, head[2])
            nn.init.normal_(last.weight, std=1e-3)
            nn.init.zeros_(last.bias)
            self.heads[str(l)] = head
        self.log_lr = nn.Parameter(torch.full((len(self.layers),), math.log(init_lr)))

    def config(self) -> dict:
        return {"layers": self.layers, "d_model": self.d_model, "d_in": self.d_in, "d_out": self.d_out,
                "hidden": self.hidden, "init_lr": self.init_lr}

    @classmethod
    def for_model(cls, lm, hparams: KEHparams | Mapping[str, Any]) -> KENet:
        hp = KEHparams.coerce(hparams)
        layers = resolve_layers(lm, hp.layers)
        spec = lm.spec
        d_model = spec.module(lm.model, "unembed").weight.shape[1]
        return cls(layers, d_model, spec.key_dim(lm.model, layers[0]), spec.value_dim(lm.model, layers[0]),
                   hp.hidden, hp.init_lr)

    @torch.no_grad()
    def condition(self, lm, prompt: str, target: str) -> torch.Tensor:
        batch = build_target_batch(lm, [prompt], [target])
        hidden = final_hidden(lm, batch.input_ids, batch.attention_mask)[0].float()
        last_prompt = hidden[batch.prompt_lengths[0] - 1]
        return torch.cat([hidden.mean(dim=0), last_prompt])

    def deltas(self, lm, prompt: str, target: str) -> dict[int, torch.Tensor]:
        """``{layer: dW}`` in [out, in] layout, differentiable in the hyper-network's parameters."""
        factors = gradient_factors(lm, self.layers, [prompt], target)
        c = self.norm(self.condition(lm, prompt, target).to(self.log_lr.device))
        out = {}
        for i, l in enumerate(self.layers):
            u, delta = factors[l]
            g = delta.float().T @ u.float()
            g = g / (g.pow(2).mean().sqrt() + 1e-12)
            o = self.heads[str(l)](c)
            a_hat, a_chk, b_hat, b_chk, eta = torch.split(o, [self.d_out, self.d_in, self.d_out, self.d_in, 1])
            alpha = 4 * torch.sigmoid(a_hat)[:, None] * torch.sigmoid(a_chk)[None, :]
            step = self.log_lr[i].exp() * 2 * torch.sigmoid(eta)
            out[l] = -step * alpha * g + b_hat[:, None] * b_chk[None, :]
        return out


def resolve_layers(lm, spec: str | list[int]) -> list[int]:
    """Edited layers of the ``layers`` setting: a selection, or ``"last:N"`` for the model's last N layers."""
    from ..model.architectures import LayerRangeError, check_layers, parse_layers

    if isinstance(spec, str) and spec.startswith("last:"):
        n = int(spec.split(":", 1)[1])
        layers = list(range(max(0, lm.n_layers - n), lm.n_layers))
    else:
        layers = parse_layers(spec)
    if not layers:
        raise LayerRangeError(f"hyper-network layers {spec!r} select no layer")
    check_layers(layers, lm.n_layers, f"hyper-network hyperparameter 'layers' ({spec!r})", lm.name)
    return layers
