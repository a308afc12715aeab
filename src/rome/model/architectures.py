"""The one architecture map: where each part of a supported causal LM lives.

Every piece of code that needs a module of a model (a block, its attention or MLP, the
weight ROME edits, the embeddings, the final norm, the unembedding) asks this map. An
architecture is data — a table of module-path templates — never a branch on a model name.
Add a model family by adding one :class:`ArchSpec` to :data:`ARCHITECTURES`.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import torch

from counterfact.errors import BadInputError

# The parts of a block that can be addressed by layer number.
LAYER_PARTS = ("block", "attn", "mlp", "edit")


class UnsupportedArchitectureError(BadInputError, ValueError):
    """Raised for a model whose ``config.model_type`` is not in the map."""


class LayerRangeError(BadInputError, ValueError):
    """A layer setting that names a layer the model does not have."""


@dataclass(frozen=True)
class ArchSpec:
    """Module paths of one architecture family.

    Paths of per-layer parts (``attn``, ``mlp``, ``edit``, ``attn_weights``, ``mlp_in``)
    are relative to a block; ``layers`` is the path of the block list; ``embed``,
    ``final_norm`` and ``unembed`` are absolute.
    """

    name: str
    model_types: tuple[str, ...]
    layers: str
    attn: str
    mlp: str
    edit: str  # the MLP output projection ROME edits; its input is the "key"
    edit_kind: str  # "conv1d" (weight [in, out]) or "linear" (weight [out, in])
    mlp_in: str  # the MLP input projection (feeds the neurons that KN attributes)
    attn_weights: tuple[str, ...]  # query/key/value weights that AttnEdit tunes
    embed: str
    final_norm: str
    unembed: str
    mlp_out_norm: str | None = None  # a norm applied to the MLP output before the residual
    notes: str = ""
    # (dtype name, reason) pairs this family must not run in (checked by rome.model.runtime.check_dtype)
    unsafe_dtypes: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.edit_kind not in ("conv1d", "linear"):
            raise ValueError(f"{self.name}: edit_kind must be 'conv1d' or 'linear'")

    # -- names ---------------------------------------------------------------------
    def layer_name(self, part: str, layer: int) -> str:
        """Full module name of a per-layer ``part`` (block, attn, mlp, edit) of ``layer``."""
        if part not in LAYER_PARTS:
            raise KeyError(f"unknown layer part {part!r}; expected one of {LAYER_PARTS}")
        block = f"{self.layers}.{layer}"
        return block if part == "block" else f"{block}.{getattr(self, part)}"

    def attn_weight_names(self, layer: int) -> list[str]:
        """Full parameter names of the attention query/key/value weights of ``layer``."""
        return [f"{self.layers}.{layer}.{p}.weight" for p in self.attn_weights]

    def edit_weight_name(self, layer: int) -> str:
        return f"{self.layer_name('edit', layer)}.weight"

    def mlp_in_name(self, layer: int) -> str:
        return f"{self.layers}.{layer}.{self.mlp_in}"

    # -- modules -------------------------------------------------------------------
    def n_layers(self, model: torch.nn.Module) -> int:
        return len(cast(torch.nn.ModuleList, get_module(model, self.layers)))

    def module(self, model: torch.nn.Module, part: str, layer: int | None = None) -> torch.nn.Module:
        if part in LAYER_PARTS:
            if layer is None:
                raise ValueError(f"part {part!r} needs a layer number")
            return get_module(model, self.layer_name(part, layer))
        if part in ("embed", "final_norm", "unembed", "layers"):
            return get_module(model, getattr(self, part))
        raise KeyError(f"unknown part {part!r}")

    def edit_weight(self, model: torch.nn.Module, layer: int) -> torch.nn.Parameter:
        return get_parameter(model, self.edit_weight_name(layer))

    def key_dim(self, model: torch.nn.Module, layer: int) -> int:
        """Width of the key (the edited projection's input)."""
        w = self.edit_weight(model, layer)
        return w.shape[0] if self.edit_kind == "conv1d" else w.shape[1]

    def value_dim(self, model: torch.nn.Module, layer: int) -> int:
        w = self.edit_weight(model, layer)
        return w.shape[1] if self.edit_kind == "conv1d" else w.shape[0]

    def as_out_in(self, weight: torch.Tensor) -> torch.Tensor:
        """View a weight of the edited projection as [out, in] whatever its layout."""
        return weight.T if self.edit_kind == "conv1d" else weight

    def all_names(self, n_layers: int) -> list[str]:
        names = [self.embed, self.final_norm, self.unembed]
        for layer in range(n_layers):
            names += [self.layer_name(p, layer) for p in LAYER_PARTS]
            names.append(self.mlp_in_name(layer))
            names += [n.rsplit(".", 1)[0] for n in self.attn_weight_names(layer)]
        return names


_LLAMA_LIKE: dict[str, Any] = dict(
    layers="model.layers",
    attn="self_attn",
    mlp="mlp",
    edit="mlp.down_proj",
    edit_kind="linear",
    mlp_in="mlp.up_proj",
    attn_weights=("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"),
    embed="model.embed_tokens",
    final_norm="model.norm",
    unembed="lm_head",
)

ARCHITECTURES: dict[str, ArchSpec] = {}


def register(spec: ArchSpec) -> ArchSpec:
    for mt in spec.model_types:
        ARCHITECTURES[mt] = spec
    return spec


GPT2 = register(ArchSpec(
    name="gpt2", model_types=("gpt2",),
    layers="transformer.h", attn="attn", mlp="mlp", edit="mlp.c_proj", edit_kind="conv1d",
    mlp_in="mlp.c_fc", attn_weights=("attn.c_attn",),
    embed="transformer.wte", final_norm="transformer.ln_f", unembed="lm_head",
    notes="Conv1D weights are stored [in, out].",
))
GPTJ = register(ArchSpec(
    name="gptj", model_types=("gptj",),
    layers="transformer.h", attn="attn", mlp="mlp", edit="mlp.fc_out", edit_kind="linear",
    mlp_in="mlp.fc_in", attn_weights=("attn.q_proj", "attn.k_proj", "attn.v_proj"),
    embed="transformer.wte", final_norm="transformer.ln_f", unembed="lm_head",
    notes="Attention and MLP run in parallel from the same layer norm.",
))
GPT_NEOX = register(ArchSpec(
    name="gpt_neox", model_types=("gpt_neox",),
    layers="gpt_neox.layers", attn="attention", mlp="mlp", edit="mlp.dense_4h_to_h",
    edit_kind="linear", mlp_in="mlp.dense_h_to_4h", attn_weights=("attention.query_key_value",),
    embed="gpt_neox.embed_in", final_norm="gpt_neox.final_layer_norm", unembed="lm_head",
    notes="transformers < 5 called the unembedding embed_out.",
))
LLAMA = register(ArchSpec(name="llama", model_types=("llama", "mistral"), **_LLAMA_LIKE))
QWEN2 = register(ArchSpec(name="qwen2", model_types=("qwen2",), **_LLAMA_LIKE))
GEMMA3 = register(ArchSpec(
    name="gemma3", model_types=("gemma3_text", "gemma3", "gemma2", "gemma"),
    mlp_out_norm="post_feedforward_layernorm",
    notes="The MLP output passes through post_feedforward_layernorm before the residual; "
    "token embeddings are scaled by sqrt(hidden) inside the embedding module.",
    unsafe_dtypes=(("float16", "Gemma 3 activations exceed the float16 range (max 65504) in the residual "
                                "stream, which turns scores into NaN (the model was trained in bfloat16); "
                                "use bfloat16 or float32"),),
    **_LLAMA_LIKE,
))


def spec_for_model_type(model_type: str) -> ArchSpec:
    try:
        return ARCHITECTURES[model_type]
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES))
        raise UnsupportedArchitectureError(
            f"architecture {model_type!r} is not in the architecture map "
            f"(src/rome/model/architectures.py); supported model types: {known}. "
            "Add an ArchSpec for it there."
        ) from None


def spec_for(model: torch.nn.Module) -> ArchSpec:
    """The :class:`ArchSpec` of a loaded Hugging Face model."""
    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    if model_type is None:
        raise UnsupportedArchitectureError(
            f"{type(model).__name__} has no config.model_type; cannot look it up in the architecture map"
        )
    return spec_for_model_type(model_type)


def check_layers(layers: Iterable[int], n_layers: int, what: str, model_name: str = "the model") -> None:
    """A :class:`LayerRangeError` naming ``what`` (the setting) and the model's layer count when
    any of ``layers`` is not one of the model's layers ``0 .. n_layers - 1``."""
    bad = [l for l in layers if not 0 <= l < n_layers]
    if bad:
        shown = ", ".join(str(l) for l in bad)
        raise LayerRangeError(f"{what}: layer {shown} does not exist: {model_name} has {n_layers} layers "
                              f"(0-{n_layers - 1})")


def _check_layer_index(model: torch.nn.Module, name: str) -> None:
    """A :class:`LayerRangeError` naming the model's layer count when ``name`` indexes a layer
    list (a ``ModuleList``) past its end; nothing otherwise."""
    module: Any = model
    for part in name.split("."):
        if isinstance(module, torch.nn.ModuleList) and part.lstrip("-").isdigit():
            check_layers([int(part)], len(module), "the layer setting", type(model).__name__)
        module = getattr(module, part, None)
        if module is None:
            return


def get_module(model: torch.nn.Module, name: str) -> torch.nn.Module:
    try:
        return model.get_submodule(name)
    except AttributeError as err:
        _check_layer_index(model, name)
        raise KeyError(f"{type(model).__name__} has no module {name!r} ({err})") from None


def get_parameter(model: torch.nn.Module, name: str) -> torch.nn.Parameter:
    try:
        return model.get_parameter(name)
    except AttributeError as err:
        _check_layer_index(model, name)
        raise KeyError(f"{type(model).__name__} has no parameter {name!r} ({err})") from None


def parse_layers(text: str | int | Iterable[int]) -> list[int]:
    """Parse a layer selection into sorted unique layers.

    Accepts ``"0-17"``, ``"3,5,7"``, ``"0-3,9"``, a range with a step ``"0-17:3"``
    (0, 3, ..., 15), an int or a list.
    """
    if isinstance(text, int):
        return [text]
    if not isinstance(text, str):
        return sorted({int(x) for x in text})
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        step = 1
        if ":" in part:
            part, step_text = part.split(":", 1)
            step = int(step_text)
            if step < 1:
                raise ValueError(f"layer step must be positive in {text!r}")
        if "-" in part:
            lo, hi = part.split("-", 1)
            out.extend(range(int(lo), int(hi) + 1, step))
        else:
            out.append(int(part))
    return sorted(set(out))
