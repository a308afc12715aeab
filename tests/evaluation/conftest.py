"""Helpers for the evaluation tests: toy records and trivial editors."""
from __future__ import annotations

import pytest
import torch

from rome.editing.base import begin_edit
from toy_records import toy_record


class DeltaEditor:
    """Adds seeded noise × ``scale`` to one weight of layer 0 (a visible, exactly restorable change); counts calls."""

    name = "delta"

    def __init__(self, scale: float = 0.5, forget: bool = False):
        self.scale, self.calls, self.forget = scale, 0, forget

    def apply(self, lm, requests):
        self.calls += 1
        name = lm.spec.edit_weight_name(0)
        result = begin_edit(lm.model, [name], self.name)
        with torch.no_grad():
            w = dict(lm.model.named_parameters())[name]
            g = torch.Generator().manual_seed(0)
            w.add_(self.scale * torch.randn(w.shape, generator=g).to(w))
        if self.forget:  # a faulty editor: does not report what it changed
            result.originals.clear()
        return result


@pytest.fixture
def records():
    return [toy_record(i, s) for i, s in enumerate(["Danielle Darrieux", "Edwin of Northumbria", "Toko Yasuda"])]


@pytest.fixture
def make_record():
    return toy_record


@pytest.fixture
def delta_editor():
    return DeltaEditor
