"""One 95% interval everywhere: 1.96 · σ / √N with σ the population std (divide by N),
the std the official experiments/summarize.py reports (np.std, ddof 0). Hand-computed:
values 0, 1, 1, 0 have mean 1/2 and population std 1/2, so the half-width is
1.96 · 0.5 / √4 = 0.49 (the sample std, √(1/3), would give 0.5658)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from rome.evaluation.metrics import mean_ci as metrics_mean_ci
from rome.render.sweep import mean_ci as sweep_mean_ci
from rome.render.tables import to_latex, to_markdown
from rome.results.stats_util import CI95_CAPTION, ci95_half_width, mean_ci95

VALUES = [0.0, 1.0, 1.0, 0.0]
HALF = 0.49


def test_definition_on_a_hand_computed_case():
    assert mean_ci95(VALUES) == pytest.approx((0.5, HALF, 4))
    assert ci95_half_width(0.5, 4) == pytest.approx(HALF)
    # not the sample std: 1.96 · sqrt(1/3) / 2 = 0.5658
    assert mean_ci95(VALUES)[1] != pytest.approx(1.96 * (1 / 3) ** 0.5 / 2, abs=1e-3)


def test_every_user_gives_the_same_interval():
    assert metrics_mean_ci(VALUES) == pytest.approx((0.5, HALF, 4))
    assert sweep_mean_ci(VALUES) == pytest.approx((0.5, HALF))
    # tracing's numpy path: np.std is the population std; elementwise over arrays
    arr = np.array([VALUES, [2.0, 2.0, 2.0, 2.0]]).T
    assert ci95_half_width(arr.std(0), np.array([4, 4])) == pytest.approx([HALF, 0.0])


def test_edge_cases():
    m, half, n = mean_ci95([])
    assert n == 0 and np.isnan(m) and np.isnan(half)
    assert mean_ci95([3.0, None]) == (3.0, 0.0, 1)


def test_tables_state_the_definition():
    assert "population std" in CI95_CAPTION and "1.96" in CI95_CAPTION
    assert CI95_CAPTION in to_markdown("table4", [])
    assert CI95_CAPTION in to_latex("table4", [])


def test_renderers_do_not_import_torch():
    code = ("import sys, rome.render.sweep, rome.render.tables, rome.results.stats_util; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
