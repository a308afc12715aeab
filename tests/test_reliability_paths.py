"""No path from data (reliability review, finding 4): file names built from ids stay inside their folder.

Every per-item file name built from a record id goes through ``atomicio.safe_child``; an id
that is not a plain token (``x/../../PWNED``, ``..``, an absolute path) is refused with a
message naming the record and field, and nothing is written outside the output folder.
"""
from __future__ import annotations

import json

import pytest

from atomicio import UnsafeNameError, check_plain_name, safe_child

EVIL = ["x/../../PWNED", "..", ".", "/tmp/PWNED", "a\\b", "a b", "", "é", "x" * 201]


@pytest.mark.parametrize("name", EVIL)
def test_safe_child_refuses_names_that_are_not_plain_tokens(tmp_path, name):
    with pytest.raises(UnsafeNameError, match="record 3: field case_id"):
        safe_child(tmp_path, name, "record 3: field case_id", prefix="case_", suffix=".json")


def test_safe_child_accepts_plain_ids_and_stays_inside(tmp_path):
    assert safe_child(tmp_path, 12, "id", prefix="case_", suffix=".json") == tmp_path / "case_12.json"
    assert safe_child(tmp_path, "P17-a_b.c", "id") == tmp_path / "P17-a_b.c"
    assert check_plain_name(0) == "0"
    with pytest.raises(UnsafeNameError):
        check_plain_name(True)  # a bool is not an id
    with pytest.raises(UnsafeNameError):
        check_plain_name(1.5)


def test_every_result_path_builder_refuses_an_escaping_id(tmp_path):
    from rome.editing import baseline_sweep, sweep
    from rome.evaluation import runner
    from rome.tracing import batch

    bad = "x/../../PWNED"
    with pytest.raises(UnsafeNameError, match="field case_id"):
        runner.result_path(tmp_path, "rome", bad)
    with pytest.raises(UnsafeNameError, match="field known_id"):
        batch.result_path(tmp_path, "hidden", bad)
    with pytest.raises(UnsafeNameError, match="trace kind"):
        batch.result_path(tmp_path, "../hidden", 1)
    with pytest.raises(UnsafeNameError, match="field case_id"):
        sweep.result_path(tmp_path, "last_subject", 3, bad)
    with pytest.raises(UnsafeNameError, match="field case_id"):
        sweep.pre_path(tmp_path, bad)
    setting = {"method": "ft", "layer": 1}
    with pytest.raises(UnsafeNameError, match="field case_id"):
        baseline_sweep.result_path(tmp_path, "m", setting, {"case_id": bad, "requested_rewrite": {}})
    with pytest.raises(UnsafeNameError, match="sweep method"):
        baseline_sweep.result_path(tmp_path, "m", {"method": "../x"}, {"case_id": 1, "requested_rewrite": {}})
    # plain ids still give the documented layouts
    assert runner.result_path(tmp_path, "ROME", 5) == tmp_path / "rome" / "case_5.json"
    assert batch.result_path(tmp_path, "mlp", 7) == tmp_path / "mlp" / "7.npz"
    assert sweep.result_path(tmp_path, "last_subject", 3, 5) == tmp_path / "last_subject" / "layer-03" / "case-5.json"


def test_method_slug_refuses_dot_names():
    from rome.results.layout import method_slug

    for name in ("..", ".", " .. "):
        with pytest.raises(UnsafeNameError):
            method_slug(name)
    assert method_slug("FT+L") == "ft-l"  # the registry name (rome.results.layout)
    assert method_slug("my method") == "my_method"


def test_evaluate_cli_refuses_an_escaping_case_id_and_writes_nothing(tmp_path, capsys):
    """The reproduced attack: a record whose case_id is x/../../…/PWNED."""
    from rome.cli.main import main

    rec = {"case_id": "x/../../../PWNED", "requested_rewrite": {
        "prompt": "{} plays", "subject": "Messi", "target_new": {"str": "tennis"}, "target_true": {"str": "soccer"}}}
    records = tmp_path / "records.json"
    records.write_text(json.dumps([rec]), encoding="utf-8")
    out = tmp_path / "deep" / "out"
    rc = main(["evaluate", "--method", "none", "--model", "tiny-gpt2", "--records", str(records),
               "--out-dir", str(out), "--no-generation", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.count("\n") == 0
    assert str(records) in err and "record 0" in err and "field 'case_id'" in err and "not a plain name" in err
    assert not list(tmp_path.rglob("*PWNED*"))


def test_prefix_options_must_be_plain_names(capsys):
    from rome.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["render-baselines", "--prefix", "../../x", "--out-dir", "o"])
    assert exc.value.code == 2
    assert "argument --prefix" in capsys.readouterr().err
