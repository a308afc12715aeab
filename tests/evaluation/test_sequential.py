"""Sequential editing on tiny models: the stream, checkpoints, resuming to the same bytes, keys, bad input."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from rome.editing.base import begin_edit
from rome.evaluation.counterfact_eval import GenerationSettings
from rome.evaluation.sequential import (
    SequentialInputs,
    SequentialSettings,
    SequentialSettingsError,
    StreamError,
    check_batches,
    join_state,
    make_stream,
    run_sequential,
    split_state,
)
from rome.results.disabling import DisablingRule

SUBJECTS = ["Danielle Darrieux", "Edwin of Northumbria", "Toko Yasuda", "Apple A5", "Honda Civic", "Paris Hilton",
            "Tom Hanks", "Ada Lovelace", "Alan Turing", "Marie Curie"]


@pytest.fixture
def toy(make_record):
    """The evaluation tests' toy record maker (tests/evaluation/conftest.py)."""
    return make_record


def _records(make):
    return [make(i, s) for i, s in enumerate(SUBJECTS)]


class NoiseEditor:
    """Adds seeded noise to layer 0's edited weight; the noise seed comes from a counter kept as
    editor state (``state_dict``), so a resume that lost the state would give other weights."""

    name = "noise"

    def __init__(self, fail_on_call: int | None = None):
        self.calls, self.fail_on_call = 0, fail_on_call
        self.applied = 0   # apply() calls on this object (reset_state does not clear it)

    def state_dict(self):
        return {"method": "noise", "n": self.calls, "acc": {"0": torch.full((2,), float(self.calls))}}

    def load_state_dict(self, d):
        assert d["method"] == "noise" and torch.equal(d["acc"]["0"], torch.full((2,), float(d["n"])))
        self.calls = d["n"]

    def reset_state(self):
        self.calls = 0

    def apply(self, lm, requests):
        self.calls += 1
        self.applied += 1
        name = lm.spec.edit_weight_name(0)
        result = begin_edit(lm.model, [name], self.name)
        with torch.no_grad():
            w = dict(lm.model.named_parameters())[name]
            w.add_(0.05 * torch.randn(w.shape, generator=torch.Generator().manual_seed(self.calls)).to(w))
        if self.fail_on_call == self.calls:
            raise RuntimeError("injected failure")
        return result


def _settings(**kw):
    base = dict(method="noise", model="tiny-gpt2", n_edits=6, batch_size=2, eval_every=2, probe_records=2,
                generation=GenerationSettings(tokens=10, seed=1), ge_prompts=1, disabling_prompts=1)
    base.update(kw)
    return SequentialSettings(**base)


@pytest.fixture
def heldout(tiny_gpt2):
    ids = tiny_gpt2.tokenizer("The quick brown fox jumps over the lazy dog. It rained all day in the city.")["input_ids"]
    return [list(ids)]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _weights(lm):
    return {n: p.detach().clone() for n, p in lm.model.named_parameters()}


def test_stream_is_seeded_with_distinct_subjects(toy):
    recs = _records(toy) + [toy(10, "Tom Hanks"), toy(11, "tom hanks ")]  # same subject again
    a = make_stream(recs, 5, 3, seed=0)
    b = make_stream(list(reversed(recs)), 5, 3, seed=0)                          # input order does not matter
    c = make_stream(recs, 5, 3, seed=1)
    ids = lambda s: [r["case_id"] for r in s]  # noqa: E731
    assert ids(a[0]) == ids(b[0]) and ids(a[1]) == ids(b[1])
    assert ids(a[0]) != ids(c[0])
    subjects = [r["requested_rewrite"]["subject"].strip().lower() for r in a[0] + a[1]]
    assert len(subjects) == len(set(subjects)) == 8                              # stream and probes: all distinct


def test_too_many_edits_and_duplicate_subjects_in_a_batch(toy):
    recs = _records(toy)
    with pytest.raises(StreamError, match="--n-edits 11 is larger than the dataset: it has 10 records"):
        make_stream(recs, 11, 0, seed=0)
    with pytest.raises(StreamError, match="--probe-records 3"):
        make_stream(recs, 8, 3, seed=0)
    dup = recs[:3] + [toy(20, "Toko Yasuda")]
    dup[3]["requested_rewrite"]["target_new"]["str"] = "German"
    stream, _ = make_stream(dup, 4, 0, seed=0, case_ids=[0, 1, 2, 20])
    check_batches(stream, 1)                                                      # one per batch: fine
    with pytest.raises(StreamError, match=r"batch 2 \(edits 3-4\): records 2 and 20 .*conflicting targets"):
        check_batches(stream, 2)
    with pytest.raises(SequentialSettingsError, match="not a multiple of batch-size"):
        _settings(eval_every=3, batch_size=2)


def test_checkpoint_schedules_by_hand():
    assert _settings(n_edits=1000, eval_every=100).checkpoints() == [0, *range(100, 1001, 100)]
    assert _settings(n_edits=7, eval_every=3, batch_size=1).checkpoints() == [0, 3, 6, 7]
    # log: eval_every x 1, 2, 5, 10, 20, 50, ... below N, then N
    assert _settings(n_edits=1000, eval_every=100, eval_schedule="log").checkpoints() == [0, 100, 200, 500, 1000]
    assert _settings(n_edits=10000, eval_every=10, eval_schedule="log").checkpoints() == \
        [0, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]
    assert _settings(n_edits=7, eval_every=1, batch_size=1, eval_schedule="log").checkpoints() == [0, 1, 2, 5, 7]
    assert _settings(n_edits=4, eval_every=2, batch_size=1, eval_schedule="log").checkpoints() == [0, 2, 4]
    with pytest.raises(SequentialSettingsError, match="eval-schedule: one of linear, log, got 'cubic'"):
        _settings(eval_schedule="cubic")
    # the schedule is part of every checkpoint's key
    assert _settings(eval_schedule="log").as_json()["eval_schedule"] == "log"


def test_editor_state_round_trip():
    state = {"method": "a", "layers": [3, 4], "kkt": {"3": torch.eye(2), "4": torch.ones(1)}, "n": 5, "x": None}
    skeleton, tensors = split_state(state)
    json.dumps(skeleton)                                                           # JSON-ready
    back = join_state(skeleton, tensors)
    assert back["layers"] == [3, 4] and back["n"] == 5 and back["x"] is None
    assert torch.equal(back["kkt"]["3"], torch.eye(2)) and set(tensors) == {"kkt/3", "kkt/4"}


def test_resume_gives_the_same_bytes_and_restores_the_model(tiny_gpt2, heldout, tmp_path, toy):
    before = _weights(tiny_gpt2)
    inputs = SequentialInputs(records_file=str(tmp_path / "r.json"), heldout=heldout)
    Path(inputs.records_file).write_text(json.dumps(_records(toy)))
    whole = run_sequential(tiny_gpt2, NoiseEditor(), _records(toy), tmp_path / "a", _settings(), inputs, report=lambda _: None)
    assert all(torch.equal(p, before[n]) for n, p in tiny_gpt2.model.named_parameters())
    points = [c["n_edits"] for c in whole.result["checkpoints"]]
    assert points == [0, 2, 4, 6] and len(whole.result["updates"]) == 3
    assert whole.result["checkpoints"][-1]["edits"]["n"] == 6
    ratio = whole.result["checkpoints"][-1]["delta_norm_ratio"]
    assert list(ratio) == [tiny_gpt2.spec.edit_weight_name(0)] and ratio[tiny_gpt2.spec.edit_weight_name(0)] > 0
    # interrupted after the checkpoint at 2 edits (model restored), then resumed with a fresh editor
    stopped = run_sequential(tiny_gpt2, NoiseEditor(), _records(toy), tmp_path / "b", _settings(), inputs,
                             report=lambda _: None, stop_after=2)
    assert stopped.result == {}
    assert all(torch.equal(p, before[n]) for n, p in tiny_gpt2.model.named_parameters())
    assert sorted(_files(tmp_path / "b" / "noise")) == ["checkpoint-000000.json", "checkpoint-000002.json",
                                                       "checkpoint-000002.safetensors"]
    lines = []
    resumed = run_sequential(tiny_gpt2, NoiseEditor(), _records(toy), tmp_path / "b", _settings(), inputs,
                             report=lines.append)
    assert resumed.resumed_from == 2 and lines == ["rome sequential noise: resuming after 2 edits",
                                                   "rome sequential noise: checkpoint after 4 of 6 edits (0 disabling)",
                                                   "rome sequential noise: checkpoint after 6 of 6 edits (0 disabling)"]
    assert _files(tmp_path / "a" / "noise") == _files(tmp_path / "b" / "noise")
    assert sorted(_files(tmp_path / "a" / "noise")) == ["checkpoint-000000.json", "checkpoint-000002.json",
                                                       "checkpoint-000004.json", "checkpoint-000006.json",
                                                       "checkpoint-000006.safetensors", "result.json"]
    # a changed setting recomputes every checkpoint (never reuses one)
    lines.clear()
    other = run_sequential(tiny_gpt2, NoiseEditor(), _records(toy), tmp_path / "b",
                           _settings(disabling=DisablingRule(entropy_below=0.4)),
                           inputs, report=lines.append)
    assert other.resumed_from == -1 and "4 checkpoint(s)" in lines[0]
    assert other.result["cache_key"]["digest"] != whole.result["cache_key"]["digest"]
    # the same settings again: everything reused, nothing edited
    ed = NoiseEditor()
    again = run_sequential(tiny_gpt2, ed, _records(toy), tmp_path / "a", _settings(), inputs, report=lambda _: None)
    assert ed.calls == 0 and again.resumed_from == 6 and again.result == whole.result


def test_snapshots_between_checkpoints_resume_to_the_same_bytes(tiny_gpt2, heldout, tmp_path, toy):
    """With checkpoints at 0, 6 and 8 edits only, a run stopped after the snapshot at 4 edits
    resumes from it (not from 0): the editor is called for the 2 remaining batches, and the files
    end equal to a run without snapshots. A snapshot is superseded by the next checkpoint."""
    before = _weights(tiny_gpt2)
    inputs = SequentialInputs(records_file=str(tmp_path / "r.json"), heldout=heldout)
    Path(inputs.records_file).write_text(json.dumps(_records(toy)))
    settings = _settings(n_edits=8, eval_every=6)
    assert settings.checkpoints() == [0, 6, 8]
    whole = run_sequential(tiny_gpt2, NoiseEditor(), _records(toy), tmp_path / "a", settings, inputs,
                           report=lambda _: None)
    run_sequential(tiny_gpt2, NoiseEditor(), _records(toy), tmp_path / "b", settings, inputs,
                   report=lambda _: None, stop_after=4, snapshot_every=2)
    assert all(torch.equal(p, before[n]) for n, p in tiny_gpt2.model.named_parameters())
    folder = tmp_path / "b" / "noise"
    assert sorted(_files(folder)) == ["checkpoint-000000.json", "resume-000004.safetensors", "resume.json"]
    snap = json.loads((folder / "resume.json").read_text())
    assert snap["n_edits"] == 4 and snap["after_checkpoint"] == 0 and len(snap["pending"]) == 2
    ed, lines = NoiseEditor(), []
    resumed = run_sequential(tiny_gpt2, ed, _records(toy), tmp_path / "b", settings, inputs, report=lines.append,
                             snapshot_every=2)
    assert resumed.resumed_from == 4 and lines[0] == "rome sequential noise: resuming after 4 edits"
    assert lines[1:] == ["rome sequential noise: checkpoint after 6 of 8 edits (0 disabling)",
                         "rome sequential noise: checkpoint after 8 of 8 edits (0 disabling)"]
    assert ed.applied == 2   # the 2 batches after the snapshot, nothing before it
    assert _files(tmp_path / "a" / "noise") == _files(folder)
    assert resumed.result == whole.result
    assert all(torch.equal(p, before[n]) for n, p in tiny_gpt2.model.named_parameters())


def test_a_snapshot_under_other_settings_is_never_used(tiny_gpt2, heldout, tmp_path, toy):
    inputs = SequentialInputs(records_file=str(tmp_path / "r.json"), heldout=heldout)
    Path(inputs.records_file).write_text(json.dumps(_records(toy)))
    settings = _settings(n_edits=8, eval_every=6)
    run_sequential(tiny_gpt2, NoiseEditor(), _records(toy), tmp_path, settings, inputs,
                   report=lambda _: None, stop_after=4, snapshot_every=2)
    folder = tmp_path / "noise"
    doc = json.loads((folder / "resume.json").read_text())
    # a tampered snapshot (its tensors no longer match their sha256) is ignored: start from 0
    (folder / "resume-000004.safetensors").write_bytes(b"not the tensors")
    ed = NoiseEditor()
    out = run_sequential(tiny_gpt2, ed, _records(toy), tmp_path, settings, inputs, report=lambda _: None)
    assert out.resumed_from == 0 and ed.applied == 4
    assert not (folder / "resume.json").exists() and not list(folder.glob("resume-*"))
    # another setting's snapshot (another key) is deleted, never resumed from
    other = _settings(n_edits=8, eval_every=6, disabling=DisablingRule(entropy_below=0.3))
    run_sequential(tiny_gpt2, NoiseEditor(), _records(toy), tmp_path / "o", other, inputs,
                   report=lambda _: None, stop_after=4, snapshot_every=2)
    ofolder = tmp_path / "o" / "noise"
    for name in ("resume.json", "resume-000004.safetensors"):
        (folder / name).write_bytes((ofolder / name).read_bytes())
    ed = NoiseEditor()
    out = run_sequential(tiny_gpt2, ed, _records(toy), tmp_path, settings, inputs, report=lambda _: None)
    assert out.resumed_from == 8 and ed.applied == 0         # finished already: reused, nothing edited
    assert not (folder / "resume.json").exists() and not list(folder.glob("resume-*"))
    assert doc["cache_key"]["digest"] != json.loads((ofolder / "resume.json").read_text())["cache_key"]["digest"]


def test_failure_restores_the_model(tiny_gpt2, heldout, tmp_path, toy):
    before = _weights(tiny_gpt2)
    inputs = SequentialInputs(records_file=str(tmp_path / "r.json"), heldout=heldout)
    Path(inputs.records_file).write_text(json.dumps(_records(toy)))
    with pytest.raises(RuntimeError, match="injected failure"):
        run_sequential(tiny_gpt2, NoiseEditor(fail_on_call=3), _records(toy), tmp_path, _settings(), inputs,
                       report=lambda _: None)
    assert all(torch.equal(p, before[n]) for n, p in tiny_gpt2.model.named_parameters())


def _cli(args, **kw):
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.Popen([sys.executable, "-m", "rome.cli.main", "sequential", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


@pytest.fixture
def cli_inputs(tmp_path, toy):
    recs = tmp_path / "records.json"
    recs.write_text(json.dumps(_records(toy)))
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(f"Paragraph {i} tells of the city and the river and the people who live there."
                                  for i in range(40)) + "\n")
    return ["--records", str(recs), "--model", "tiny-gpt2", "--method", "ft", "--corpus", str(corpus),
            "--stats-tokens", "100", "--ppl-tokens", "60", "--generation-tokens", "10", "--probe-records", "2",
            "--ge-prompts", "1", "--disabling-prompts", "1", "--stats-dir", str(tmp_path / "stats"),
            "--templates-dir", str(tmp_path / "templates")]


def test_cli_bad_input_is_one_line_exit_2(cli_inputs, tmp_path):
    p = _cli([*cli_inputs, "--out-dir", str(tmp_path / "o"), "--n-edits", "9"])
    out, err = p.communicate(timeout=300)
    assert p.returncode == 2 and len(err.strip().splitlines()) == 1
    assert "--n-edits 9 is larger than the dataset" not in err and "--probe-records 2" in err
    p = _cli([*cli_inputs, "--out-dir", str(tmp_path / "o"), "--n-edits", "2", "--batch-size", "2",
              "--eval-every", "2", "--case-ids", "0,0"])
    out, err = p.communicate(timeout=300)
    assert p.returncode == 2 and len(err.strip().splitlines()) == 1 and "both edit subject" in err
    # a perplexity corpus that is not there is the user's input too (it was exit 1, "StatisticsError")
    p = _cli([*cli_inputs, "--out-dir", str(tmp_path / "o"), "--n-edits", "2", "--ppl-corpus",
              str(tmp_path / "missing.txt")])
    out, err = p.communicate(timeout=300)
    assert p.returncode == 2 and len(err.strip().splitlines()) == 1
    assert "missing.txt" in err and "neither a text file" in err


@pytest.mark.slow
def test_cli_killed_run_resumes_to_the_same_bytes(cli_inputs, tmp_path):
    common = [*cli_inputs, "--n-edits", "6", "--batch-size", "1", "--eval-every", "2"]
    p = _cli([*common, "--out-dir", str(tmp_path / "whole")])
    assert p.wait(timeout=600) == 0, p.stderr.read()
    # the killed run keeps snapshots between its checkpoints (they change no result byte)
    p = _cli([*common, "--out-dir", str(tmp_path / "killed"), "--snapshot-every", "1"], start_new_session=True)
    marker = tmp_path / "killed" / "ft" / "checkpoint-000002.json"
    deadline = time.time() + 600
    while not marker.exists() and p.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert marker.exists(), p.stderr.read() if p.poll() is not None else "no checkpoint in time"
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    assert not (tmp_path / "killed" / "ft" / "result.json").exists()
    p = _cli([*common, "--out-dir", str(tmp_path / "killed"), "--snapshot-every", "1"])
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    assert json.loads(out)["resumed_from"] >= 2
    assert _files(tmp_path / "whole" / "ft") == _files(tmp_path / "killed" / "ft")


@pytest.mark.parametrize("method", ["alphaedit"])
def test_registry_editors_resume_to_the_same_bytes(method, tiny_gpt2, heldout, tmp_path, toy, shared_data):
    """AlphaEdit's accumulated K Kᵀ (its ``state_dict``) travels with the checkpoint: a resumed
    run with a fresh editor ends with the same bytes as an uninterrupted one."""
    import types

    from rome.editing.registry import make_editor

    opts = types.SimpleNamespace(stats_dir=str(tmp_path / "stats"), corpus=str(shared_data / "wikitext-2" / "wiki.test.raw"),
                                 templates_dir=str(tmp_path / "tpl"), stats_tokens=None, local_corpus=None)
    inputs = SequentialInputs(records_file=str(tmp_path / "r.json"), heldout=heldout)
    Path(inputs.records_file).write_text(json.dumps(_records(toy)))
    settings = _settings(method=method, n_edits=4)
    before = _weights(tiny_gpt2)
    whole = run_sequential(tiny_gpt2, make_editor(method, tiny_gpt2, {}, opts), _records(toy), tmp_path / "a",
                           settings, inputs, report=lambda _: None)
    run_sequential(tiny_gpt2, make_editor(method, tiny_gpt2, {}, opts), _records(toy), tmp_path / "b", settings,
                   inputs, report=lambda _: None, stop_after=2)
    resumed = run_sequential(tiny_gpt2, make_editor(method, tiny_gpt2, {}, opts), _records(toy), tmp_path / "b",
                             settings, inputs, report=lambda _: None)
    assert resumed.resumed_from == 2
    assert _files(tmp_path / "a" / method) == _files(tmp_path / "b" / method)
    assert all(torch.equal(p, before[n]) for n, p in tiny_gpt2.model.named_parameters())
    last = json.loads((tmp_path / "a" / method / "checkpoint-000004.json").read_text())
    if method == "alphaedit":
        assert set(last["tensors"]["editor_state"]["dict"]) >= {"kkt"}
    assert whole.result["checkpoints"][-1]["delta_norm_ratio"]
