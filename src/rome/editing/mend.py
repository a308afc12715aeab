"""MEND (Mitchell et al. 2022), a compact version trained by this package.

The fine-tuning gradient of a linear layer on one example is a sum of rank-one terms
``delta_t u_t^T`` (``u_t`` the layer's input, ``delta_t`` the loss gradient w.r.t. its
output, at each target token t). MEND edits with transformed factors: per edited layer a
small MLP ``g_l`` maps the normalised ``[u_t ; delta_t]`` to ``[u~_t ; delta~_t]`` and

    dW_l = -lr_l / T * sum_t delta~_t u~_t^T .

``g_l`` is MEND's low-rank residual MLP, ``z + W2 relu(W1 z + b1) + b2`` with ``W2``
zero-initialised (an untrained MEND is a normalised gradient step), ``lr_l`` a learned
per-layer step size. Inputs are normalised per token to unit RMS (MEND keeps running
per-feature statistics instead). Edited: the MLP output projection of the chosen layers
(MEND edits the last three layers' MLP weights). Variants: ``mend`` (generic corpus
edits), ``mend-cf`` (COUNTERFACT train split), ``mend-zsre`` (zsRE train split).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, cast

import torch
from torch import nn

from .hparams import MENDHparams
from .hypernet_data import gradient_factors
from .ke import resolve_layers


def _rms_normalise(x: torch.Tensor) -> torch.Tensor:
    return x / (x.pow(2).mean(dim=-1, keepdim=True).sqrt() + 1e-12)


class MENDNet(nn.Module):
    method = "mend"

    def __init__(self, layers: list[int], d_in: int, d_out: int, rank: int = 64, init_lr: float = 1e-4) -> None:
        super().__init__()
        self.layers = [int(l) for l in layers]
        self.d_in, self.d_out, self.rank, self.init_lr = d_in, d_out, rank, init_lr
        width = d_in + d_out
        self.down = nn.ModuleDict({str(l): nn.Linear(width, rank) for l in self.layers})
        self.up = nn.ModuleDict({str(l): nn.Linear(rank, width) for l in self.layers})
        for l in self.layers:
            up = cast(nn.Linear, self.up[str(l)])
            nn.init.zeros_(up.weight)
            nn.init.zeros_(up.bias)
        self.log_lr = nn.Parameter(torch.full((len(self.layers),), math.log(init_lr)))

    def config(self) -> dict:
        return {"layers": self.layers, "d_in": self.d_in, "d_out": self.d_out, "rank": self.rank,
                "init_lr": self.init_lr}

    @classmethod
    def for_model(cls, lm, hparams: MENDHparams | Mapping[str, Any]) -> MENDNet:
        hp = MENDHparams.coerce(hparams)
        layers = resolve_layers(lm, hp.layers)
        spec = lm.spec
        return cls(layers, spec.key_dim(lm.model, layers[0]), spec.value_dim(lm.model, layers[0]),
                   hp.rank, hp.init_lr)

    def deltas(self, lm, prompt: str, target: str) -> dict[int, torch.Tensor]:
        """``{layer: dW}`` in [out, in] layout, differentiable in the hyper-network's parameters."""
        factors = gradient_factors(lm, self.layers, [prompt], target)
        out = {}
        for i, l in enumerate(self.layers):
            u, delta = factors[l]
            z = torch.cat([_rms_normalise(u.float()), _rms_normalise(delta.float())], dim=-1)
            z = z + self.up[str(l)](torch.relu(self.down[str(l)](z)))
            u_t, d_t = z[:, : self.d_in], z[:, self.d_in:]
            out[l] = -self.log_lr[i].exp() / z.shape[0] * (d_t.T @ u_t)
        return out
