"""Library imports and calls leave global state alone: matplotlib's rcParams and backend, torch's RNG."""
from __future__ import annotations

import subprocess
import sys

import torch


def test_importing_render_modules_changes_no_matplotlib_state():
    code = (
        "import matplotlib; before = dict(matplotlib.rcParams); backend = matplotlib.rcParams['backend']\n"
        "import rome.render.style, rome.render.tracing, rome.render.sweep, rome.render.baselines\n"
        "after = dict(matplotlib.rcParams)\n"
        "changed = sorted(k for k in before if str(before[k]) != str(after[k]))\n"
        "print(changed, after['backend'] == backend)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] True"


def test_styled_applies_the_style_only_while_drawing():
    import matplotlib

    from rome.render.style import RC, styled

    seen = {}

    @styled
    def draw():
        seen["font.size"] = matplotlib.rcParams["font.size"]

    before = matplotlib.rcParams["font.size"]
    draw()
    assert seen["font.size"] == RC["font.size"]
    assert matplotlib.rcParams["font.size"] == before


def test_tiny_model_leaves_the_global_rng_alone(gpt2_tok):
    from rome.testing import tiny_model

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = tiny_model("gpt2", gpt2_tok, n_layers=1, seed=7)
    assert torch.equal(torch.rand(3), expected)  # the caller's RNG stream is undisturbed
    b = tiny_model("gpt2", gpt2_tok, n_layers=1, seed=7)
    for pa, pb in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(pa, pb)  # weights depend only on the seed
