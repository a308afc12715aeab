"""One error style and safe files (reliability review, findings 9 and 10).

Both command lines end a failure with one line on stderr: bad input (file, record, field)
exits 2, anything else exits 1 and points at ``--debug``, which prints the traceback.
Unreadable inputs and caches name their path. Artifacts honour the umask, and a step's
output marker is only written, atomically, when the step succeeds.
"""
from __future__ import annotations

import json
import os
import stat
import sys
import types

import numpy as np
import pytest

from atomicio import CorruptFileError, atomic_save_npz, atomic_write_json, atomic_write_text, load_json, load_npz


@pytest.fixture
def boom_command(monkeypatch):
    """A ``rome boom`` sub-command that raises whatever the test sets."""
    from rome.cli import main as cli
    module = types.ModuleType("rome_test_boom")
    module.error = RuntimeError("first line\nsecond line")
    module.add_arguments = lambda parser: parser.add_argument("--out", default=None)

    def run(args):
        print('{"result": 1}')
        if module.error is not None:
            raise module.error
        return 0

    module.run = run
    monkeypatch.setitem(sys.modules, "rome_test_boom", module)
    monkeypatch.setitem(cli.COMMANDS, "boom", ("rome_test_boom", "test command"))
    return module


def test_unexpected_error_is_one_line_exit_1(boom_command, capsys):
    from rome.cli.main import main

    assert main(["boom"]) == 1
    err = capsys.readouterr().err
    assert err == "rome boom: error: RuntimeError: first line (run with --debug for the traceback)\n"


def test_debug_shows_the_traceback(boom_command, capsys):
    from rome.cli.main import main

    assert main(["boom", "--debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "second line" in err


def test_bad_input_is_one_line_exit_2(boom_command, capsys):
    from counterfact.errors import DataError
    from rome.cli.main import main

    boom_command.error = DataError("data/x.json", "must be a string", index=3, field="subject")
    assert main(["boom"]) == 2
    assert capsys.readouterr().err == "rome boom: error: data/x.json, record 3, field 'subject': must be a string\n"


def test_stdout_file_is_written_only_on_success(boom_command, tmp_path, capsys):
    from rome.cli.main import main

    marker = tmp_path / "step.done"
    assert main(["--stdout-file", str(marker), "boom"]) == 1
    assert not marker.exists()  # no empty or partial marker that looks finished
    boom_command.error = None
    assert main(["boom", "--stdout-file", str(marker)]) == 0
    assert json.loads(marker.read_text()) == {"result": 1}


def test_missing_records_file_names_the_file(tmp_path, capsys):
    from rome.cli.main import main

    missing = tmp_path / "nope.json"
    rc = main(["evaluate", "--method", "none", "--model", "tiny-gpt2", "--records", str(missing),
               "--out-dir", str(tmp_path / "o")])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("rome evaluate: error: ") and str(missing) in err and err.count("\n") == 1


def test_non_utf8_input_names_the_file(tmp_path, capsys):
    from counterfact.cli import main as cf_main
    from rome.cli.main import main

    bad = tmp_path / "records.json"
    bad.write_bytes(b'[{"case_id": 0, "subject": "Caf\xe9"}]')
    rc = main(["evaluate", "--method", "none", "--model", "tiny-gpt2", "--records", str(bad),
               "--out-dir", str(tmp_path / "o")])
    assert rc == 2
    assert f"{bad}: not UTF-8 text" in capsys.readouterr().err
    assert cf_main(["stats", str(bad)]) == 2
    assert f"{bad}: not UTF-8 text" in capsys.readouterr().err


def test_counterfact_cli_other_errors_are_one_line(tmp_path, capsys, monkeypatch):
    import counterfact.stats
    from counterfact.cli import main

    def broken(path):  # a bug (not bad input) inside a command
        raise RuntimeError("first line\nsecond line")

    monkeypatch.setattr(counterfact.stats, "read_stats", broken)
    rc = main(["tables", "--stats", str(tmp_path / "stats.json"), "--out-dir", str(tmp_path / "t")])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "RuntimeError: first line (run with --debug for the traceback)" in err


def test_truncated_npz_cache_names_the_path(tmp_path):
    path = tmp_path / "hidden" / "3.npz"
    atomic_save_npz(path, {"a": np.arange(100.0)})
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(CorruptFileError, match=rf"{path}: unreadable \.npz file"):
        load_npz(path)
    from rome.tracing.trace import TraceResult

    with pytest.raises(CorruptFileError, match=str(path)):
        TraceResult.load(path)


def test_truncated_json_cache_names_the_path(tmp_path):
    path = tmp_path / "case_1.json"
    atomic_write_json(path, {"case_id": 1, "post": {"x": 1}})
    path.write_bytes(path.read_bytes()[:10])
    with pytest.raises(CorruptFileError, match=rf"{path}: invalid JSON at line"):
        load_json(path)
    from rome.render.baselines import load_results

    with pytest.raises(CorruptFileError, match=str(path)):
        load_results(tmp_path)


def test_corpus_messages_name_the_real_config_key(tmp_path):
    from counterfact.errors import CorpusError
    from counterfact.reference_texts import build_reference_texts

    with pytest.raises(CorpusError, match=r"paths\.corpus") as exc:
        build_reference_texts([], tmp_path / "missing.raw", tmp_path / "out")
    assert "paths.wikitext" not in str(exc.value)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_artifacts_honour_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        p = atomic_write_text(tmp_path / f"a{umask}.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(p.stat().st_mode) == mode
