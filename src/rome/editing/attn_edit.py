"""AttnEdit: FT+L on one attention layer's query/key/value weights (SPEC 7, Fig. 23).

The same projected fine-tuning as FT+L (:class:`rome.editing.ft.FineTuneEditor`), tuning
``spec.attn_weight_names(layer)`` (GPT-2's fused ``c_attn``; separate q/k/v projections
elsewhere) under an L-infinity bound ``epsilon``.
"""
from __future__ import annotations

from typing import Any, Mapping

from .ft import FineTuneEditor, attention_qkv_weights


def make_attn_edit(hparams: Mapping[str, Any], name: str = "attn") -> FineTuneEditor:
    """AttnEdit from an hparams dict (keys: layer, lr, steps, epsilon, early_stop_loss)."""
    try:
        eps = hparams["epsilon"]
        return FineTuneEditor(
            name=name, layer=int(hparams["layer"]), lr=float(hparams["lr"]), steps=int(hparams["steps"]),
            epsilon=None if eps is None else float(eps),
            early_stop_loss=float(hparams.get("early_stop_loss", 1e-2)),
            weight_decay=float(hparams.get("weight_decay", 0.0)), select=attention_qkv_weights,
        )
    except KeyError as err:
        raise KeyError(f"{name} hparams: missing key {err.args[0]!r}") from None
