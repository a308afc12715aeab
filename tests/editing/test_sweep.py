"""Layer x token sweep on a tiny model with hand-written COUNTERFACT records; Fig. 5 from files."""
from __future__ import annotations

import json

import pytest

from rome.editing.hparams import load_hparams
from rome.editing.rome import ROMEEditor
from rome.editing.statistics import StatsProvider, StatsSettings
from rome.editing.sweep import RecordError, harmonic_mean, load_records, result_path, run_sweep
from testpaths import WIKITEXT2


def record(case_id, prompt, subject, new, true):
    return {
        "case_id": case_id, "pararel_idx": case_id,
        "requested_rewrite": {"prompt": prompt, "relation_id": "P0", "subject": subject,
                              "target_new": {"str": new, "id": "x"}, "target_true": {"str": true, "id": "y"}},
        "paraphrase_prompts": [f"Some text. {subject} is known for", f"Indeed. {prompt.format(subject)}"],
        "neighborhood_prompts": [prompt.format("Somebody Else"), prompt.format("Another One")],
        "attribute_prompts": [], "generation_prompts": [],
    }


RECORDS = [record(0, "{} plays the sport of", "LeBron James", "football", "basketball"),
           record(1, "The mother tongue of {} is", "Danielle Darrieux", "English", "French")]


def test_load_records_checks_fields(tmp_path):
    p = tmp_path / "cf.json"
    p.write_text(json.dumps(RECORDS))
    assert [r["case_id"] for r in load_records(p, 1)] == [0]
    bad = [dict(RECORDS[0])]
    del bad[0]["paraphrase_prompts"]
    p.write_text(json.dumps(bad))
    with pytest.raises(RecordError, match="paraphrase_prompts"):
        load_records(p)


def test_harmonic_mean():
    assert harmonic_mean([1, 1, 1]) == 1
    assert harmonic_mean([1, 0.5, 1]) == pytest.approx(0.75)
    assert harmonic_mean([1, 0, 1]) == 0


def test_sweep_writes_resumes_and_renders(tiny_gpt2, tmp_path, capsys):
    hp = load_hparams("rome", tiny_gpt2.name, {"v_steps": 2, "context_templates": [[5, 1]]})
    provider = StatsProvider(StatsSettings(corpus=WIKITEXT2, max_tokens=800, max_length=64), tmp_path / "stats",
                             prefetch_layers=[0, 1], progress=False)
    editor = ROMEEditor(hp, provider, templates_dir=tmp_path)
    out = tmp_path / "sweep"
    before = tiny_gpt2.spec.edit_weight(tiny_gpt2.model, 0).detach().clone()
    run_sweep(tiny_gpt2, editor, RECORDS, [0, 1], out_dir=out, progress=False)
    files = sorted(out.rglob("case-*.json"))
    assert len(files) == 4 * 2 * 2 + 2  # token x layer x record + unedited
    row = json.loads(result_path(out, "last_subject", 1, 0).read_text())
    assert {"efficacy", "generalization", "specificity", "score", "delta_w_norm"} <= set(row)
    assert 0 <= row["score"] <= 1
    assert (before == tiny_gpt2.spec.edit_weight(tiny_gpt2.model, 0)).all()
    # another folder with --reuse-dir: every file is copied (same key), none recomputed
    capsys.readouterr()
    run_sweep(tiny_gpt2, editor, RECORDS, [0, 1], out_dir=tmp_path / "again", progress=False, reuse_dir=out)
    assert "16 (token, layer, record) results: reused 16, computed 0 new" in capsys.readouterr().err
    assert result_path(tmp_path / "again", "last_subject", 1, 0).read_bytes() == result_path(
        out, "last_subject", 1, 0).read_bytes()
    stamp = {p: p.stat().st_mtime_ns for p in files}
    run_sweep(tiny_gpt2, editor, RECORDS, [0, 1], out_dir=out, progress=False)  # resumes: nothing redone
    assert all(p.stat().st_mtime_ns == t for p, t in stamp.items())

    from rome.render.sweep import aggregate, render_fig5
    agg = aggregate(out)
    assert set(agg["tokens"]) == {"first_subject", "last_subject", "first_subsequent", "last"}
    assert agg["tokens"]["last"][1]["score"]["n"] == 2
    written = render_fig5(out, tmp_path / "fig5")
    assert {p.suffix for p in written} == {".pdf", ".png"} and (tmp_path / "fig5.json").is_file()


def test_load_records_file_errors_come_from_the_dataset_loader(tmp_path):
    from counterfact.errors import DataError

    with pytest.raises(DataError, match="missing.json: file not found"):
        load_records(tmp_path / "missing.json")
    p = tmp_path / "bad.json"
    p.write_text('[{"case_id": 0,')
    with pytest.raises(DataError, match="bad.json, line 1: invalid JSON"):
        load_records(p)
    p.write_text('{"case_id": 0}')
    with pytest.raises(DataError, match="expected a JSON list"):
        load_records(p)
    bad = [dict(RECORDS[0], requested_rewrite=dict(RECORDS[0]["requested_rewrite"], target_true=None))]
    p.write_text(json.dumps(bad))
    with pytest.raises(RecordError, match=r"record 0, field 'requested_rewrite.target_true': .*must be an object"):
        load_records(p)


def test_score_with_delta_scores_the_edited_weight_and_restores_it_exactly(tiny_gpt2):
    import torch

    from rome.editing.sweep import score_record, score_with_delta

    weight = tiny_gpt2.spec.edit_weight(tiny_gpt2.model, 1)
    before = weight.detach().clone()
    delta = torch.randn(tiny_gpt2.spec.as_out_in(weight).shape, generator=torch.Generator().manual_seed(0))
    edited = score_with_delta(tiny_gpt2, 1, 10.0 * delta, RECORDS[0])
    assert torch.equal(weight, before)                       # restored bit for bit
    assert edited != score_record(tiny_gpt2, RECORDS[0])      # the delta was in place while scoring
    assert score_with_delta(tiny_gpt2, 1, torch.zeros_like(delta), RECORDS[0]) == score_record(tiny_gpt2, RECORDS[0])


def test_sweep_files_are_keyed_by_the_texts_of_the_context_templates(tiny_gpt2, tmp_path):
    """A sweep file made with other context templates (same settings, other texts) is stale."""
    from atomicio import sha256_file
    from rome.editing.sweep import sweep_key

    hp = load_hparams("rome", tiny_gpt2.name, {"v_steps": 2, "context_templates": [[5, 1]]})
    provider = StatsProvider(StatsSettings(corpus=WIKITEXT2, max_tokens=800, max_length=64), tmp_path / "stats",
                             prefetch_layers=[0], progress=False)
    editor = ROMEEditor(hp, provider, templates_dir=tmp_path / "tpl")
    key = sweep_key(tiny_gpt2, editor)
    tpl = editor.templates_path(tiny_gpt2)
    assert key.to_json()["components"]["inputs"] == {"context_templates": sha256_file(tpl)}
    doc = json.loads(tpl.read_text())
    doc["templates"][1] = "Another text. {}"
    tpl.write_text(json.dumps(doc))
    assert sweep_key(tiny_gpt2, editor).to_json()["digest"] != key.to_json()["digest"]


def test_select_records_by_case_id_and_reuse_from_another_sweep(tmp_path):
    """``rome sweep --case-ids-from`` / ``--reuse-dir``: records in the given order; a file of
    another sweep folder is copied only when its key and record checksum match."""
    from rome.editing.sweep import reuse_other, select_records
    from rome.results.cache_key import CacheKey, json_checksum

    assert [r["case_id"] for r in select_records(RECORDS, [1, 0], "cf.json")] == [1, 0]
    with pytest.raises(RecordError, match="case_id 5"):
        select_records(RECORDS, [0, 5], "cf.json")
    key, other_key = CacheKey({"a": 1}), CacheKey({"a": 2})
    sha = json_checksum(RECORDS[0])
    src, dest = tmp_path / "fig5", tmp_path / "loc"
    theirs = result_path(src, "last_subject", 3, 0)
    theirs.parent.mkdir(parents=True)
    theirs.write_text(json.dumps({"efficacy": 1.0, "cache_key": key.to_json(), "item_sha256": sha}))
    mine = result_path(dest, "last_subject", 3, 0)
    assert reuse_other(mine, src, dest, other_key, sha) is None and not mine.exists()
    assert reuse_other(mine, src, dest, key, "another record") is None and not mine.exists()
    assert reuse_other(mine, src, dest, key, sha)["efficacy"] == 1.0
    assert json.loads(mine.read_text()) == json.loads(theirs.read_text())
