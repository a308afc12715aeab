"""Shared pieces of the baseline tests (facts, before/after parameter comparison)."""
from __future__ import annotations

import torch

from rome.editing.base import EditRequest
from rome.editing.ft import build_target_batch, per_sequence_nll

FACTS = [
    EditRequest("The mother tongue of {} is", "Danielle Darrieux", "English", "French", case_id=0),
    EditRequest("{} is located in the continent of", "Japan", "Europe", "Asia", case_id=1),
    EditRequest("{} professionally plays the sport of", "Michael Jordan", "soccer", "basketball", case_id=2),
]


def snapshot(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def changed_names(model, before: dict[str, torch.Tensor]) -> set[str]:
    return {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}


def assert_identical(model, before: dict[str, torch.Tensor]) -> None:
    assert changed_names(model, before) == set()


def margin(lm, req: EditRequest) -> float:
    """NLL(true) - NLL(new) on the rewrite prompt: > 0 when the new target is more likely."""
    batch = build_target_batch(lm, [req.text, req.text], [req.target_new, req.target_true])
    with torch.no_grad():
        nll = per_sequence_nll(lm, batch)
    return float(nll[1] - nll[0])


def check_edit_contract(lm, editor, requests, **kw):
    """Apply, check changed == declared (and non-empty), restore, check bit-identical."""
    before = snapshot(lm.model)
    result = editor.apply(lm, requests, **kw)
    try:
        changed = changed_names(lm.model, before)
        assert changed, "the edit changed nothing"
        assert changed == set(result.changed), (changed, result.changed)
        assert all(p.requires_grad is False for p in lm.model.parameters())
    finally:
        result.restore(lm.model)
    assert_identical(lm.model, before)
    return result


def gemma_wins(lm, editor, requests) -> int:
    """How many requests the editor makes the new target beat the true one on the rewrite
    prompt, each edit restored before the next."""
    wins = 0
    for req in requests:
        result = editor.apply(lm, [req])
        try:
            wins += margin(lm, req) > 0
        finally:
            result.restore(lm.model)
    return wins
