"""Per-record result files, exact restore, and resuming without recomputation."""
from __future__ import annotations

import json

import pytest
import torch

from rome.evaluation.counterfact_eval import GenerationSettings
from rome.evaluation.editors import IdentityEditor
from rome.evaluation.generation import generate_texts
from rome.evaluation.runner import EvalSettings, RestoreError, SettingsMismatchError, evaluate_records, result_path
from rome.evaluation.summary import summarize_run


def settings(method, tokens=12):
    return EvalSettings(dataset="counterfact", model="tiny-gpt2", method=method,
                        generation=GenerationSettings(tokens=tokens, seed=3))


def test_generation_seeded_and_length(tiny_gpt2):
    prompts = ["The mother tongue of Danielle Darrieux is", "Hi"]
    a = generate_texts(tiny_gpt2, prompts, total_tokens=15, seed=1)
    b = generate_texts(tiny_gpt2, prompts, total_tokens=15, seed=1)
    c = generate_texts(tiny_gpt2, prompts, total_tokens=15, seed=2)
    assert a == b and a != c
    assert all(t.startswith(p) for t, p in zip(a, prompts))
    n_prompt = len(tiny_gpt2.tokenizer(prompts[0])["input_ids"])
    assert len(tiny_gpt2.tokenizer(a[0])["input_ids"]) >= 15 - 2  # ~15 tokens in all (re-tokenising may merge)
    assert len(tiny_gpt2.tokenizer(a[0])["input_ids"]) > n_prompt


def test_resume_recomputes_nothing(tiny_gpt2, records, delta_editor, tmp_path):
    before = {n: p.detach().clone() for n, p in tiny_gpt2.model.named_parameters()}
    ed = delta_editor()
    stats = evaluate_records(tiny_gpt2, ed, records[:2], tmp_path, settings("delta"), progress=False)
    assert (stats.done, stats.skipped, ed.calls) == (2, 0, 2)
    mtimes = {p: p.stat().st_mtime_ns for p in stats.files}
    stats2 = evaluate_records(tiny_gpt2, ed, records, tmp_path, settings("delta"), progress=False)
    assert (stats2.done, stats2.skipped, ed.calls) == (1, 2, 3)   # only the new record was edited
    assert all(p.stat().st_mtime_ns == m for p, m in mtimes.items())
    for n, p in tiny_gpt2.model.named_parameters():
        assert torch.equal(p, before[n])
    doc = json.loads(result_path(tmp_path, "delta", 2).read_text())
    assert set(doc) >= {"case_id", "method", "pre", "post"}
    post = doc["post"]
    assert len(post["rewrite_prompts_probs"]) == 1 and set(post["rewrite_prompts_probs"][0]) == {"target_new", "target_true"}
    assert len(post["neighborhood_prompts_probs"]) == 2 and len(post["text"]) == 2
    assert post["ngram_entropy"] > 0 and post["reference_score"] is None
    assert "text" not in doc["pre"]
    # the edit really changed the model's scores
    assert doc["pre"]["rewrite_prompts_probs"][0]["target_new"] != pytest.approx(post["rewrite_prompts_probs"][0]["target_new"])
    # other generation settings: every record file is stale; refused on request, else recomputed
    with pytest.raises(SettingsMismatchError, match=r"generation\.tokens 12 -> 20"):
        evaluate_records(tiny_gpt2, ed, records, tmp_path, settings("delta", tokens=20), progress=False,
                         refuse_stale=True)
    stats3 = evaluate_records(tiny_gpt2, ed, records, tmp_path, settings("delta", tokens=20), progress=False)
    assert (stats3.reuse.reused, stats3.reuse.stale, stats3.done) == (0, 3, 3)


def test_unreported_change_is_caught(tiny_gpt2, records, delta_editor, tmp_path):
    name = tiny_gpt2.spec.edit_weight_name(0)
    orig = dict(tiny_gpt2.model.named_parameters())[name].detach().clone()
    try:
        with pytest.raises(RestoreError):
            evaluate_records(tiny_gpt2, delta_editor(forget=True), records[:1], tmp_path, settings("bad"),
                             progress=False)
    finally:
        with torch.no_grad():
            dict(tiny_gpt2.model.named_parameters())[name].copy_(orig)
    assert not result_path(tmp_path, "bad", 0).exists()


def test_unedited_and_summary(tiny_gpt2, records, delta_editor, tmp_path):
    evaluate_records(tiny_gpt2, IdentityEditor(), records, tmp_path, settings("none"), progress=False)
    evaluate_records(tiny_gpt2, delta_editor(), records, tmp_path, settings("delta"), progress=False)
    doc = json.loads(result_path(tmp_path, "none", 0).read_text())
    assert doc["pre"] == doc["post"] and len(doc["post"]["text"]) == 2
    s = summarize_run(tmp_path)
    assert [r["role"] for r in s["rows"]] == ["pre-edit", "edited"]
    pre, post = s["rows"]
    assert pre["n_records"] == post["n_records"] == 3
    assert pre["metrics"]["GE"]["n"] == 3 and pre["rs_coverage"] == 0
    assert pre["metrics"]["RS"]["value"] is None
    for row in s["rows"]:
        m = row["metrics"]
        assert 0 <= m["ES"]["value"] <= 100 and 0 <= m["NS"]["value"] <= 100
