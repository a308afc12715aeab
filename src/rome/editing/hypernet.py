"""KE and MEND as editors: the trained networks' checkpoints and :class:`HypernetEditor`.

This module sits above the networks (:mod:`rome.editing.ke`, :mod:`rome.editing.mend`) and
their inputs (:mod:`rome.editing.hypernet_data`): it imports them, they do not import it.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from counterfact.errors import read_json

from .base import all_or_nothing, begin_edit
from .hparams import KEHparams, MENDHparams
from .hypernet_data import VARIANTS, to_param_layout
from .ke import KENet
from .mend import MENDNet

NET_CLASSES = {"ke": KENet, "mend": MENDNet}


def net_class(method: str) -> type[KENet] | type[MENDNet]:
    try:
        return NET_CLASSES[method]
    except KeyError:
        raise ValueError(f"unknown hyper-network method {method!r}; expected one of {sorted(NET_CLASSES)}") from None


def save_hypernet(path: str | os.PathLike, net: KENet | MENDNet, meta: Mapping) -> None:
    """Plain tensors + JSON-able config (loadable with ``torch.load(weights_only=True)``)."""
    import io

    from atomicio import atomic_write_bytes

    buf = io.BytesIO()
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    torch.save({"method": net.method, "config": net.config(), "state_dict": state, "meta": dict(meta)}, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_hypernet(path: str | os.PathLike, device="cpu") -> torch.nn.Module:
    try:
        blob = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"hyper-network checkpoint {path} not found (make it with `rome train`)") from None
    try:
        net = net_class(blob["method"])(**blob["config"])
        net.load_state_dict(blob["state_dict"])
    except (KeyError, TypeError, RuntimeError) as err:
        raise ValueError(f"{path}: not a valid hyper-network checkpoint ({err})") from None
    net.meta = blob.get("meta", {})
    return net.to(device).eval()


def find_checkpoint(directory: str | os.PathLike, method: str, variant: str, model_name: str) -> Path:
    """The newest finished checkpoint of (method, variant, model) in ``directory`` (per its .json).

    A metadata file that is not valid JSON is an error naming it (it is never skipped). When
    several finished checkpoints match (e.g. trained with different budgets), the newest is
    used and a warning names the ones passed over; pass an explicit checkpoint to choose.
    """
    directory = Path(directory)
    found = []
    for meta_path in sorted(directory.glob(f"{method}-{variant}-*.json")):
        if meta_path.name.endswith(".examples.json"):
            continue
        meta = read_json(meta_path, "metadata of a trained hyper-network")
        weights = meta_path.with_suffix(".pt")
        if isinstance(meta, dict) and meta.get("model") == model_name and meta.get("finished") and weights.exists():
            found.append((weights.stat().st_mtime, weights))
    if not found:
        raise FileNotFoundError(
            f"no trained {method} ({variant}) hyper-network for model {model_name!r} in {directory}; "
            f"run `rome train --method {method} --variant {variant} --model {model_name} --out-dir {directory}`")
    found.sort()
    chosen = found[-1][1]
    if len(found) > 1:
        others = ", ".join(p.name for _, p in found[:-1])
        warnings.warn(f"{len(found)} finished {method} ({variant}) checkpoints for {model_name!r} in {directory}; "
                      f"using the newest, {chosen.name} (passed over: {others}). "
                      "Name one with `rome evaluate --hypernet-checkpoint`.", stacklevel=2)
    return chosen


@dataclass
class HypernetEditor:
    """KE or MEND as an :class:`rome.editing.base.Editor`: apply a trained hyper-network's updates.

    The network is ``net`` if given, else read from ``checkpoint``, else the newest
    finished checkpoint for the model in ``hypernet_dir`` (the caller's folder: the library
    guesses none).
    """

    method: str
    variant: str = "plain"
    hparams: Mapping = field(default_factory=dict)
    checkpoint: str | None = None
    hypernet_dir: str | None = None
    net: torch.nn.Module | None = None

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}; expected one of {VARIANTS}")

    @property
    def name(self) -> str:
        return self.method if self.variant == "plain" else f"{self.method}-{self.variant}"

    def checkpoint_path(self, lm) -> Path:
        """``checkpoint``, else the newest finished one in ``hypernet_dir`` (an error naming
        both when neither is given)."""
        if self.checkpoint:
            return Path(self.checkpoint)
        if not self.hypernet_dir:
            raise FileNotFoundError(f"{self.name}: no trained hyper-network given: pass a checkpoint "
                                    "(--hypernet-checkpoint) or the folder of trained ones (--hypernet-dir)")
        return find_checkpoint(self.hypernet_dir, self.method, self.variant, lm.name)

    def load(self, lm) -> torch.nn.Module:
        if self.net is None:
            self.net = load_hypernet(self.checkpoint_path(lm), lm.device)
        return self.net

    @all_or_nothing
    def apply(self, lm, requests):
        net = self.load(lm)
        spec = lm.spec
        result = begin_edit(lm.model, [spec.edit_weight_name(l) for l in net.layers], self.name)
        for req in requests:
            deltas = net.deltas(lm, req.text, req.target_new)
            with torch.no_grad():
                for layer, d in deltas.items():
                    w = spec.edit_weight(lm.model, layer)
                    w += to_param_layout(spec, d.detach()).to(w.dtype)
        result.info = {"layers": list(net.layers), "variant": self.variant,
                       "checkpoint": str(self.checkpoint) if self.checkpoint else None}
        return result


def make_ke(hparams: Mapping[str, Any], variant: str = "plain", **kw) -> HypernetEditor:
    """The KE editor of ``variant`` (plain, cf, zsre)."""
    return HypernetEditor(method="ke", variant=variant, hparams=KEHparams.coerce(hparams), **kw)


def make_mend(hparams: Mapping[str, Any], variant: str = "plain", **kw) -> HypernetEditor:
    """The MEND editor of ``variant`` (plain, cf, zsre)."""
    return HypernetEditor(method="mend", variant=variant, hparams=MENDHparams.coerce(hparams), **kw)
