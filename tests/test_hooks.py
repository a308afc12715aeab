import pytest
import torch

from rome.model.hooks import (
    StopForward,
    Trace,
    TraceDict,
    count_hooks,
    preserve_weights,
    replace_positions,
    stop_after,
)


def _ids(lm, text="The Space Needle is in downtown"):
    return lm.tokenizer(text, return_tensors="pt")["input_ids"]


def test_trace_reads_block_output_equal_to_hidden_states(tiny_gpt2):
    lm, ids = tiny_gpt2, _ids(tiny_gpt2)
    with torch.no_grad(), Trace(lm.model, lm.layer_name("block", 1)) as t:
        out = lm.model(ids, output_hidden_states=True)
    torch.testing.assert_close(t.output, out.hidden_states[2])
    assert count_hooks(lm.model) == 0


def test_hooks_removed_after_exception(tiny_gpt2):
    lm, ids = tiny_gpt2, _ids(tiny_gpt2)
    names = [lm.layer_name(p, l) for l in range(lm.n_layers) for p in ("block", "mlp", "attn")]

    def boom(x, name):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        with TraceDict(lm.model, names, edit_output=boom):
            lm.model(ids)
    assert count_hooks(lm.model) == 0
    with pytest.raises(ValueError):
        with Trace(lm.model, names[0], retain_input=True):
            raise ValueError("inside")
    assert count_hooks(lm.model) == 0


def test_edit_output_at_positions_changes_only_later_positions(tiny_gemma):
    lm, ids = tiny_gemma, _ids(tiny_gemma)
    with torch.no_grad():
        clean = lm.model(ids).logits
        pos = [ids.shape[1] - 2]

        def zero(x, name):
            return replace_positions(x, pos, torch.zeros(x.shape[-1]))

        with Trace(lm.model, lm.layer_name("mlp", 0), edit_output=zero) as t:
            edited = lm.model(ids).logits
    assert torch.all(t.output[0, pos[0]] == 0)
    torch.testing.assert_close(edited[:, : pos[0]], clean[:, : pos[0]])
    assert not torch.allclose(edited[:, pos[0]:], clean[:, pos[0]:])
    assert count_hooks(lm.model) == 0


def test_retain_input_of_edited_projection_is_the_key(tiny_gpt2):
    lm, ids = tiny_gpt2, _ids(tiny_gpt2)
    name = lm.layer_name("edit", 2)
    with torch.no_grad(), Trace(lm.model, name, retain_input=True, retain_output=True) as t:
        lm.model(ids)
    recomputed = lm.spec.module(lm.model, "edit", 2)(t.input)
    torch.testing.assert_close(recomputed, t.output)
    assert t.input.shape[-1] == lm.spec.key_dim(lm.model, 2)


def test_stop_after_ends_the_pass_early(tiny_gpt2):
    lm, ids = tiny_gpt2, _ids(tiny_gpt2)
    ran = []
    last = lm.layer_name("block", lm.n_layers - 1)
    with Trace(lm.model, last, retain_output=False, edit_output=lambda x, n: ran.append(n) or x):
        with stop_after(lm.model, lm.layer_name("block", 1)) as t:
            lm.model(ids)
    assert t.output is not None and ran == []
    assert count_hooks(lm.model) == 0
    with pytest.raises(StopForward):  # without the context manager the signal escapes
        h = lm.module("block", 0).register_forward_hook(lambda *a: (_ for _ in ()).throw(StopForward()))
        try:
            lm.model(ids)
        finally:
            h.remove()


def test_preserve_weights_restores_bit_for_bit(tiny_gemma):
    lm = tiny_gemma
    before = {n: p.detach().clone() for n, p in lm.model.named_parameters()}
    with pytest.raises(RuntimeError):
        with preserve_weights(lm.model):
            with torch.no_grad():
                for p in lm.model.parameters():
                    p.mul_(1.0001).add_(1e-3)
            raise RuntimeError("edit failed half-way")
    for n, p in lm.model.named_parameters():
        assert torch.equal(p, before[n]), n


def test_trace_dict_gives_every_trace_the_same_options_and_stops_after_the_last(tiny_gpt2):
    lm, ids = tiny_gpt2, _ids(tiny_gpt2)
    names = [lm.layer_name("edit", l) for l in (0, 1)]
    later = lm.layer_name("block", lm.n_layers - 1)
    ran = []
    with torch.no_grad(), Trace(lm.model, later, retain_output=False, edit_output=lambda x, n: ran.append(n) or x):
        with TraceDict(lm.model, names, retain_output=False, retain_input=True, stop=True) as td:
            lm.model(ids)
    assert list(td) == names and ran == []                       # the pass ended after names[-1]
    for l, name in zip((0, 1), names):
        assert td[name].output is None                           # retain_output=False reached every trace
        assert td[name].input.shape[-1] == lm.spec.key_dim(lm.model, l)
    assert [td[n]._stop for n in names] == [False, True]         # only the last one stops the pass
    assert count_hooks(lm.model) == 0
    with pytest.raises(TypeError, match="retain_outputs"):       # a misspelt option, even with no modules
        TraceDict(lm.model, [], retain_outputs=True)
