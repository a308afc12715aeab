import pytest
import torch

from rome.editing.kn import KnowledgeNeuronEditor, make_kn

from ._baseline_helpers import FACTS, check_edit_contract, gemma_wins


@pytest.mark.parametrize("arch", ["gpt2", "gemma3"])
def test_kn_changes_only_edit_weights_of_selected_layers(arch, tiny_gpt2, tiny_gemma):
    lm = tiny_gpt2 if arch == "gpt2" else tiny_gemma
    ed = make_kn({"layers": "all", "steps": 4, "edit_scale": 2.0})
    result = check_edit_contract(lm, ed, FACTS[:1], paraphrases={0: ["What Danielle Darrieux speaks is"]})
    assert set(result.changed) == {lm.spec.edit_weight_name(l) for l in result.info["layers"]}
    assert result.info["n_neurons"][0] >= 1


def test_kn_writes_only_selected_value_vectors(tiny_gpt2):
    lm = tiny_gpt2
    ed = KnowledgeNeuronEditor(steps=4)
    result = ed.apply(lm, FACTS[:1])
    try:
        for name, d in result.deltas(lm.model).items():
            layer = int(name.split(".")[2])
            cols = (lm.spec.as_out_in(d).abs().sum(dim=0) > 0).nonzero()[:, 0].tolist()
            chosen = sorted(n for l, n in result.info["neurons"][0] if l == layer)
            assert cols == chosen
    finally:
        result.restore(lm.model)


def test_ig_attribution_completeness(tiny_gpt2):
    """Integrated gradients sum (approximately) to p(answer | a) - p(answer | 0) per layer."""
    lm = tiny_gpt2
    ed = KnowledgeNeuronEditor(layers=[1], steps=64)
    answer = 262
    attr, acts = ed.attribute(lm, FACTS[0].text, answer)
    assert attr.shape == acts.shape == (1, lm.spec.key_dim(lm.model, 1))
    from rome.editing.ft import last_token_logits
    from rome.model.hooks import Trace

    name = lm.spec.layer_name("edit", 1)
    with torch.no_grad():
        full = torch.softmax(last_token_logits(lm, [FACTS[0].text]), -1)[0, answer]

        def zero_last(x, _):
            x = x.clone()
            x[:, -1] = 0
            return x

        with Trace(lm.model, name, retain_output=False, edit_input=zero_last):
            base = torch.softmax(last_token_logits(lm, [FACTS[0].text]), -1)[0, answer]
    assert float(attr.sum()) == pytest.approx(float(full - base), rel=0.1, abs=1e-7)


@pytest.mark.gemma
def test_kn_flips_facts_on_gemma(gemma):
    from rome.editing.hparams import load_hparams

    # fewer layers and IG steps than the configured run, to keep the test short
    hp = dict(load_hparams("kn", "gemma-3-270m"), layers="9-17", steps=8)
    ed = make_kn(hp)
    assert gemma_wins(gemma, ed, FACTS) >= 2
