"""The strict COUNTERFACT metrics (rome.evaluation.strict, docs/evaluation.md) on hand-computed cases.

NKL on a 3-token distribution, generation matches, token accuracy on a made-up logits table,
CounterFact+ prompts of a hand-made record, the strict table from a hand-made summary, the
bad inputs (no neighbourhood prompt, a target with no token, an empty generation) and the cache
key: a record made without the strict fields is recomputed, and the paper's numbers do not move.
"""
from __future__ import annotations

import csv
import json
import math

import pytest
import torch

from rome.evaluation import strict
from rome.evaluation.counterfact_eval import GenerationSettings, score_record
from rome.evaluation.editors import IdentityEditor
from rome.evaluation.runner import EvalSettings, evaluate_records, result_path
from rome.evaluation.strict import (
    EmptyGenerationError,
    StrictSettings,
    add_cross_fields,
    counterfact_plus_prompts,
    generation_match,
    next_token_kl,
    strict_record_metrics,
)
from rome.evaluation.summary import aggregate, record_metrics, summarize_run
from rome.model import scoring
from rome.render.tables import build_blocks, render_table, to_markdown
from rome.results.cache_key import make_key

# ---- NKL: KL(P_edited || P_unedited) of the next-token distribution, nats (specificityplus e2e_analyze.py)

P_PRE = [0.5, 0.3, 0.2]
P_POST = [0.2, 0.5, 0.3]
# by hand: 0.2 ln(0.2/0.5) + 0.5 ln(0.5/0.3) + 0.3 ln(0.3/0.2)
#        = 0.2(-0.9162907) + 0.5(0.5108256) + 0.3(0.4054651) = -0.1832581 + 0.2554128 + 0.1216395
KL_POST_PRE = 0.1937942
# the other direction, 0.5 ln(0.5/0.2) + 0.3 ln(0.3/0.5) + 0.2 ln(0.2/0.3) = 0.4581454 - 0.1532477 - 0.0810930
KL_PRE_POST = 0.2238047


def logp(p):
    return torch.tensor(p, dtype=torch.float32).log()


def test_nkl_on_a_three_token_distribution():
    # the default is the specificityplus code: KL(post || pre) divided by |V| = 3 (its
    # kl_div(..., reduction="batchmean") on a 1-D vector)
    assert next_token_kl(logp(P_PRE), logp(P_POST)) == pytest.approx(KL_POST_PRE / 3, abs=1e-7)
    official = torch.nn.functional.kl_div(logp(P_PRE), logp(P_POST), log_target=True, reduction="batchmean")
    assert float(official) == pytest.approx(KL_POST_PRE / 3, abs=1e-6)
    # the divergence itself, both directions (not symmetric)
    assert next_token_kl(logp(P_PRE), logp(P_POST), reduction="sum") == pytest.approx(KL_POST_PRE, abs=1e-6)
    assert next_token_kl(logp(P_PRE), logp(P_POST), "unedited_edited", "sum") == pytest.approx(KL_PRE_POST, abs=1e-6)
    assert next_token_kl(logp(P_PRE), logp(P_POST), "unedited_edited") == pytest.approx(KL_PRE_POST / 3, abs=1e-7)
    assert next_token_kl(logp(P_PRE), logp(P_PRE)) == 0.0
    with pytest.raises(ValueError, match="one shape"):
        next_token_kl(logp(P_PRE), logp([0.5, 0.5]))
    with pytest.raises(ValueError, match="nkl_direction"):
        StrictSettings(nkl_direction="pre_post")
    with pytest.raises(ValueError, match="nkl_reduction"):
        StrictSettings(nkl_reduction="mean")


def test_cross_fields_compare_the_edited_model_with_the_unedited_one():
    pre = {"neighborhood_prompts_argmax": [[5, 7], [9]]}
    post = {"neighborhood_prompts_argmax": [[5, 8], [9]]}
    pre_d = {"neighborhood_prompts": [logp(P_PRE), logp(P_PRE)], "distracting_neighborhood_prompts": [logp(P_PRE)]}
    post_d = {"neighborhood_prompts": [logp(P_POST), logp(P_PRE)], "distracting_neighborhood_prompts": [logp(P_POST)]}
    add_cross_fields(post, pre, pre_d, post_d, StrictSettings(nkl_reduction="sum"))
    assert post["neighborhood_prompts_kl"] == pytest.approx([KL_POST_PRE, 0.0], abs=1e-6)
    assert post["distracting_neighborhood_prompts_kl"] == pytest.approx([KL_POST_PRE], abs=1e-6)
    assert post["neighborhood_prompts_agree"] == [[1, 0], [1]]
    m = strict_record_metrics(post)
    assert m["NKL"] == pytest.approx(KL_POST_PRE / 2, abs=1e-6) and m["NKL+"] == pytest.approx(KL_POST_PRE, abs=1e-6)
    assert m["NS-acc"] == pytest.approx((0.5 + 1.0) / 2)        # per prompt share of tokens, then the mean
    # the settings choose direction and reduction; the default is the code's
    add_cross_fields(post, pre, pre_d, post_d, StrictSettings(nkl_direction="unedited_edited"))
    assert post["neighborhood_prompts_kl"] == pytest.approx([KL_PRE_POST / 3, 0.0], abs=1e-7)
    add_cross_fields(post, pre, pre_d, post_d)
    assert post["neighborhood_prompts_kl"] == pytest.approx([KL_POST_PRE / 3, 0.0], abs=1e-7)


# ---- generation efficacy: the greedy continuation begins with the target (normalised)

@pytest.mark.parametrize("continuation, target, expected", [
    (" English and French", "English", True),
    ("English", "English", True),
    ("\n  english.", "English", True),              # leading whitespace and case are normalised away
    (" ENGLISH, mostly", "English", True),
    (" New   York City", "New York", True),        # inner runs of whitespace count as one space
    (" Englishman", "English", False),              # the target must end a word
    (" French", "English", False),
    (" The English", "English", False),             # begins with something else
    (" U.S.A. and", "U.S.", True),                  # a target ending in punctuation needs no word end
])
def test_generation_match(continuation, target, expected):
    assert generation_match(continuation, target) is expected


@pytest.mark.parametrize("continuation", ["", "   ", "\n\n"])
def test_an_empty_generation_is_an_error_not_a_miss(continuation):
    with pytest.raises(EmptyGenerationError, match="empty after normalisation"):
        generation_match(continuation, "English")
    with pytest.raises(EmptyGenerationError, match="target"):
        generation_match(" English", "  ")


def test_an_empty_greedy_continuation_is_reported_naming_record_and_field(tiny_gpt2, make_record, monkeypatch):
    monkeypatch.setattr(strict, "greedy_continuations", lambda lm, prompts, n: ["", " english is", " French"])
    lines = []
    block = score_record(tiny_gpt2, make_record(4), GenerationSettings(enabled=False), strict=StrictSettings(),
                         greedy=True, report=lines.append)
    assert block["rewrite_prompts_gen_match"] == [0] and block["paraphrase_prompts_gen_match"] == [1, 0]
    assert block["rewrite_prompts_greedy"] == [""]
    assert len(lines) == 1 and "record 4, field 'rewrite_prompts[0]'" in lines[0] and "empty" in lines[0]
    m = record_metrics(block, "counterfact")
    assert (m["ES-gen"], m["PS-gen"]) == (0.0, 0.5)           # counted, never dropped


# ---- token accuracy (EasyEdit's test_prediction_acc) on a made-up logits table

class _Tok:
    pad_token_id = 0
    eos_token_id = 0


class _LM:
    tokenizer = _Tok()
    device = torch.device("cpu")


# logits per (sequence, position) over a vocabulary of 4; the scored positions are marked
TABLE = {
    (0, 1): [0.1, 0.2, 3.0, 0.5],   # predicts target token 1 of pair 0 (gold 2): argmax 2, right
    (0, 2): [2.0, 0.1, 0.3, 1.0],   # predicts target token 2 of pair 0 (gold 3): argmax 0, wrong
    (1, 2): [0.0, 0.0, 0.0, 1.0],   # predicts the one target token of pair 1 (gold 3): right
}


def test_token_accuracy_on_a_made_up_logits_table(monkeypatch):
    def fake_hidden(lm, ids, mask):
        out = torch.zeros(ids.shape[0], ids.shape[1], 4)
        for (row, col), vals in TABLE.items():
            if row < ids.shape[0] and col < ids.shape[1]:
                out[row, col] = torch.tensor(vals)
        return out

    monkeypatch.setattr(scoring, "final_hidden", fake_hidden)
    monkeypatch.setattr(scoring, "head_logits", lambda lm, h: h)
    # one batch of two equally long rows, in this order (the batch planner sorts by length):
    # pair 0 = prompt [1, 1], target [2, 3]; pair 1 = prompt [1, 1, 1], target [3]
    got = scoring.score_token_ids(_LM(), [([1, 1], [2, 3]), ([1, 1, 1], [3])], batch_size=8, keep_next=[0])
    assert got[0].correct == [1, 0] and got[0].argmax == [2, 0]
    assert got[1].correct == [1] and got[1].argmax == [3]
    assert torch.allclose(got[0].next_logp, torch.log_softmax(torch.tensor(TABLE[(0, 1)]), dim=0))
    assert got[1].next_logp is None
    # ES-acc of a rewrite prompt with those two tokens; PS-acc over two paraphrases: (1/2 + 1) / 2
    m = strict_record_metrics({"rewrite_prompts_correct": [got[0].correct],
                               "paraphrase_prompts_correct": [got[0].correct, got[1].correct]})
    assert m["ES-acc"] == 0.5 and m["PS-acc"] == 0.75
    assert m["NS+"] is None and m["NKL"] is None                  # absent fields are None, not 0


# ---- CounterFact+ prompts (specificityplus compute_rewrite_quality_counterfact)

def test_counterfact_plus_prompts_of_a_hand_made_record(make_record):
    record = make_record(0)
    assert counterfact_plus_prompts(record) == [
        "The mother tongue of Danielle Darrieux is English. The mother tongue of Léon Blum is",
        "The mother tongue of Danielle Darrieux is English. The native language of Jean Gabin is",
    ]


@pytest.mark.parametrize("new", ["English", "Old Church Slavonic"])   # one token (one row per prompt) / several
def test_counterfact_plus_scores_and_summary_columns(tiny_gpt2, make_record, new):
    record = make_record(0)
    record["requested_rewrite"]["target_new"]["str"] = new
    dists: dict = {}
    block = score_record(tiny_gpt2, record, GenerationSettings(enabled=False), strict=StrictSettings(), dists=dists)
    plus = block["distracting_neighborhood_prompts_probs"]
    want = scoring.score_targets(tiny_gpt2, [(p, " " + t) for p in counterfact_plus_prompts(record)
                                             for t in (new, "French")])
    assert len(dists["distracting_neighborhood_prompts"]) == 2 and len(dists["neighborhood_prompts"]) == 2
    assert [x for d in plus for x in (d["target_new"], d["target_true"])] == pytest.approx([w.nll for w in want])
    ns_plus = sum(d["target_true"] < d["target_new"] for d in plus) / 2
    agg = aggregate([record_metrics(block, "counterfact")], "counterfact")
    assert agg["NS+"]["value"] == pytest.approx(100 * ns_plus) and agg["NS+"]["n"] == 1
    assert agg["ES-gen"]["n"] == 0                                # no greedy texts asked for: N says so


def test_the_papers_numbers_do_not_move(tiny_gpt2, make_record):
    record = make_record(0)
    plain = score_record(tiny_gpt2, record, GenerationSettings(tokens=12, seed=3))
    with_strict = score_record(tiny_gpt2, record, GenerationSettings(tokens=12, seed=3), strict=StrictSettings(),
                               greedy=True, dists={})
    for key, value in plain.items():
        assert with_strict[key] == value, key                    # bit for bit, texts included


# ---- bad input: one line naming the record and field

def _evaluate(tmp_path, records, *extra):
    from rome.cli.main import main

    path = tmp_path / "r.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    rc = main(["evaluate", "--method", "none", "--model", "tiny-gpt2", "--records", str(path),
               "--out-dir", str(tmp_path / "out"), "--no-generation", "--no-progress", *extra])
    return rc, path


def test_a_record_without_neighbourhood_prompts_is_refused(tmp_path, capsys, make_record):
    bad = make_record(1)
    bad["neighborhood_prompts"] = []
    rc, path = _evaluate(tmp_path, [make_record(0), bad])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert f"{path}, record 1, field 'neighborhood_prompts': no neighbourhood prompts" in err
    assert not list(tmp_path.rglob("case_*.json"))


def test_a_target_that_tokenizes_to_nothing_is_refused(tmp_path, capsys, make_record):
    from rome.evaluation.cli import check_record_targets
    from rome.model.record_prompts import RecordError

    # a blank target is refused by the records check, before the model loads
    bad = make_record(7)
    bad["requested_rewrite"]["target_new"]["str"] = "   "
    rc, path = _evaluate(tmp_path, [make_record(0), bad])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert f"{path}, record 1, field 'requested_rewrite.target_new.str'" in err
    assert not list(tmp_path.rglob("case_*.json"))

    # a non-blank target the tokenizer turns into no token (a tokenizer that drops "\u200b")
    class DropsZeroWidth:
        def __call__(self, text, add_special_tokens=True):
            return {"input_ids": [ord(c) for c in text if c not in " \u200b"]}

    class Stub:
        tokenizer = DropsZeroWidth()

    odd = make_record(9)
    odd["requested_rewrite"]["target_true"]["str"] = "\u200b"
    with pytest.raises(RecordError, match=r"r.json: record 9: field 'requested_rewrite.target_true.str': "
                                          r"target .* tokenizes to nothing"):
        check_record_targets(Stub(), [make_record(0), odd], "r.json")


# ---- cache key: records of the code before the strict fields are recomputed, not half-reused

def _settings(**strict_kw):
    return EvalSettings(dataset="counterfact", model="tiny-gpt2", method="none",
                        generation=GenerationSettings(tokens=12, seed=3, enabled=False),
                        strict=StrictSettings(**strict_kw))


def test_a_record_made_without_the_strict_fields_is_recomputed(tiny_gpt2, records, tmp_path):
    settings = _settings()
    evaluate_records(tiny_gpt2, IdentityEditor(), records[:2], tmp_path, settings, progress=False)
    # make the files look like the earlier code's: its settings had no "strict" part, its blocks no strict fields
    old = {k: v for k, v in settings.as_json().items() if k != "strict"}
    old_key = make_key("evaluate", tiny_gpt2, old, {}, settings.generation.seed)
    for cid in (0, 1):
        path = result_path(tmp_path, "none", cid)
        doc = json.loads(path.read_text())
        for block in (doc["pre"], doc["post"]):
            for field in [k for k in block if k not in ("rewrite_prompts_probs", "paraphrase_prompts_probs",
                                                       "neighborhood_prompts_probs", "attribute_prompts_probs")]:
                del block[field]
        doc["cache_key"] = old_key.to_json()
        path.write_text(json.dumps(doc))
    lines = []
    stats = evaluate_records(tiny_gpt2, IdentityEditor(), records[:2], tmp_path, settings, progress=False,
                             report=lines.append)
    assert (stats.done, stats.skipped) == (2, 0)
    doc = json.loads(result_path(tmp_path, "none", 0).read_text())
    assert "distracting_neighborhood_prompts_probs" in doc["post"] and doc["post"]["neighborhood_prompts_kl"] == [0.0, 0.0]
    assert summarize_run(tmp_path)["rows"][0]["metrics"]["NS+"]["n"] == 2


def test_strict_settings_are_part_of_the_key_and_zsre_keys_do_not_change():
    on, off, slack = _settings().as_json(), _settings(enabled=False).as_json(), _settings(match_slack=5).as_json()
    assert on["strict"] != off["strict"] and on["strict"] != slack["strict"]
    assert "strict" not in EvalSettings(dataset="zsre").as_json()
    with pytest.raises(ValueError, match="match_slack"):
        StrictSettings(match_slack=-1)


# ---- the strict table beside Table 4 (rome.render.tables) from a hand-made summary

def _metric(v, ci=1.0, n=10):
    return {"value": v, "ci": ci, "n": n}


STRICT_VALUES = {  # S ES PS NS NM | NS+ NM+ NKL NKL+ ES-gen PS-gen ES-acc PS-acc NS-acc
    "none": (30.0, 20.0, 25.0, 80.0, 5.0, 78.0, 4.0, 0.0, 0.0, 10.0, 8.0, 30.0, 28.0, 100.0),
    "rome": (90.0, 100.0, 90.0, 70.0, 3.0, 40.0, -2.0, 0.125, 0.5, 60.0, 30.0, 95.0, 70.0, 97.0),
    "ft": (40.0, 100.0, 50.0, 30.0, -8.0, 20.0, -9.0, 0.75, 1.25, 90.0, 40.0, 99.0, 60.0, 80.0),
}
COLUMNS = ("S", "ES", "PS", "NS", "NM", "NS+", "NM+", "NKL", "NKL+", "ES-gen", "PS-gen", "ES-acc", "PS-acc", "NS-acc")


def strict_summary():
    rows = []
    for method, vals in STRICT_VALUES.items():
        metrics = {c: _metric(v, None if c == "S" else 1.0) for c, v in zip(COLUMNS, vals)}
        if method == "rome":
            metrics["ES-gen"]["n"] = 7                      # three records without that value
        rows.append({"label": "gemma-3-270m" if method == "none" else method, "method": method,
                     "role": "pre-edit" if method == "none" else "edited", "n_records": 10, "metrics": metrics})
    return {"model": "gemma-3-270m", "dataset": "counterfact", "rows": rows}


def test_strict_table_from_a_hand_made_summary(tmp_path):
    blocks = build_blocks("table4-strict", [strict_summary()])
    pre, rome, ft = blocks[0].rows
    assert "best" in rome.marks["NKL"] and "best" not in ft.marks.get("NKL", set())      # lower is better
    assert "best" in ft.marks["ES-gen"] and "best" in rome.marks["S"]
    assert "below" in ft.marks["NS"] and "below" not in ft.marks.get("NS+", set())      # no thresholds on strict columns
    assert blocks[1].model == "paper:gpt2-xl"                                           # Table 4's orientation rows
    paper_rome = blocks[1].rows[-1]
    assert paper_rome.values["S"] == 89.2 and paper_rome.values.get("NS+") is None
    md = to_markdown("table4-strict", blocks)
    assert "| Editor | S | ES | PS | NS | NM | NS+ | NM+ | NKL | NKL+ | ES-gen |" in md
    assert "| ROME | **90.0** |" in md and "**0.125 ± 1.00**" in md                       # NKL: 3 significant digits
    assert "NKL / NKL+: KL(edited ‖ unedited) / |V| of" in md        # no settings in the summary: the code's default
    assert "Columns with fewer records than their row: ROME: ES-gen N = 7." in md
    assert "gemma-3-270m (ours, N = 10)" in md
    path = tmp_path / "s.json"
    path.write_text(json.dumps(strict_summary()))
    md_file, csv_file, tex_file = render_table("table4-strict", [path], tmp_path / "out")
    assert md_file.name == "table4-strict.md"
    head, *lines = list(csv.reader(csv_file.read_text().splitlines()))
    assert head[:5] == ["block", "model", "source", "editor", "n_records"] and "ES-gen_n" in head
    rome_line = next(line for line in lines if line[2:4] == ["ours", "ROME"])
    assert rome_line[head.index("ES-gen_n")] == "7" and rome_line[head.index("NKL")] == "0.125"
    assert "0.125$\\pm$1.00" in tex_file.read_text()


def test_strict_table_says_which_nkl_its_runs_computed():
    """The caption follows the run's settings; a summary from before the setting (strict-1) held the sum."""
    s = strict_summary()
    s["settings"] = {"rome": {"strict": {"enabled": True, "nkl_direction": "unedited_edited", "nkl_reduction": "sum"}}}
    assert "NKL / NKL+: KL(unedited ‖ edited) of" in to_markdown("table4-strict", build_blocks("table4-strict", [s]))
    s["settings"] = {"rome": {"strict": {"enabled": True, "version": "strict-1"}}}
    assert "NKL / NKL+: KL(edited ‖ unedited) of" in to_markdown("table4-strict", build_blocks("table4-strict", [s]))
    tiny = strict_summary()
    tiny["rows"][1]["metrics"]["NKL"] = _metric(1.94e-6, 2.5e-7)
    md = to_markdown("table4-strict", build_blocks("table4-strict", [tiny]))
    assert "**1.94e-06 ± 2.50e-07**" in md


def test_table4_itself_is_unchanged_by_the_strict_columns():
    md = to_markdown("table4", build_blocks("table4", [strict_summary()]))
    assert "NS+" not in md and "fewer records" not in md and math.isfinite(len(md))
