"""Per-fact trace files carry the key of what made them: stale ones are retraced, summaries refuse to mix.

Each case here used to give a silently wrong result: a rerun with other settings skipped
every existing file, and the summary averaged whatever files it found.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from counterfact.errors import BadInputError
from rome.cli.main import main
from rome.results.cache_key import MissingItemsError, MixedKeysError, StaleCacheError
from rome.tracing.batch import result_path, trace_facts
from rome.tracing.prepare import TraceSettings
from rome.tracing.summary import summarise
from rome.tracing.trace import TraceResult

FACTS = [
    {"known_id": 0, "subject": "Eiffel Tower", "attribute": "Paris", "prompt": "The Eiffel Tower is located in",
     "relation_id": "P1", "template": "{} is located in", "prediction": " Paris"},
    {"known_id": 1, "subject": "Danielle Darrieux", "attribute": "French",
     "prompt": "Danielle Darrieux's mother tongue is", "relation_id": "P2", "template": "{}'s mother tongue is",
     "prediction": " French"},
]


def _facts_file(tmp_path):
    p = tmp_path / "known.json"
    p.write_text(json.dumps(FACTS))
    return p


def _trace_argv(tmp_path, *extra, model="tiny-gpt2", samples=2):
    return ["trace-batch", "--model", model, "--facts", str(_facts_file(tmp_path)), "--kinds", "hidden",
            "--no-severed", "--noise", "1.0", "--samples", str(samples), "--window", "2",
            "--out-dir", str(tmp_path / "res"), *extra]


def _trace_cli(tmp_path, capsys, *extra, model="tiny-gpt2", samples=2):
    out = tmp_path / "res"
    capsys.readouterr()
    assert main(_trace_argv(tmp_path, *extra, model=model, samples=samples)) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out.strip().splitlines()[-1]), captured.err, out


def test_changed_samples_retrace_every_fact(tmp_path, capsys):
    first, _, out = _trace_cli(tmp_path, capsys, samples=2)
    assert (first["computed"], first["reused"], first["recomputed"]) == (2, 0, 0)
    again, err, _ = _trace_cli(tmp_path, capsys, samples=2)
    assert (again["reused"], again["recomputed"]) == (2, 0) and "reused 2" in err
    # refused (a StaleCacheError is bad input): exit code 2, one line naming the file and the change
    assert main(_trace_argv(tmp_path, "--refuse-stale", samples=3)) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"rome trace-batch: error: {out / 'hidden' / '0.npz'}: made under other settings")
    assert "settings.samples 2 -> 3" in err and "--refuse-stale" in err and "Traceback" not in err
    assert issubclass(StaleCacheError, BadInputError)
    changed, err, _ = _trace_cli(tmp_path, capsys, samples=3)
    assert (changed["reused"], changed["recomputed"], changed["recomputed_stale"]) == (0, 2, 2)
    assert "recomputed 2" in err
    for kid in (0, 1):
        res = TraceResult.load(result_path(out, "hidden", kid))
        assert res.settings["samples"] == 3
        assert res.meta["cache_key"]["components"]["settings"]["samples"] == 3


def test_changed_model_name_retraces_and_the_summary_names_the_traced_model(tmp_path, capsys):
    _trace_cli(tmp_path, capsys, model="tiny-gpt2")
    changed, _, out = _trace_cli(tmp_path, capsys, model="tiny-gptj")
    assert changed["recomputed"] == 2 and changed["reused"] == 0
    assert {TraceResult.load(result_path(out, "hidden", k)).model for k in (0, 1)} == {"tiny-gptj"}
    summary = summarise(out, tmp_path / "sum", "tiny-gptj", only_correct=False)
    assert summary["model"] == "tiny-gptj" and summary["n_loaded"] == 2
    with pytest.raises(MixedKeysError, match="traced with model 'tiny-gptj', not 'tiny-gpt2'"):
        summarise(out, tmp_path / "sum2", "tiny-gpt2", only_correct=False)


def test_summary_refuses_mixed_settings_and_reports_missing_facts(tiny_gpt2, tmp_path):
    out = tmp_path / "res"
    trace_facts(tiny_gpt2, FACTS[:1], out, TraceSettings(noise="1.0", samples=2, window=2), None,
                kinds=["hidden"], severed=False, progress=False)
    trace_facts(tiny_gpt2, FACTS[1:], out, TraceSettings(noise="1.0", samples=2, window=3), None,
                kinds=["hidden"], severed=False, progress=False)
    with pytest.raises(MixedKeysError, match=r"settings\.window (2 -> 3|3 -> 2)") as err:
        summarise(out, tmp_path / "sum", only_correct=False, known_ids=[0, 1])
    assert "hidden/0.npz" in str(err.value) and "hidden/1.npz" in str(err.value)
    (out / "manifest.json").unlink()  # without a manifest every file found is used: still refused
    with pytest.raises(MixedKeysError, match=r"settings\.window"):
        summarise(out, tmp_path / "sum", only_correct=False)
    # the manifest's facts are required: a missing one is an error naming its id, not skipped
    trace_facts(tiny_gpt2, FACTS, out, TraceSettings(noise="1.0", samples=2, window=2), None,
                kinds=["hidden", "mlp"], severed=False, progress=False)
    result_path(out, "mlp", 1).unlink()
    with pytest.raises(MissingItemsError, match=r"mlp: known_id 1"):
        summarise(out, tmp_path / "sum", only_correct=False)


def test_a_truncated_trace_file_is_reported_and_recomputed(tiny_gpt2, tmp_path):
    out = tmp_path / "res"
    s = TraceSettings(noise="1.0", samples=2, window=2)
    trace_facts(tiny_gpt2, FACTS, out, s, None, kinds=["hidden"], severed=False, progress=False)
    path = result_path(out, "hidden", 0)
    good = TraceResult.load(path).scores["hidden"]
    path.write_bytes(path.read_bytes()[:100])
    lines = []
    counts = trace_facts(tiny_gpt2, FACTS, out, s, None, kinds=["hidden"], severed=False, progress=False,
                         report=lines.append)
    assert (counts["recomputed_corrupted"], counts["reused"]) == (1, 1)
    assert len(lines) == 1 and str(path) in lines[0] and "corrupted" in lines[0]
    assert np.array_equal(TraceResult.load(path).scores["hidden"], good)


def test_known_ids_from_and_reuse_dir_copy_matching_traces(tmp_path, capsys):
    """``--known-ids-from`` traces the selected facts only; ``--reuse-dir`` copies another
    batch's files made under the same key (byte for byte) instead of tracing them again."""
    first, _, out = _trace_cli(tmp_path, capsys)
    sel = tmp_path / "sel.json"
    sel.write_text(json.dumps({"facts": [{"known_id": 1, "case_id": 40}]}))
    other = tmp_path / "loc"
    capsys.readouterr()
    assert main(_trace_argv(tmp_path, "--known-ids-from", str(sel), "--reuse-dir", str(out))
                + ["--out-dir", str(other)]) == 0  # the last --out-dir wins
    counts = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert counts["traced"] == 0 and counts["reused"] == 1
    assert (other / "hidden" / "1.npz").read_bytes() == (out / "hidden" / "1.npz").read_bytes()
    assert not (other / "hidden" / "0.npz").exists()
    # under other settings the other folder's file is not copied: the fact is traced
    capsys.readouterr()
    assert main(_trace_argv(tmp_path, "--known-ids-from", str(sel), "--reuse-dir", str(out), samples=3)
                + ["--out-dir", str(tmp_path / "loc3")]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["computed"] == 1
    sel.write_text(json.dumps({"facts": [{"known_id": 9, "case_id": 40}]}))
    assert main(_trace_argv(tmp_path, "--known-ids-from", str(sel))) == 2
    assert "known_id 9" in capsys.readouterr().err
