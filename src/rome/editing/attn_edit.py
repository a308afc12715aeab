"""AttnEdit: FT+L on one attention layer's query/key/value weights (paper section 3.2 and its appendix on baselines, Fig. 23).

The same projected fine-tuning as FT+L (:class:`rome.editing.ft.FineTuneEditor`), tuning
``spec.attn_weight_names(layer)`` (GPT-2's fused ``c_attn``; separate q/k/v projections
elsewhere) under an L-infinity bound ``epsilon``.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .ft import FineTuneEditor, attention_qkv_weights
from .hparams import AttnEditHparams


def make_attn_edit(hparams: AttnEditHparams | Mapping[str, Any], name: str = "attn") -> FineTuneEditor:
    """AttnEdit from its settings (:class:`rome.editing.hparams.AttnEditHparams`, or a mapping of its fields)."""
    hp = AttnEditHparams.coerce(hparams)
    return FineTuneEditor(
        name=name, layer=hp.layer, lr=hp.lr, steps=hp.steps, epsilon=hp.epsilon,
        early_stop_loss=hp.early_stop_loss, weight_decay=hp.weight_decay, select=attention_qkv_weights,
    )
