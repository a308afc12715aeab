"""`rome render-sequential` from hand-made result files (no model)."""
from __future__ import annotations

import json

import pytest

from atomicio import atomic_write_json
from counterfact.errors import DataError
from rome.render.sequential import load_checkpoint_table, load_results, render_all, table_rows


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
                            "sequential-table.tex", "sequential-checkpoints.csv"])
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
    assert len(out) == 8


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


# ---- sequential-checkpoints.csv: written by every render, read back by --from-table ----

def test_the_checkpoint_table_holds_every_checkpoint_at_full_precision(seq_dir, tmp_path):
    render_all(seq_dir, ["rome", "ft"], tmp_path / "fig", "gemma-3-270m")
    lines = (tmp_path / "fig" / "sequential-checkpoints.csv").read_text().splitlines()
    assert lines[0] == ("method,batch_size,planned_edits,n_edits,edits_ES,edits_PS,edits_NS,probe_ES,probe_PS,"
                        "probe_NS,GE,perplexity,disabling,delta_norm_ratio[model.layers.7.mlp.down_proj.weight]")
    # the unedited checkpoint: no edit metrics yet, no ΔW column of its own
    assert lines[1] == "rome,1,,0,,,,0.0,0.0,100.0,600.0,20.0,0,"
    # 20 edits: 0.01 * 20 is 0.2 (repr keeps every digit of the float), perplexity 35.25 not rounded
    assert lines[3] == "rome,1,,20,90.0,50.0,75.0,0.0,0.0,50.0,590.0,35.25,1,0.2"
    assert lines[2].endswith(",22.0,1,0.1") and len(lines) == 7


def test_a_render_from_the_checkpoint_table_repeats_every_file(seq_dir, tmp_path):
    """Redrawing from the table alone gives the same table files, and the same checkpoint table
    byte for byte (so a reference run's figures survive the loss of its result folder)."""
    from rome.cli.main import main

    render_all(seq_dir, ["rome", "ft"], tmp_path / "a", "gemma-3-270m")
    assert main(["render-sequential", "--from-table", str(tmp_path / "a" / "sequential-checkpoints.csv"),
                 "--model", "gemma-3-270m", "--out-dir", str(tmp_path / "b")]) == 0
    for name in ("sequential-checkpoints.csv", "sequential-table.md", "sequential-table.csv", "sequential-table.tex"):
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "a" / name).read_bytes(), name
    assert (tmp_path / "b" / "sequential-metrics.png").stat().st_size > 0
    # --methods picks and orders
    [ft] = load_checkpoint_table(tmp_path / "a" / "sequential-checkpoints.csv", ["ft"])
    assert ft["method"] == "ft" and [p["n_edits"] for p in ft["checkpoints"]] == [0, 10, 20]
    assert ft["checkpoints"][0]["edits"] == {"ES": None, "PS": None, "NS": None}


def test_an_unfinished_method_in_the_table_reads_as_unfinished(tmp_path):
    path = tmp_path / "cp.csv"
    path.write_text("method,batch_size,planned_edits,n_edits,edits_ES,edits_PS,edits_NS,probe_ES,probe_PS,"
                    "probe_NS,GE,perplexity,disabling,delta_norm_ratio[model.layers.3.mlp.down_proj.weight]\n"
                    "memit,100,1000,500,79.4,58.9,70.3,,,68.0,445.3,48.7,0,0.56\n"
                    "memit,100,1000,0,,,,,,77.0,447.2,40.4,0,0.0\n")
    [doc] = load_checkpoint_table(path)
    assert doc["in_progress"] and [p["n_edits"] for p in doc["checkpoints"]] == [0, 500]
    assert doc["checkpoints"][1]["delta_norm_ratio"] == {"model.layers.3.mlp.down_proj.weight": 0.56}
    ours, _ = table_rows([doc], "gemma-3-270m")
    assert ours[0] == ["MEMIT", "500 of 1,000", "100", "79.4", "58.9", "70.3", "68.0", "445.3", "40.4 → 48.7", "0"]


HEADER = ("method,batch_size,planned_edits,n_edits,edits_ES,edits_PS,edits_NS,probe_ES,probe_PS,probe_NS,GE,"
          "perplexity,disabling")


@pytest.mark.parametrize(("body", "match"), [
    ("", r"line 1: empty file"),
    ("method,n_edits\nrome,0\n", r"line 1, field 'batch_size': missing column"),
    (HEADER + ",ppl\n", r"line 1, field 'ppl': unknown column"),
    (HEADER + "\nrome,1,10,0,,,,,,50.0,600.0,20.0\n", r"line 2: 12 cells for 13 columns"),
    (HEADER + "\nrome,1,10,x,,,,,,50.0,600.0,20.0,0\n", r"line 2, field 'n_edits': 'x' is not a whole number"),
    (HEADER + "\nrome,1,10,0,,,,,,50.0,six hundred,20.0,0\n", r"line 2, field 'GE': .* is not a number"),
    (HEADER + "\nrome,1,10,0,,,,,,50.0,600.0,nan,0\n", r"line 2, field 'perplexity': 'nan' is not a finite"),
    (HEADER + "\nrome,1,10,0,,,,,,50.0,600.0,20.0,-1\n", r"line 2, field 'disabling': '-1' is not a count"),
    (HEADER + "\n,1,10,0,,,,,,50.0,600.0,20.0,0\n", r"line 2, field 'method': empty"),
    (HEADER + "\nrome,1,10,0,,,,,,50.0,600.0,20.0,0\nrome,2,10,5,1,1,1,,,50.0,600.0,20.0,0\n",
     r"line 3, field 'batch_size': method 'rome': 2 here, 1 on line 2"),
    (HEADER + "\nrome,1,10,0,,,,,,50.0,600.0,20.0,0\nrome,1,10,0,,,,,,50.0,600.0,20.0,0\n",
     r"line 3, field 'n_edits': method 'rome': checkpoint 0 listed twice"),
])
def test_a_bad_checkpoint_table_is_named_by_line_and_column(tmp_path, body, match):
    path = tmp_path / "cp.csv"
    path.write_text(body)
    with pytest.raises(DataError, match=match):
        load_checkpoint_table(path)


def test_a_missing_table_or_method_is_bad_input_on_the_command_line(tmp_path, capsys):
    from rome.cli.main import main

    code = main(["render-sequential", "--from-table", str(tmp_path / "none.csv"), "--model", "m",
                 "--out-dir", str(tmp_path / "fig")])
    assert code == 2 and "none.csv" in capsys.readouterr().err
    path = tmp_path / "cp.csv"
    path.write_text(HEADER + "\nrome,1,10,0,,,,,,50.0,600.0,20.0,0\n")
    code = main(["render-sequential", "--from-table", str(path), "--methods", "memit", "--model", "m",
                 "--out-dir", str(tmp_path / "fig")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "no checkpoints of 'memit'" in err
    assert "the file has 'rome'" in err
    # the options that belong to a result folder
    with pytest.raises(SystemExit) as exc:
        main(["render-sequential", "--seq-dir", str(tmp_path), "--model", "m"])
    assert exc.value.code == 2 and "--methods is required with --seq-dir" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["render-sequential", "--from-table", str(path), "--in-progress", "--model", "m"])
    assert exc.value.code == 2
