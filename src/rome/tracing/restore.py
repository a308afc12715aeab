"""What a restoration restores: one routine specialised by settings serves every kind.

A :class:`Restoration` names, for one token, the module outputs copied from the clean
run (``restore``) and those frozen at their corrupted-run values (``freeze``). Parts are
``block`` (the hidden state h_i^(l)), ``mlp`` and ``attn`` (module outputs).
"""
from __future__ import annotations

from dataclasses import dataclass

KINDS = ("hidden", "mlp", "attn")
KIND_PART = {"hidden": "block", "mlp": "mlp", "attn": "attn"}


@dataclass(frozen=True)
class Restoration:
    token: int
    restore: tuple[tuple[str, int], ...] = ()
    freeze: tuple[tuple[str, int], ...] = ()

    @property
    def first_layer(self) -> int | None:
        """Lowest layer whose output this restoration changes (None: changes nothing)."""
        layers = [l for _, l in self.restore]
        return min(layers) if layers else None

    def parts(self) -> set[tuple[str, int]]:
        return set(self.restore) | set(self.freeze)


def window_layers(layer: int, window: int, n_layers: int) -> list[int]:
    """Layers ``layer − w//2 … layer − w//2 + w − 1`` clipped to the model (the official
    ``trace_important_window``: ``max(0, l − w//2) … min(L, l − (−w//2))``, exclusive)."""
    if window < 1:
        raise ValueError(f"window must be ≥ 1, got {window}")
    lo = layer - window // 2
    return [l for l in range(lo, lo + window) if 0 <= l < n_layers]


def kind_restorations(kind: str, n_tokens: int, n_layers: int, window: int = 10) -> list[list[Restoration]]:
    """Grid [token][layer] of restorations for ``kind`` (hidden: one state; mlp/attn: a window)."""
    if kind not in KINDS:
        raise ValueError(f"unknown trace kind {kind!r}; expected one of {KINDS}")
    part = KIND_PART[kind]
    grid = []
    for i in range(n_tokens):
        row = []
        for l in range(n_layers):
            layers = [l] if kind == "hidden" else window_layers(l, window, n_layers)
            row.append(Restoration(i, tuple((part, x) for x in layers)))
        grid.append(row)
    return grid


def severed_restorations(token: int, n_layers: int, sever: str | None) -> list[Restoration]:
    """h_token^(l) restored for each l, with ``sever`` ("mlp"/"attn"/None) of that token frozen at all layers."""
    if sever not in (None, "mlp", "attn"):
        raise ValueError(f"sever must be None, 'mlp' or 'attn', got {sever!r}")
    frozen = tuple((sever, x) for x in range(n_layers)) if sever else ()
    return [Restoration(token, (("block", l),), frozen) for l in range(n_layers)]
