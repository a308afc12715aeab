"""`rome render-sequential` from hand-made result files (no model)."""
from __future__ import annotations

import json

import pytest

from atomicio import atomic_write_json
from counterfact.errors import DataError
from rome.render.sequential import load_results, render_all, table_rows


def _doc(method, ppl0, ppl_n, es, disabling):
    cps = [{"n_edits": 0, "edits": {"n": 0, "ES": None, "PS": None, "NS": None},
            "probe": {"n": 2, "ES": 0.0, "PS": 0.0, "NS": 100.0}, "GE": 600.0, "perplexity": ppl0,
            "delta_norm_ratio": {}, "disabling": 0}]
    for n, e in ((10, 100.0), (20, es)):
        cps.append({"n_edits": n, "edits": {"n": n, "ES": e, "PS": 50.0, "NS": 75.0},
                    "probe": {"n": 2, "ES": 0.0, "PS": 0.0, "NS": 50.0}, "GE": 590.0,
                    "perplexity": ppl_n if n == 20 else ppl0 * 1.1,
                    "delta_norm_ratio": {"model.layers.7.mlp.down_proj.weight": 0.01 * n}, "disabling": disabling})
    return {"producer": "rome sequential", "method": method, "settings": {"batch_size": 1}, "checkpoints": cps,
            "updates": []}


@pytest.fixture
def seq_dir(tmp_path):
    atomic_write_json(tmp_path / "seq" / "rome" / "result.json", _doc("rome", 20.0, 35.25, 90.0, 1))
    atomic_write_json(tmp_path / "seq" / "ft" / "result.json", _doc("ft", 20.0, 22.0, 100.0, 0))
    return tmp_path / "seq"


def test_table_rows_and_published_values(seq_dir):
    ours, paper = table_rows(load_results(seq_dir, ["rome", "ft"]), "gemma-3-270m")
    assert ours[0] == ["ROME", "20", "1", "90.0", "50.0", "75.0", "50.0", "590.0", "20.0 → 35.2", "1"]
    assert ours[1][0] == "FT" and ours[1][8] == "20.0 → 22.0"
    # MEMIT on GPT-J, 10,000 edits (Meng et al. 2023): ES 98.9, PS 88.6, NS 73.7
    assert paper[0][1:6] == ["10,000", "10,000", "98.9", "88.6", "73.7"]
    # AlphaEdit Table 1 (GPT-J, 2,000 edits in batches of 100): ES 99.75, PS 96.38, NS 75.48, Flu. 618.50
    alpha = next(r for r in paper if r[0].startswith("AlphaEdit"))
    assert alpha[1:8] == ["2,000", "100", "99.8", "96.4", "75.5", "–", "618.5"]


def test_render_all_writes_every_file(seq_dir, tmp_path):
    out = render_all(seq_dir, ["rome", "ft"], tmp_path / "fig", "gemma-3-270m")
    names = sorted(p.name for p in out)
    assert names == sorted(["sequential-metrics.pdf", "sequential-metrics.png", "sequential-perplexity.pdf",
                            "sequential-perplexity.png", "sequential-table.md", "sequential-table.csv",
                            "sequential-table.tex"])
    md = (tmp_path / "fig" / "sequential-table.md").read_text()
    assert "| ROME | 20 | 1 | 90.0 |" in md and "98.9" in md
    assert "\\toprule" in (tmp_path / "fig" / "sequential-table.tex").read_text()


def test_missing_and_malformed_results_are_named(seq_dir):
    with pytest.raises(FileNotFoundError, match="rome sequential --method memit"):
        load_results(seq_dir, ["memit"])
    (seq_dir / "ft" / "result.json").write_text(json.dumps({"checkpoints": []}))
    with pytest.raises(DataError, match="checkpoints"):
        load_results(seq_dir, ["ft"])


def test_a_missing_result_is_bad_input_on_the_command_line(tmp_path, capsys):
    """A method whose stream was never run: one line naming the file and the command, exit 2
    (it was exit 1, reported as an internal FileNotFoundError)."""
    from rome.cli.main import main

    code = main(["render-sequential", "--seq-dir", str(tmp_path / "nothing"), "--methods", "memit",
                 "--model", "m", "--out-dir", str(tmp_path / "fig")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "memit/result.json" in err and "rome sequential --method memit" in err


def _checkpoint(folder, n, digest, es):
    metrics = {"edits": {"n": n, "ES": es, "PS": 40.0, "NS": 70.0}, "probe": {"n": 2, "ES": 0.0, "PS": 0.0, "NS": 60.0},
               "GE": 500.0, "perplexity": 30.0 + n, "delta_norm_ratio": {}, "disabling": 0}
    key = {"digest": digest, "components": {"settings": {"batch_size": 5, "n_edits": 1000}}}
    atomic_write_json(folder / f"checkpoint-{n:06d}.json",
                      {"producer": "rome sequential", "cache_key": key, "method": "memit", "n_edits": n,
                       "metrics": metrics, "updates": [{"edits": [n - 4, n]}] if n else [], "tensors": None})


def test_an_unfinished_run_is_drawn_from_its_checkpoints_only_when_asked(seq_dir, tmp_path):
    folder = seq_dir / "memit"
    for n, es in ((0, None), (100, 90.0), (10, 95.0)):
        _checkpoint(folder, n, "k1", es)
    with pytest.raises(FileNotFoundError, match="rome sequential --method memit"):
        load_results(seq_dir, ["memit"])
    [doc] = load_results(seq_dir, ["memit"], in_progress=True)
    assert [c["n_edits"] for c in doc["checkpoints"]] == [0, 10, 100]
    assert doc["checkpoints"][-1]["perplexity"] == 130.0 and len(doc["updates"]) == 2
    ours, _ = table_rows([doc], "gemma-3-270m")
    # the last checkpoint reached, out of the run's n_edits; the batch from the run's settings
    assert ours[0][:4] == ["MEMIT", "100 of 1,000", "5", "90.0"]
    # a finished run beside it reads as before
    out = render_all(seq_dir, ["rome", "memit"], tmp_path / "fig", "gemma-3-270m", in_progress=True)
    assert "| MEMIT | 100 of 1,000 | 5 |" in (tmp_path / "fig" / "sequential-table.md").read_text()
    assert len(out) == 7


def test_checkpoints_of_two_keys_are_named_not_merged(seq_dir):
    folder = seq_dir / "memit"
    _checkpoint(folder, 0, "k1", None)
    _checkpoint(folder, 10, "k2", 95.0)
    with pytest.raises(DataError, match=r"checkpoint-000010\.json.*another cache key than checkpoint-000000\.json"):
        load_results(seq_dir, ["memit"], in_progress=True)


def test_every_method_of_a_figure_gets_its_own_colour(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from rome.render import sequential

    figures = []
    monkeypatch.setattr(sequential, "save_figure", lambda fig, stem: figures.append(fig) or [])
    methods = ["rome", "r-rome", "memit", "alphaedit", "ft", "my-editor", "other-editor"]
    docs = [_doc(m, 20.0, 30.0, 80.0, 0) for m in methods]
    sequential.render_metrics(docs, tmp_path / "m")
    sequential.render_perplexity(docs, tmp_path / "p")
    es_panel, ppl_panel = figures[0].axes[0], figures[1].axes[0]
    for ax in (es_panel, ppl_panel):
        colours = {line.get_label(): line.get_color() for line in ax.get_lines() if not line.get_label().startswith("_")}
        assert len(colours) == len(methods) and len(set(colours.values())) == len(methods), colours
    # every matrix of one method keeps that method's colour (the line style tells the layers apart)
    norm_panel = figures[1].axes[1]
    assert {line.get_color() for line in norm_panel.get_lines() if line.get_label().startswith("ROME ")} == \
        {next(line.get_color() for line in ppl_panel.get_lines() if line.get_label() == "ROME")}
    for fig in figures:
        plt.close(fig)
