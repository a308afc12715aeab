"""Per-record evaluation files carry the key of what made them; summaries take exactly the configured records.

Each case here used to give a silently wrong result: ``rome evaluate`` skipped every
existing record file (other statistics, another hyper-network), and ``rome summarize``
averaged every file in a method folder.
"""
from __future__ import annotations

import json

import pytest

from atomicio import sha256_file
from rome.cli.main import main
from rome.evaluation.counterfact_eval import GenerationSettings
from rome.evaluation.editors import IdentityEditor
from rome.evaluation.runner import EvalSettings, evaluate_records, result_path
from rome.evaluation.summary import summarize_run
from rome.results.cache_key import MissingItemsError, MixedKeysError

CORPUS_NAME = "wikitext-2/wiki.test.raw"


def _settings(method, top_k=5):
    return EvalSettings(dataset="counterfact", model="tiny-gpt2", method=method,
                        generation=GenerationSettings(tokens=12, top_k=top_k, seed=3, enabled=False))


def _records_file(folder, records):
    p = folder / "records.json"
    p.write_text(json.dumps(records))
    return p


def _evaluate(capsys, *argv):
    capsys.readouterr()
    assert main(["evaluate", "--model", "tiny-gpt2", "--no-generation", "--no-progress", *argv]) == 0
    out = capsys.readouterr()
    return json.loads(out.out.strip().splitlines()[-1]), out.err


@pytest.mark.slow
def test_changed_statistics_tokens_reevaluate_rome(tmp_path, capsys, shared_data, records):
    recs = _records_file(tmp_path, records[:1])
    common = ["--method", "rome", "--records", str(recs), "--out-dir", str(tmp_path / "eval"),
              "--stats-dir", str(tmp_path / "stats"), "--corpus", str(shared_data / CORPUS_NAME),
              "--templates-dir", str(tmp_path / "tpl")]
    first, _ = _evaluate(capsys, *common, "--stats-tokens", "2000")
    assert (first["computed"], first["recomputed"]) == (1, 0)
    doc1 = json.loads(result_path(tmp_path / "eval", "rome", 0).read_text())
    changed, err = _evaluate(capsys, *common, "--stats-tokens", "3000")
    assert (changed["reused"], changed["recomputed"], changed["recomputed_stale"]) == (0, 1, 1)
    assert "inputs.statistics" in err
    run = json.loads((tmp_path / "eval" / "rome" / "run.json").read_text())
    stats_file = run["input_files"]["statistics"]
    assert "-t3000-" in stats_file["file"] and stats_file["sha256"] == sha256_file(stats_file["file"])
    doc2 = json.loads(result_path(tmp_path / "eval", "rome", 0).read_text())
    assert doc2["cache_key"]["components"]["inputs"]["statistics"] == stats_file["sha256"]
    assert doc2["cache_key"]["digest"] != doc1["cache_key"]["digest"]
    assert doc2["edit_info"] != doc1["edit_info"] or doc2["post"] != doc1["post"]  # really recomputed


@pytest.mark.slow
def test_retrained_hypernetwork_reevaluates_ke(tmp_path, capsys, records):
    recs = _records_file(tmp_path, records[:1])
    (tmp_path / "train").mkdir()
    train = _records_file(tmp_path / "train", records)
    hn = tmp_path / "hypernets"

    def train_ke(steps):
        assert main(["train", "--method", "ke", "--variant", "cf", "--model", "tiny-gpt2", "--records", str(train),
                     "--steps", str(steps), "--batch-size", "1", "--out-dir", str(hn), "--no-progress"]) == 0
        return json.loads(capsys.readouterr().out)["checkpoint"]

    common = ["--method", "ke-cf", "--records", str(recs), "--out-dir", str(tmp_path / "eval"), "--hypernet-dir", str(hn)]
    ckpt1 = train_ke(1)
    first, _ = _evaluate(capsys, *common)
    assert first["computed"] == 1
    ckpt2 = train_ke(2)
    assert ckpt2 != ckpt1
    with pytest.warns(UserWarning, match="using the newest"):
        changed, err = _evaluate(capsys, *common)
    assert (changed["reused"], changed["recomputed"]) == (0, 1) and "inputs.hypernet_checkpoint" in err
    run = json.loads((tmp_path / "eval" / "ke-cf" / "run.json").read_text())
    assert run["input_files"]["hypernet_checkpoint"] == {"file": ckpt2, "sha256": sha256_file(ckpt2)}
    doc = json.loads(result_path(tmp_path / "eval", "ke-cf", 0).read_text())
    assert doc["cache_key"]["components"]["inputs"]["hypernet_checkpoint"] == sha256_file(ckpt2)


def test_summary_takes_exactly_the_configured_records(tiny_gpt2, records, tmp_path):
    evaluate_records(tiny_gpt2, IdentityEditor(), records, tmp_path, _settings("none"), progress=False)
    assert summarize_run(tmp_path)["rows"][0]["n_records"] == 3
    # a later run asks for 2 records (evaluation.n_records lowered): the third file stays on disk
    evaluate_records(tiny_gpt2, IdentityEditor(), records[:2], tmp_path, _settings("none"), progress=False)
    assert result_path(tmp_path, "none", 2).is_file()
    s = summarize_run(tmp_path)
    assert s["rows"][0]["n_records"] == 2 and s["rows"][0]["case_ids"] == [0, 1]
    assert summarize_run(tmp_path, case_ids=[1])["rows"][0]["n_records"] == 1
    # a configured record without its file is an error naming it, not skipped
    result_path(tmp_path, "none", 1).unlink()
    with pytest.raises(MissingItemsError, match=r"case id 1 \(1 of 2\)"):
        summarize_run(tmp_path)


def test_summary_refuses_records_made_under_other_settings(tiny_gpt2, records, tmp_path):
    evaluate_records(tiny_gpt2, IdentityEditor(), records[:2], tmp_path, _settings("none"), progress=False)
    evaluate_records(tiny_gpt2, IdentityEditor(), records[2:], tmp_path, _settings("none", top_k=7), progress=False)
    with pytest.raises(MixedKeysError, match=r"settings\.generation\.top_k (5 -> 7|7 -> 5)") as err:
        summarize_run(tmp_path, case_ids=[0, 1, 2])
    assert "case_0.json" in str(err.value) and "case_2.json" in str(err.value)


def test_a_truncated_record_file_is_reported_and_recomputed(tiny_gpt2, records, tmp_path):
    evaluate_records(tiny_gpt2, IdentityEditor(), records[:2], tmp_path, _settings("none"), progress=False)
    path = result_path(tmp_path, "none", 0)
    good = json.loads(path.read_text())
    path.write_text(path.read_text()[:50])
    lines = []
    stats = evaluate_records(tiny_gpt2, IdentityEditor(), records[:2], tmp_path, _settings("none"), progress=False,
                             report=lines.append)
    assert (stats.reuse.corrupted, stats.reuse.reused, stats.done) == (1, 1, 1)
    assert len(lines) == 1 and str(path) in lines[0]
    assert json.loads(path.read_text())["post"] == good["post"]


class _EditorBesideAParallelShard(IdentityEditor):
    """While this run edits its first record, another run into the same folder (a parallel
    shard over an overlapping range) finishes the run's second record."""

    def __init__(self, shard):
        self.shard = shard
        self.edited = 0

    def apply(self, lm, requests):
        self.edited += 1
        if self.edited == 1:
            self.shard()
        return super().apply(lm, requests)


def test_a_record_finished_meanwhile_by_a_parallel_shard_is_reused_not_recomputed(tiny_gpt2, records, tmp_path):
    settings = _settings("ident")
    shard_editor = IdentityEditor()
    shard_editor.name = "ident"
    editor = _EditorBesideAParallelShard(lambda: evaluate_records(tiny_gpt2, shard_editor, records[1:2], tmp_path,
                                                                  settings, progress=False))
    stats = evaluate_records(tiny_gpt2, editor, records, tmp_path, settings, progress=False)
    written = result_path(tmp_path, "ident", records[1]["case_id"])
    assert editor.edited == 2  # records 0 and 2; record 1 came from the shard
    assert (stats.done, stats.skipped, stats.reuse.computed, stats.reuse.reused) == (2, 1, 2, 1)
    assert written not in stats.files
    assert summarize_run(tmp_path)["rows"][0]["n_records"] == len(records)


@pytest.mark.slow
def test_other_context_templates_reevaluate_rome(tmp_path, capsys, shared_data, records):
    """ROME's results depend on the texts of its context templates, not only on their settings:
    a templates file whose texts differ (another folder, another sampler's draws) makes the
    record stale, and the run names the input."""
    recs = _records_file(tmp_path, records[:1])
    common = ["--method", "rome", "--records", str(recs), "--out-dir", str(tmp_path / "eval"),
              "--stats-dir", str(tmp_path / "stats"), "--corpus", str(shared_data / CORPUS_NAME),
              "--stats-tokens", "2000", "--templates-dir", str(tmp_path / "tpl"),
              "--set", "context_templates=[[3, 2]]"]
    first, _ = _evaluate(capsys, *common)
    assert (first["computed"], first["recomputed"]) == (1, 0)
    again, _ = _evaluate(capsys, *common)
    assert (again["reused"], again["recomputed"]) == (1, 0)
    [tpl] = (tmp_path / "tpl").glob("*.json")
    doc = json.loads(tpl.read_text())
    doc["templates"][1] = "A different context. {}"
    tpl.write_text(json.dumps(doc))
    changed, err = _evaluate(capsys, *common)
    assert (changed["reused"], changed["recomputed"], changed["recomputed_stale"]) == (0, 1, 1)
    assert "inputs.context_templates" in err
    run = json.loads((tmp_path / "eval" / "rome" / "run.json").read_text())
    assert run["input_files"]["context_templates"] == {"file": str(tpl), "sha256": sha256_file(tpl)}
    rec = json.loads(result_path(tmp_path / "eval", "rome", 0).read_text())
    assert rec["cache_key"]["components"]["inputs"]["context_templates"] == sha256_file(tpl)
