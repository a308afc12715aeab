"""Figs. 8/9 (several models' AIE side by side) and the Fig. 16 CLI plumbing, from small fake files (no model)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from rome.model.tokens import TOKEN_CATEGORIES
from rome.render.tracing_cli import add_arguments, compare_entry, compare_models, run
from rome.tracing.aggregate import save_average
from rome.tracing.saliency_cli import prompt_from_args


def _fake_summary(folder, n_layers, kinds=("hidden", "mlp", "attn"), n_kept=3):
    rng = np.random.default_rng(n_layers)
    for kind in kinds:
        aie = rng.uniform(0, 0.3, (len(TOKEN_CATEGORIES), n_layers))
        aie[1] = np.nan   # a category no fact has (e.g. single-token subjects): must not break the drawing
        save_average({"kind": kind, "categories": list(TOKEN_CATEGORIES), "aie": aie, "ci95": aie / 10,
                      "n_kept": n_kept, "n_loaded": n_kept}, folder / f"aie_{kind}.json")
    (folder / "summary.json").write_text("{}")
    return folder


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_compare_renders_one_figure_per_kind_of_plot_from_summaries(tmp_path):
    a = _fake_summary(tmp_path / "a", n_layers=4)
    b = _fake_summary(tmp_path / "b", n_layers=7)
    args = _parse(["--compare", f"tiny-a={a}", "--compare", f"GPT-J 6B={b}", "--out-dir", str(tmp_path / "fig")])
    assert args.compare == [("tiny-a", str(a)), ("GPT-J 6B", str(b))]
    assert run(args) == 0
    names = sorted(p.name for p in (tmp_path / "fig").iterdir())
    assert names == ["fig8-models-aie-heatmaps.pdf", "fig8-models-aie-heatmaps.png",
                     "fig9-models-aie-lines.pdf", "fig9-models-aie-lines.png"]
    # deterministic bytes: re-rendering the same inputs gives the same PNG
    png = (tmp_path / "fig" / "fig8-models-aie-heatmaps.png").read_bytes()
    compare_models(args.compare, tmp_path / "fig")
    assert (tmp_path / "fig" / "fig8-models-aie-heatmaps.png").read_bytes() == png


def test_compare_rows_match_models_and_columns_the_shared_kinds(tmp_path, monkeypatch):
    import rome.render.tracing as fig

    seen = {}

    def spy(figure, stem):   # panel titles and row labels (first-column y labels), in row order
        panels = [ax for ax in figure.axes if ax.get_xlabel()]   # colour bars have no x label
        seen[Path(stem).name] = ([ax.get_title() for ax in panels], [ax.get_ylabel() for ax in panels])
        fig.plt.close(figure)
        return []

    monkeypatch.setattr(fig, "save_figure", spy)
    a = _fake_summary(tmp_path / "a", n_layers=4)
    b = _fake_summary(tmp_path / "b", n_layers=6, kinds=("hidden", "mlp"), n_kept=9)
    compare_models([("A", a), ("B", b)], tmp_path / "fig")
    # attention is missing from B, so both rows show hidden and MLP only; kind titles on the top row
    titles, ylabels = seen["fig8-models-aie-heatmaps"]
    assert titles == ["AIE, single restored layer", "AIE, restored MLP", "", ""]
    assert [ylabels[0], ylabels[2]] == ["A (3 facts)", "B (9 facts)"]
    titles, ylabels = seen["fig9-models-aie-lines"]
    assert titles == ["single restored layer", "restored MLP", "", ""]
    assert ylabels[0].startswith("A (3 facts)") and ylabels[2].startswith("B (9 facts)")


def test_compare_errors_name_the_entry(tmp_path):
    with pytest.raises(argparse.ArgumentTypeError, match="NAME=DIR"):
        compare_entry("just-a-folder")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="--compare X=.*empty.*trace-summary"):
        compare_models([("X", tmp_path / "empty")], tmp_path / "fig")


def test_saliency_prompt_from_a_known_facts_record(tmp_path):
    facts = [{"known_id": 5, "subject": "Eiffel Tower", "attribute": "Paris", "template": "{} is in",
              "prediction": " Paris", "prompt": "The Eiffel Tower is located in", "relation_id": "P131"}]
    path = tmp_path / "known.json"
    path.write_text(json.dumps(facts))
    ns = argparse.Namespace(prompt=None, subject=None, expected=None, facts=str(path), known_id=5)
    assert prompt_from_args(ns) == ("The Eiffel Tower is located in", "Eiffel Tower", "Paris")
    with pytest.raises(SystemExit, match="no record with known_id 6"):
        prompt_from_args(argparse.Namespace(**dict(vars(ns), known_id=6)))
    with pytest.raises(SystemExit, match="--prompt and --subject"):
        prompt_from_args(argparse.Namespace(prompt=None, subject=None, expected=None, facts=None, known_id=None))
