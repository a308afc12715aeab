"""Vocabulary logits of final-norm states.

:func:`head_logits` applies the model's own unembedding (and Gemma's final logit
soft-capping) to final-norm states. A small model's unembedding dominates its cost (Gemma 3
270M: 262,144 x 640).

For many rows where only one token's probability is wanted (causal tracing scores
thousands of states), :func:`token_probs` never holds the [rows, V] logits at all.
"""
from __future__ import annotations

import torch

from .hooks import Trace


def final_hidden(lm, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Final-norm output of every position [batch, seq, hidden]; the forward pass stops there."""
    with Trace(lm.model, lm.spec.final_norm, retain_output=True, stop=True) as tr:
        lm.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
    if tr.output is None:  # pragma: no cover - the final norm always runs
        raise RuntimeError(f"final norm {lm.spec.final_norm} did not run")
    return tr.output


def head_logits(lm, hidden: torch.Tensor) -> torch.Tensor:
    """Float32 vocabulary logits of final-norm states (with the model's logit soft-capping, if any)."""
    return soft_cap(lm.module("unembed")(hidden).float(), logit_softcap(lm.model))


def logit_softcap(model) -> float | None:
    """The model's final-logit soft-capping value (Gemma 2/3 style), or None where it has none."""
    cap = getattr(getattr(model, "config", None), "final_logit_softcapping", None)
    return float(cap) if cap else None


def soft_cap(logits: torch.Tensor, cap: float | None) -> torch.Tensor:
    """``cap * tanh(logits / cap)``; the logits unchanged when ``cap`` is None."""
    return logits if cap is None else torch.tanh(logits / cap) * cap


@torch.no_grad()
def token_probs(lm, hidden: torch.Tensor, token: int | torch.Tensor, rows: int = 1024, block: int = 2048) -> torch.Tensor:
    """Softmax probability of ``token`` (one id, or one per row) for each final-norm state in ``hidden`` [N, H].

    The normaliser is summed over blocks of ``block`` vocabulary rows of the unembedding
    (each block's max and sum of exponentials, as softmax computes them), ``rows`` states at
    a time, so the [N, V] logits are never held. On a CPU a [512, 262144] float32 block is
    half a gigabyte, and writing then re-reading it made the plain ``softmax(linear(h, W))``
    run at a third of the speed of this loop. The logits are the model head's (its dtype,
    bias and soft-capping), taken in float32.
    """
    head = lm.module("unembed")
    weight = head.weight.detach()
    bias = getattr(head, "bias", None)
    cap = logit_softcap(lm.model)
    n = hidden.shape[0]
    ids = torch.as_tensor(token, device=weight.device).expand(n)
    if n and not (0 <= int(ids.min()) and int(ids.max()) < weight.shape[0]):
        raise ValueError(f"token ids must lie in [0, {weight.shape[0]}), got {int(ids.min())}..{int(ids.max())}")

    def logits(h, lo, hi):
        z = torch.nn.functional.linear(h, weight[lo:hi], None if bias is None else bias[lo:hi])
        return soft_cap(z.float(), cap)

    out = []
    for r in range(0, n, rows):
        h = hidden[r:r + rows].to(device=weight.device, dtype=weight.dtype)
        t = ids[r:r + rows]
        target = torch.empty(h.shape[0], device=weight.device)
        maxima, sums = [], []  # per block: max logit and sum of exp(logit - max), as softmax does
        for lo in range(0, weight.shape[0], block):
            z = logits(h, lo, lo + block)
            m = z.max(-1).values
            maxima.append(m)
            sums.append(torch.exp(z - m[:, None]).sum(-1))
            here = ((t >= lo) & (t < lo + z.shape[1])).nonzero().squeeze(1)
            target[here] = z[here, t[here] - lo]
        max_t, sum_t = torch.stack(maxima), torch.stack(sums)
        top = max_t.max(0).values
        out.append(torch.exp(target - top) / (sum_t * torch.exp(max_t - top)).sum(0))
    return torch.cat(out) if out else hidden.new_zeros(0, dtype=torch.float32)
