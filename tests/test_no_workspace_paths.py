"""The library takes its folders and files from its caller (README, "Layout"): no module of
``rome`` outside the command-line layer locates the repository or the upstream data, and
the command lines' defaults (``rome.cli.paths``) never guess a sibling folder."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rome.cli.main import main

ROME = Path(__file__).resolve().parents[1] / "src" / "rome"

# what a module may not mention unless it is a command-line module
WORKSPACE_MARKERS = ("repo_root", "shared_data_dir", "Snakefile", "../shared")


def _is_cli_module(path: Path) -> bool:
    """Argparse command modules: the ``rome.cli`` package (dispatcher and default paths),
    ``cli.py``, ``*_cli.py``, or any module defining the sub-command entry ``add_arguments(parser)``."""
    if path.parent.name == "cli" or path.name == "cli.py" or path.name.endswith("_cli.py"):
        return True
    return re.search(r"^def add_arguments\(", path.read_text(encoding="utf-8"), re.MULTILINE) is not None


def test_the_static_check_sees_the_cli_layer_and_the_library():
    modules = sorted(ROME.rglob("*.py"))
    cli = [p.relative_to(ROME).as_posix() for p in modules if _is_cli_module(p)]
    assert {"cli/paths.py", "cli/main.py", "tracing/cli.py", "tracing/batch_cli.py", "editing/stats_cli.py"} <= set(cli)
    assert "editing/statistics.py" not in cli and "model/loading.py" not in cli and "model/runtime.py" not in cli


def test_no_library_module_mentions_workspace_locations():
    bad = []
    for path in sorted(ROME.rglob("*.py")):
        if _is_cli_module(path):
            continue
        text = path.read_text(encoding="utf-8")
        bad += [f"{path.relative_to(ROME)}: {m}" for m in WORKSPACE_MARKERS if m in text]
    assert not bad, bad


def test_no_library_module_defaults_to_a_folder_of_the_working_directory():
    """Default folders such as ``data/hypernets`` are decided in ``rome.cli.paths`` only."""
    bad = []
    for path in sorted(ROME.rglob("*.py")):
        if path.relative_to(ROME).as_posix() == "cli/paths.py":
            continue
        text = path.read_text(encoding="utf-8")
        bad += [f"{path.relative_to(ROME)}: {m.group(0)}" for m in re.finditer(r"""default=["'](data|figures)\b[^"']*["']""", text)]
        bad += [f"{path.relative_to(ROME)}: {m.group(0)}" for m in re.finditer(r""": str(?: \| None)? = ["']data/[^"']*["']""", text)]
    assert not bad, bad


def test_a_hypernet_editor_without_checkpoint_or_folder_says_which_options_give_one(tiny_gpt2):
    from rome.editing.hypernet import HypernetEditor

    with pytest.raises(FileNotFoundError, match=r"^mend-cf: no trained hyper-network given: .*--hypernet-checkpoint.*--hypernet-dir"):
        HypernetEditor(method="mend", variant="cf").checkpoint_path(tiny_gpt2)


def test_cli_defaults_never_guess_a_sibling_folder():
    text = (ROME / "cli" / "paths.py").read_text(encoding="utf-8")
    assert "../shared" not in text and "repo_root" not in text and ".parent" not in text


def test_runtime_no_longer_offers_location_helpers():
    import rome.model.runtime as runtime
    for name in ("repo_root", "shared_data_dir", "models_dir"):
        assert not hasattr(runtime, name), name


@pytest.mark.parametrize("argv, option", [
    (["trace", "--prompt", "{} plays", "--subject", "Jordan", "--noise", "s3"], "--known-facts"),
    (["trace-batch", "--out-dir", "OUT", "--noise", "s3"], "--facts"),
    (["trace", "--prompt", "{} plays", "--subject", "Jordan", "--noise", "m"], "--corpus"),
    (["stats", "--layers", "0"], "--corpus"),
])
def test_cli_without_upstream_input_stops_with_one_line_naming_option_and_variable(
        argv, option, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("ROME_SHARED_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    argv = [a.replace("OUT", str(tmp_path / "out")) for a in argv]
    code = main([*argv, "--model", "tiny-gpt2"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert option in err and "$ROME_SHARED_DATA" in err, err


def test_cli_with_rome_shared_data_finds_the_known_facts(monkeypatch, tmp_path, capsys):
    """The variable is honoured: the same command reads ``$ROME_SHARED_DATA/known_1000.json``."""
    facts = [{"known_id": 0, "subject": "Michael Jordan", "attribute": "basketball",
              "template": "{} plays the sport of", "prediction": " basketball",
              "prompt": "Michael Jordan plays the sport of", "relation_id": "P641"}]
    (tmp_path / "known_1000.json").write_text(json.dumps(facts), encoding="utf-8")
    monkeypatch.setenv("ROME_SHARED_DATA", str(tmp_path))
    code = main(["noise-scale", "--model", "tiny-gpt2", "--noise", "s3", "--stats-dir", str(tmp_path / "n")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out.strip().splitlines()[-1])["rule"] == "s3"


def test_models_dir_default_is_the_variable_then_the_working_directory(monkeypatch):
    from rome.cli import paths as cli_paths
    monkeypatch.delenv("ROME_MODELS_DIR", raising=False)
    assert cli_paths.models_dir(None) == Path("data/models")
    monkeypatch.setenv("ROME_MODELS_DIR", "/elsewhere/models")
    assert cli_paths.models_dir(None) == Path("/elsewhere/models")
    assert cli_paths.models_dir("given") == Path("given")
    assert cli_paths.stats_dir(None) == Path("data/stats")
    assert cli_paths.templates_dir(None) == Path("data/context_templates")


def test_the_library_refuses_a_missing_folder_instead_of_guessing():
    from rome.editing.context_templates import templates_file
    from rome.editing.statistics import StatsSettingsError, resolve_corpus
    from rome.model.loading import ModelUnavailableError, embedded_gemma_dir

    with pytest.raises(ModelUnavailableError, match="--models-dir"):
        embedded_gemma_dir(None)
    with pytest.raises(StatsSettingsError, match="no corpus given"):
        resolve_corpus(None)
    with pytest.raises(StatsSettingsError, match="local WikiText-2"):
        resolve_corpus("wikitext-2")
    with pytest.raises(ValueError, match="--templates-dir"):
        templates_file(None, [[5, 1]], 5, 0, None)
