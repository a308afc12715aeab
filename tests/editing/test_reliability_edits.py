"""Edits are all-or-nothing (reliability review, finding 6).

For every method of the registry, a failure is injected right after the first in-place
change of any model parameter or buffer (whatever operation makes it: ``add_``, an
optimiser step, ``+=`` on a view). The error must propagate and every parameter AND buffer
must be bit for bit what it was before ``apply``. Also: KE / MEND with a second request
longer than the model's context used to fail with an ``IndexError`` after two layers had
changed; it is now refused before anything changes, naming the record.
"""
from __future__ import annotations

import argparse

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from rome.editing.base import EditRequest, PromptTooLongError
from rome.editing.registry import METHODS, make_editor
from testpaths import WIKITEXT2

REQS = [
    EditRequest("{} is located in the continent of", "Japan", "Europe", "Asia", case_id=1),
    EditRequest("The mother tongue of {} is", "Danielle Darrieux", "English", "French", case_id=0),
]


class InjectedFailure(RuntimeError):
    pass


class FailAfterFirstWrite(TorchDispatchMode):
    """Raise right after the first aten operation that writes into the storage of one of
    ``tensors`` (the operation itself has completed: the model is changed when we raise)."""

    def __init__(self, tensors):
        super().__init__()
        self.ptrs = {t.untyped_storage().data_ptr() for t in tensors}
        self.fired = False

    def _written(self, func, args, kwargs):
        schema = func._schema
        for i, arg in enumerate(schema.arguments):
            if arg.alias_info is None or not arg.alias_info.is_write:
                continue
            value = args[i] if i < len(args) else kwargs.get(arg.name)
            for t in (value if isinstance(value, (list, tuple)) else [value]):
                if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() in self.ptrs:
                    return True
        return False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if not self.fired and self._written(func, args, kwargs):
            self.fired = True
            raise InjectedFailure(f"injected after {func}")
        return out


def _state(model):
    return ({n: p.detach().clone() for n, p in model.named_parameters()},
            {n: b.detach().clone() for n, b in model.named_buffers()})


def _assert_same(model, state):
    params, buffers = state
    now_p = dict(model.named_parameters())
    now_b = dict(model.named_buffers())
    assert set(now_p) == set(params) and set(now_b) == set(buffers)
    changed = [n for n, p in now_p.items() if not torch.equal(p.detach(), params[n])]
    changed += [n for n, b in now_b.items() if not torch.equal(b, buffers[n])]
    assert changed == [], changed


def _editor(method, lm, tmp_path):
    overrides = {"v_steps": 3} if method == "rome" else {}
    options = argparse.Namespace(stats_dir=str(tmp_path / "stats"), stats_tokens=1500, corpus=WIKITEXT2,
                                 templates_dir=str(tmp_path / "templates"), hypernet_dir=str(tmp_path / "hn"),
                                 hypernet_checkpoint=None)
    editor = make_editor(method, lm, overrides, options)
    if hasattr(editor, "net"):  # KE / MEND: an untrained network of the right shape
        from rome.editing.hypernet import net_class

        torch.manual_seed(0)
        editor.net = net_class(editor.method).for_model(lm, editor.hparams)
    return editor


@pytest.mark.parametrize("method", sorted(METHODS))
def test_failure_after_first_changed_weight_restores_everything(method, tiny_gpt2, tmp_path):
    lm = tiny_gpt2
    editor = _editor(method, lm, tmp_path)
    state = _state(lm.model)
    # a complete edit first: it must change something, or the injection would test nothing
    result = editor.apply(lm, REQS)
    assert result.changed
    result.restore(lm.model)
    _assert_same(lm.model, state)

    tensors = list(lm.model.parameters()) + list(lm.model.buffers())
    mode = FailAfterFirstWrite(tensors)
    with pytest.raises(InjectedFailure):
        with mode:
            editor.apply(lm, REQS)
    assert mode.fired
    _assert_same(lm.model, state)
    assert all(not p.requires_grad and p.grad is None for p in lm.model.parameters())


@pytest.mark.parametrize("method", ["ke", "mend"])
def test_hypernet_too_long_second_request_is_refused_before_any_change(method, tiny_gpt2, tmp_path):
    lm = tiny_gpt2
    editor = _editor(method, lm, tmp_path)
    state = _state(lm.model)
    long_prompt = "{} is " + "very " * (lm.context_length + 10) + "located in"
    too_long = EditRequest(long_prompt, "Japan", "Europe", "Asia", case_id=7)
    with pytest.raises(PromptTooLongError, match=r"record 7: .*longer than the model's context of 256 tokens"):
        editor.apply(lm, [REQS[0], too_long])
    _assert_same(lm.model, state)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_no_requests_are_refused_and_one_request_alone_is_a_list_of_one(method, tiny_gpt2, tmp_path):
    """Every editor's ``apply`` (through ``all_or_nothing``): an empty list is one clear
    error naming the method, before any change; one request alone edits like ``[request]``."""
    from rome.editing.base import EditRequestError

    lm = tiny_gpt2
    editor = _editor(method, lm, tmp_path)
    state = _state(lm.model)
    for empty in ([], (), None):
        with pytest.raises(EditRequestError, match=f"^{editor.name}: no edit requests$"):
            editor.apply(lm, empty)
    _assert_same(lm.model, state)
    alone = editor.apply(lm, REQS[0])
    try:
        assert alone.changed
    finally:
        alone.restore(lm.model)
    _assert_same(lm.model, state)
