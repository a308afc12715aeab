"""Integrated-gradients saliency of hidden states, MLP and attention outputs (Fig. 16).

For each module output s = f_l(x) (block, MLP or attention of layer l) the path
α·s, α ∈ (0, 1], runs through the rest of the model (baseline: zero); the attribution of
token i is Σ_h s_ih · mean_α ∂p(answer)/∂(α s)_ih, its magnitude is reported.
All α steps of one state run as one batch.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..model.hooks import Trace
from .prepare import PARTS, answer_token, encode_prompt

KIND_OF_PART = {"block": "hidden", "mlp": "mlp", "attn": "attn"}


def integrated_gradients(lm, prompt: str, subject: str, expected: str | None = None, steps: int = 10,
                         parts=PARTS) -> dict:
    enc = encode_prompt(lm.tokenizer, prompt, subject)
    ids = torch.tensor([enc.input_ids], device=lm.device)
    model, spec = lm.model, lm.spec
    with torch.no_grad():
        probs = torch.softmax(model(input_ids=ids, logits_to_keep=1).logits[0, -1].float(), -1)
    answer = answer_token(lm.tokenizer, expected, enc.text) if expected else int(probs.argmax())
    alphas = (torch.arange(1, steps + 1, dtype=lm.dtype, device=lm.device) / steps)[:, None, None]
    T, L = ids.shape[1], lm.n_layers
    scores = {KIND_OF_PART[p]: np.zeros((T, L)) for p in parts}
    for part in parts:
        for layer in range(L):
            box: dict[str, Any] = {}

            def edit(x, name, box=box):
                base = x.detach()[:1].expand(steps, -1, -1)
                scaled = (alphas * base).requires_grad_(True)
                box["base"], box["scaled"] = base, scaled
                return scaled

            with torch.enable_grad(), Trace(model, spec.layer_name(part, layer), retain_output=False, edit_output=edit):
                logits = model(input_ids=ids.repeat(steps, 1), logits_to_keep=1).logits[:, -1].float()
                p = torch.softmax(logits, -1)[:, answer].sum()
                grad, = torch.autograd.grad(p, box["scaled"])
            attr = (box["base"][0] * grad.mean(0)).sum(-1).abs()
            scores[KIND_OF_PART[part]][:, layer] = attr.detach().cpu().numpy()
    return {"prompt": enc.text, "subject": subject, "tokens": [lm.tokenizer.decode([t]) for t in enc.input_ids],
            "subject_range": [enc.subject_start, enc.subject_end], "answer": lm.tokenizer.decode([answer]),
            "answer_id": answer, "p_answer": float(probs[answer]), "steps": steps,
            "scores": {k: v.tolist() for k, v in scores.items()}}
