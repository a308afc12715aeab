import pytest
import torch

from rome.model.architectures import (
    ARCHITECTURES,
    UnsupportedArchitectureError,
    get_module,
    parse_layers,
    spec_for,
)
from rome.testing import TINY_ARCHITECTURES, tiny_model


@pytest.fixture(scope="module", params=TINY_ARCHITECTURES)
def lm(request, gpt2_tok, bos_tok):
    tok = gpt2_tok if request.param in ("gpt2", "gptj", "gpt_neox") else bos_tok
    return tiny_model(request.param, tok, n_layers=3)


def test_every_entry_resolves(lm):
    spec, model = lm.spec, lm.model
    assert lm.n_layers == 3
    for name in spec.all_names(lm.n_layers):
        assert isinstance(get_module(model, name), torch.nn.Module), name
    for layer in range(lm.n_layers):
        for pname in spec.attn_weight_names(layer) + [spec.edit_weight_name(layer)]:
            assert isinstance(model.get_parameter(pname), torch.nn.Parameter)


def test_edit_layout_matches_key_and_value_dims(lm):
    spec, model = lm.spec, lm.model
    hidden = model.config.get_text_config().hidden_size
    assert spec.value_dim(model, 0) == hidden
    w = spec.edit_weight(model, 0)
    assert spec.as_out_in(w).shape == (hidden, spec.key_dim(model, 0))
    # the key really is the edited module's input width: run the module on a key
    module = spec.module(model, "edit", 0)
    out = module(torch.zeros(1, 1, spec.key_dim(model, 0)))
    assert out.shape[-1] == hidden


def test_unembedding_produces_vocabulary_logits(lm):
    unembed = lm.module("unembed")
    hidden = lm.model.config.get_text_config().hidden_size
    assert unembed(torch.zeros(1, hidden)).shape[-1] == len(lm.tokenizer) or \
        unembed(torch.zeros(1, hidden)).shape[-1] >= len(lm.tokenizer)


def test_map_covers_required_families():
    for mt in ("gpt2", "gptj", "gpt_neox", "llama", "gemma3_text", "qwen2"):
        assert mt in ARCHITECTURES


def test_unknown_architecture_is_a_clear_error():
    class Cfg:
        model_type = "bloom"

    class M(torch.nn.Module):
        config = Cfg()

    with pytest.raises(UnsupportedArchitectureError, match="bloom.*architecture map"):
        spec_for(M())


def test_unknown_part_and_missing_layer():
    spec = ARCHITECTURES["gpt2"]
    with pytest.raises(KeyError):
        spec.layer_name("ffn", 0)
    assert spec.layer_name("edit", 17) == "transformer.h.17.mlp.c_proj"
    assert ARCHITECTURES["gemma3_text"].layer_name("edit", 4) == "model.layers.4.mlp.down_proj"


def test_parse_layers():
    assert parse_layers("0-3,9") == [0, 1, 2, 3, 9]
    assert parse_layers("0-17:6") == [0, 6, 12]
    assert parse_layers("0-17:3,17") == [0, 3, 6, 9, 12, 15, 17]
    assert parse_layers(5) == [5]
    assert parse_layers([3, 1, 3]) == [1, 3]
