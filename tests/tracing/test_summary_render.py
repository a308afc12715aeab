from __future__ import annotations

import json

import numpy as np
import pytest

from counterfact.errors import DataError
from rome.tracing.aggregate import average_effects, category_effects, load_average
from rome.tracing.batch import load_known_facts, trace_facts
from rome.tracing.prepare import TraceSettings
from rome.tracing.saliency import integrated_gradients
from rome.tracing.summary import summarise
from rome.tracing.trace import TraceResult

FACTS = [
    {"known_id": 0, "subject": "Eiffel Tower", "attribute": "Paris", "prompt": "The Eiffel Tower is located in", "relation_id": "P1"},
    {"known_id": 1, "subject": "Danielle Darrieux", "attribute": "French", "prompt": "Danielle Darrieux's mother tongue is", "relation_id": "P2"},
]


def _fake(correct=True, shift=0.0):
    r = TraceResult(prompt="p", subject="s", tokens=list("abcdefg"), subject_range=(1, 4), corrupt_range=(1, 4),
                    answer="x", answer_id=3, clean=0.5, corrupted=0.1, settings={}, meta={"correct": correct})
    r.scores["hidden"] = np.full((7, 3), 0.1) + shift
    r.scores["hidden"][3, 1] = 0.4 + shift
    return r


def test_category_averages_and_filter():
    ce = category_effects(_fake(), "hidden")
    assert ce[2, 1] == np.float64(0.4 - 0.1).item() or abs(ce[2, 1] - 0.3) < 1e-12  # last subject, layer 1
    assert np.isnan(ce).sum() == 0 and abs(ce[0, 0]) < 1e-12
    avg = average_effects([_fake(), _fake(shift=0.2), _fake(False, shift=5)], "hidden")
    assert avg["n_kept"] == 2 and avg["n_loaded"] == 3
    assert abs(avg["aie"][2, 1] - 0.4) < 1e-12
    assert abs(avg["ci95"][2, 1] - 1.96 * 0.1 / np.sqrt(2)) < 1e-12
    assert abs(avg["ate"] - 0.4) < 1e-12


def test_batch_resumable_summary_and_figures(tiny_gpt2, tmp_path):
    s = TraceSettings(noise="1.0", samples=2, window=2)
    out = tmp_path / "res"
    c1 = trace_facts(tiny_gpt2, FACTS, out, s, None, progress=False)
    assert (c1["traced"], c1["computed"], c1["reused"], c1["recomputed"]) == (2, 2, 0, 0)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.npz"))
    assert files == ["attn/0.npz", "attn/1.npz", "hidden/0.npz", "hidden/1.npz", "mlp/0.npz", "mlp/1.npz",
                     "severed/0.npz", "severed/1.npz"]
    c2 = trace_facts(tiny_gpt2, FACTS, out, s, None, progress=False)
    assert (c2["traced"], c2["reused"], c2["recomputed"]) == (0, 2, 0)
    summary = summarise(out, tmp_path / "sum", "tiny-gpt2", only_correct=False)
    assert summary["n_loaded"] == 2 and (tmp_path / "sum" / "summary.md").exists()
    avg = load_average(tmp_path / "sum" / "aie_mlp.json")
    assert avg["aie"].shape == (6, 4)
    import argparse

    from rome.render.tracing_cli import run
    args = argparse.Namespace(summary_dir=str(tmp_path / "sum"), results=str(out), examples="0", trace=[],
                              saliency=[], out_dir=str(tmp_path / "fig"), prefix="fig", title="tiny")
    assert run(args) == 0
    names = sorted(p.name for p in (tmp_path / "fig").iterdir())
    for stem in ("fig2-aie-heatmaps", "fig7-aie-lines", "fig3-severed", "fig10-trace-0", "fig14-severed-0"):
        assert f"{stem}.png" in names and f"{stem}.pdf" in names


def test_saliency_shapes(tiny_gpt2):
    sal = integrated_gradients(tiny_gpt2, "The Eiffel Tower is located in", "Eiffel Tower", steps=3)
    h = np.asarray(sal["scores"]["hidden"])
    assert h.shape == (len(sal["tokens"]), 4) and h.max() > 0
    # a hidden state after the last position cannot matter: the last layer's attribution is only at the last token
    assert np.all(h[:-1, -1] < 1e-6 * max(h[-1, -1], 1e-30) + 1e-12)


def test_known_facts_are_read_by_the_dataset_loader(tmp_path):
    good = [dict(f, template="{} is in", prediction=" " + f["attribute"]) for f in FACTS]
    p = tmp_path / "known.json"
    p.write_text(json.dumps(good))
    assert [f["known_id"] for f in load_known_facts(p)] == [0, 1]
    bad = [dict(good[0]), dict(good[1], prompt="Somebody else's mother tongue is")]
    p.write_text(json.dumps(bad))
    with pytest.raises(DataError, match=r"known.json, record 1, field 'prompt': does not contain the subject"):
        load_known_facts(p)
    with pytest.raises(DataError, match="file not found"):
        load_known_facts(tmp_path / "nope.json")
