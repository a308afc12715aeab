"""Bad input refused at the door (reliability review, findings 3, 7 and the input half of 9).

Each case used to give a silently wrong result or a traceback deep inside; now it is one
line naming the file / record / field or the option, before anything is computed.
"""
from __future__ import annotations

import json
import re

import pytest
import torch

from counterfact.errors import DataError
from testpaths import MODELS_DIR


def _record(cid, subject="Messi"):
    return {"case_id": cid, "requested_rewrite": {"prompt": "{} plays the sport of", "subject": subject,
                                                  "target_new": {"str": "tennis"},
                                                  "target_true": {"str": "soccer"}},
            "paraphrase_prompts": [f"{subject} is a player of"], "neighborhood_prompts": ["Ronaldo plays"]}


# -- finding 7: records lost or mis-selected ------------------------------------------------

def test_duplicate_case_ids_name_both_records(tmp_path):
    from counterfact.records import check_record_ids

    path = tmp_path / "r.json"
    with pytest.raises(DataError, match=r"r\.json, record 2, field 'case_id': duplicate case_id 5: records 0 and 2"):
        check_record_ids([_record(5), _record(6), _record(5)], path)


def test_evaluate_refuses_duplicate_ids_before_evaluating(tmp_path, capsys):
    from rome.cli.main import main

    records = tmp_path / "r.json"
    records.write_text(json.dumps([_record(1), _record(1)]), encoding="utf-8")
    rc = main(["evaluate", "--method", "none", "--model", "tiny-gpt2", "--records", str(records),
               "--out-dir", str(tmp_path / "out"), "--no-generation", "--no-progress"])
    assert rc == 2
    assert "duplicate case_id 1: records 0 and 1" in capsys.readouterr().err
    assert not list((tmp_path).rglob("case_*.json"))


def _defect(kind):
    r = _record(1)
    rw = r["requested_rewrite"]
    if kind == "prompt_without_slot":     # used to be evaluated on the bare prompt, subject never read
        rw["prompt"] = "Messi plays the sport of"
    elif kind == "target_not_object":     # a bare string instead of {"str", "id"}
        rw["target_new"] = "tennis"
    elif kind == "missing_target_true":
        del rw["target_true"]
    elif kind == "paraphrases_not_strings":
        r["paraphrase_prompts"] = [3]
    return [_record(0), r]


@pytest.mark.parametrize("kind, field", [("prompt_without_slot", "requested_rewrite.prompt"),
                                         ("target_not_object", "requested_rewrite.target_new"),
                                         ("missing_target_true", "requested_rewrite.target_true"),
                                         ("paraphrases_not_strings", "paraphrase_prompts")])
def test_evaluate_refuses_a_record_it_would_misread_before_evaluating(tmp_path, capsys, kind, field):
    from rome.cli.main import main

    records = tmp_path / "r.json"
    records.write_text(json.dumps(_defect(kind)), encoding="utf-8")
    rc = main(["evaluate", "--method", "none", "--model", "tiny-gpt2", "--records", str(records),
               "--out-dir", str(tmp_path / "out"), "--no-generation", "--no-progress"])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert f"{records}, record 1, field '{field}'" in err
    assert not list((tmp_path).rglob("case_*.json"))


def _zsre_record(cid, **change):
    r = {"case_id": cid, "requested_rewrite": {"prompt": "{} plays", "subject": "Messi", "target_new": {"str": "tennis"},
                                              "target_true": {"str": "<|endoftext|>"}},
         "paraphrase_prompts": ["What does Messi play?"], "neighborhood": {"prompt": "who wrote it", "target": "Ann"}}
    r.update(change)
    return r


@pytest.mark.parametrize("change, expected", [
    ({"neighborhood": None}, "missing field"),
    ({"neighborhood": {"prompt": 5, "target": "Ann"}}, "field 'neighborhood.prompt' must be a string"),
    ({"paraphrase_prompts": "What does Messi play?"}, "field 'paraphrase_prompts' must be a list of strings")])
def test_evaluate_refuses_a_converted_zsre_record_it_would_misread(tmp_path, capsys, change, expected):
    from rome.cli.main import main

    records = tmp_path / "z.json"
    records.write_text(json.dumps([_zsre_record(0), _zsre_record(1, **change)]), encoding="utf-8")
    rc = main(["evaluate", "--method", "none", "--dataset", "zsre", "--model", "tiny-gpt2", "--records", str(records),
               "--out-dir", str(tmp_path / "out"), "--no-progress"])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{records}, record 1: " in err and expected in err, err
    assert not (tmp_path / "out").exists()


def test_duplicate_known_ids_name_both_records(tmp_path):
    from counterfact.known_facts import validate_known_facts

    fact = {"known_id": 3, "subject": "Japan", "attribute": "Asia", "template": "{} is in",
            "prediction": " Asia", "prompt": "Japan is in", "relation_id": "P30"}
    with pytest.raises(DataError, match="duplicate known_id 3: records 0 and 1"):
        validate_known_facts([fact, dict(fact)], "k.json")


@pytest.mark.parametrize("argv, option", [
    (["evaluate", "--method", "none", "--records", "r.json", "--out-dir", "o", "--limit", "-1"], "--limit"),
    (["evaluate", "--method", "none", "--records", "r.json", "--out-dir", "o", "--start", "-1"], "--start"),
    (["evaluate", "--method", "none", "--records", "r.json", "--out-dir", "o", "--batch-size", "0"], "--batch-size"),
    (["trace-batch", "--out-dir", "o", "--limit", "-1"], "--limit"),
    (["trace-batch", "--out-dir", "o", "--samples", "0"], "--samples"),
    (["trace-batch", "--out-dir", "o", "--window", "0"], "--window"),
    (["stats", "--layers", "0", "--tokens", "-5"], "--tokens"),
    (["stats", "--layers", "0", "--batch-size", "0"], "--batch-size"),
    (["stats", "--layers", "0", "--samples", "0"], "--samples"),
    (["evaluate", "--method", "rome", "--records", "r.json", "--out-dir", "o", "--stats-tokens", "-1"],
     "--stats-tokens"),
    (["train", "--method", "ke", "--batch-size", "0"], "--batch-size"),
])
def test_non_positive_numeric_options_are_refused_naming_the_option(argv, option, capsys):
    from rome.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err and ("must be" in err)


def test_select_records_refuses_negative_range():
    from rome.evaluation.cli import SelectionError, select_records

    recs = [_record(i) for i in range(3)]
    with pytest.raises(SelectionError, match="--start and --limit must be >= 0"):
        select_records(recs, start=-1)
    with pytest.raises(SelectionError, match="--start and --limit must be >= 0"):
        select_records(recs, limit=-1)
    assert [r["case_id"] for r in select_records(recs, 1, 1)] == [1]


@pytest.mark.parametrize("tokens", [0, -5])
def test_non_positive_statistics_token_budget_is_refused(tokens):
    """A negative stats.tokens silently used a few hundred tokens (ΔW norm 65.6 instead of 1.2)."""
    from rome.editing.hparams import load_hparams
    from rome.editing.statistics import StatsProvider, StatsSettings, StatsSettingsError

    with pytest.raises(StatsSettingsError, match=r"token budget \(stats.tokens.*must be a positive integer"):
        StatsSettings(max_tokens=tokens)
    with pytest.raises(StatsSettingsError, match="stats.tokens"):
        StatsProvider.from_hparams(load_hparams("rome", "tiny"), "stats", corpus="corpus.txt", tokens=tokens)


def test_set_v_steps_zero_is_refused_naming_the_option(tiny_gpt2):
    from rome.editing.hparams import HparamsError
    from rome.editing.registry import make_editor

    with pytest.raises(HparamsError, match=r"--set v_steps=0: rome hyperparameter 'v_steps' must be a positive"):
        make_editor("rome", tiny_gpt2, {"v_steps": 0})
    with pytest.raises(HparamsError, match="--set lr=-0.1"):
        make_editor("ft", tiny_gpt2, {"lr": -0.1})


def test_hparams_built_in_code_get_the_same_range_checks():
    """The typed hyperparameter classes refuse what load_hparams refuses, naming the key."""
    from rome.editing.hparams import FTHparams, HparamsError, KNHparams, ROMEHparams

    with pytest.raises(HparamsError, match=r"'v_steps' must be a positive integer, got 0"):
        ROMEHparams(layer=1, v_steps=0)
    with pytest.raises(HparamsError, match=r"'layer' must be an integer >= 0, got -1"):
        ROMEHparams(layer=-1)
    with pytest.raises(HparamsError, match=r"'mom2_tokens' must be a positive integer or null"):
        ROMEHparams(layer=1, mom2_tokens=-5)
    with pytest.raises(HparamsError, match=r"'epsilon' must be a positive number or null"):
        FTHparams(layer=0, lr=0.1, steps=3, epsilon=0.0)
    with pytest.raises(HparamsError, match=r"'steps' must be a positive integer"):  # KN: integrated-gradient steps
        KNHparams(steps=0)
    assert FTHparams(layer=0, lr=0.1, steps=0).steps == 0  # FT may take no step
    with pytest.raises(HparamsError, match="v_lr"):
        ROMEHparams(layer=1).with_changes(v_lr=float("nan"))


def test_trace_settings_are_checked():
    from rome.tracing.noise import NoiseRuleError
    from rome.tracing.prepare import TraceSettings

    with pytest.raises(NoiseRuleError, match=r"samples \(--samples / config key tracing.samples\)"):
        TraceSettings(samples=0)


# -- finding 7: ParaRel input --------------------------------------------------------------

def _pararel(root, facts_p1=("Alpha", "Beta")):
    for kind, rows in (("facts", [{"sub_label": s, "obj_label": "French", "uuid": s} for s in facts_p1]),
                       ("patterns", [{"pattern": "[X] speaks [Y]."}])):
        (root / kind).mkdir(parents=True, exist_ok=True)
        (root / kind / "P1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return root


def _build(root, tmp_path, relations):
    from counterfact.cli import main

    corpus = tmp_path / "c.raw"
    corpus.write_text(" = A = \n\n Some text here . More text there .\n", encoding="utf-8")
    return main(["build", "--pararel-dir", str(root), "--out", str(tmp_path / "cf.json"), "--corpus", str(corpus),
                 "--relations", relations, "--quiet"])


def test_build_refuses_an_unknown_relation_id(tmp_path, capsys):
    root = _pararel(tmp_path / "pararel")
    assert _build(root, tmp_path, "P1,P999") == 2
    err = capsys.readouterr().err
    assert "unknown relation id(s) P999" in err and "facts" in err
    assert not (tmp_path / "cf.json").exists()
    assert _build(root, tmp_path, "P1,17") == 2
    assert "unknown relation id '17'" in capsys.readouterr().err


def test_build_refuses_an_empty_facts_file(tmp_path, capsys):
    root = _pararel(tmp_path / "pararel", facts_p1=())
    assert _build(root, tmp_path, "P1") == 2
    err = capsys.readouterr().err
    assert "P1.jsonl" in err and "no facts for relation P1 (empty file)" in err
    assert not (tmp_path / "cf.json").exists()


# -- finding 9 (input side): prompts longer than the context ---------------------------------

def test_prompt_longer_than_the_context_is_refused_naming_the_record(tiny_gpt2):
    from rome.evaluation.cli import check_record_lengths
    from rome.model.tokens import ContextLengthError

    rec = _record(4)
    rec["neighborhood_prompts"] = ["Ronaldo plays", "word " * 300]
    with pytest.raises(ContextLengthError,
                       match=r"r\.json: record 4: field neighborhood_prompts\[1\]: \d+ tokens, longer than the "
                             r"model's context of 256 tokens"):
        check_record_lengths(tiny_gpt2, [_record(3), rec], "r.json")
    check_record_lengths(tiny_gpt2, [_record(3)], "r.json")


# -- finding 3: dtypes and non-finite results ------------------------------------------------

def test_float16_refused_for_gemma3_with_the_reason():
    from rome.model.architectures import GEMMA3, GPT2
    from rome.model.runtime import SettingError, check_dtype

    with pytest.raises(SettingError, match=r"dtype float16 refused for gemma-3-270m .*exceed the float16 range"):
        check_dtype(GEMMA3, torch.float16, torch.device("cpu"), "gemma-3-270m")
    check_dtype(GEMMA3, torch.bfloat16, torch.device("cpu"))
    check_dtype(GPT2, torch.float16, torch.device("cpu"))


def test_load_model_refuses_float16_for_a_gemma3_model():
    from rome.model.loading import load_model
    from rome.model.runtime import SettingError

    with pytest.raises(SettingError, match="float16 refused"):
        load_model("tiny-gemma3", dtype="float16")


def test_unknown_dtype_is_bad_input(capsys):
    from rome.cli.main import main

    assert main(["model-info", "--model", "tiny-gpt2", "--dtype", "int8"]) == 2
    err = capsys.readouterr().err
    assert "unknown dtype 'int8'" in err and "--dtype" in err


class NaNEditor:
    """An 'edit' that makes every score NaN (as Gemma 3 in float16 did)."""

    name = "nan"

    def apply(self, lm, requests):
        from rome.editing.base import begin_edit

        name = lm.spec.edit_weight_name(1)
        result = begin_edit(lm.model, [name], self.name)
        with torch.no_grad():
            lm.spec.edit_weight(lm.model, 1).fill_(float("nan"))
        return result


def test_nan_scores_are_never_written(tiny_gpt2, tmp_path):
    from rome.evaluation.counterfact_eval import GenerationSettings
    from rome.evaluation.runner import EvalSettings, evaluate_records
    from rome.model.runtime import NonFiniteError

    settings = EvalSettings(model="tiny-gpt2", method="nan", generation=GenerationSettings(enabled=False),
                            check_restore=False)
    before = tiny_gpt2.spec.edit_weight(tiny_gpt2.model, 1).detach().clone()
    with pytest.raises(NonFiniteError, match=r"record 7: non-finite result nan at post\."):
        evaluate_records(tiny_gpt2, NaNEditor(), [_record(7)], tmp_path, settings, progress=False)
    assert not list(tmp_path.rglob("case_*.json"))
    assert torch.equal(before, tiny_gpt2.spec.edit_weight(tiny_gpt2.model, 1))


def test_check_finite_finds_nested_values():
    import numpy as np

    from rome.model.runtime import NonFiniteError, check_finite

    assert check_finite({"a": [1.0, {"b": np.ones(3)}], "c": None, "d": "nan"}, "x")
    with pytest.raises(NonFiniteError, match=r"fact 2: non-finite result inf at scores\.mlp\[1, 0\]"):
        check_finite({"scores": {"mlp": np.array([[0.0], [np.inf]])}}, "fact 2")


@pytest.mark.gemma
def test_real_gemma_in_float16_is_refused_before_any_score():
    """The reproduced case: Gemma 3 270M in float16 scored NaN (answer ``<pad>``) with exit 0."""
    from rome.model.loading import load_model
    from rome.model.runtime import SettingError

    with pytest.raises(SettingError, match="dtype float16 refused for gemma-3-270m"):
        load_model("gemma-3-270m", dtype="float16", cache=MODELS_DIR)


# -- the last bad inputs that ended in exit 1 with an internal message ------------

def _long_prompt() -> str:
    return "word " * 300 + "{} is in"


@pytest.mark.parametrize("argv", [
    ["trace", "--model", "tiny-gpt2", "--prompt", _long_prompt(), "--subject", "Paris", "--noise", "0.1"],
    ["edit", "--model", "tiny-gpt2", "--prompt", _long_prompt(), "--subject", "Paris", "--target", "Rome"],
])
def test_a_command_line_prompt_longer_than_the_context_names_the_limit_and_the_length(tmp_path, capsys, argv):
    from rome.cli.main import main

    rc = main([*argv, *(["--stats-dir", str(tmp_path / "s")] if argv[0] == "edit" else [])])
    err = capsys.readouterr().err
    assert rc == 2, err
    # 300 words of one token each, the subject and the rest of the prompt: more than tiny-gpt2's 256 positions
    assert re.search(r"field --prompt \(with --subject.*filled in\): 30\d tokens, longer than the model's context "
                     r"of 256 tokens", err), err
    assert "IndexError" not in err and len(err.strip().splitlines()) == 1


def test_a_layer_beyond_the_model_names_the_layer_count(tmp_path, capsys):
    from rome.cli.main import main

    rc = main(["edit", "--model", "tiny-gpt2", "--prompt", "{} plays the sport of", "--subject", "LeBron James",
               "--target", "football", "--set", "layer=99", "--stats-dir", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "layer 99 does not exist: GPT2LMHeadModel has 4 layers (0-3)" in err
    assert "KeyError" not in err


def test_a_layer_beyond_the_model_leaves_the_weights_untouched(tiny_gpt2):
    from rome.editing.base import EditRequest
    from rome.editing.ft import make_ft
    from rome.editing.hparams import load_hparams
    from rome.model.architectures import LayerRangeError

    before = {k: v.clone() for k, v in tiny_gpt2.model.state_dict().items()}
    editor = make_ft(load_hparams("ft", "tiny", {"layer": 7}))
    with pytest.raises(LayerRangeError, match=r"ft hyperparameter 'layer': layer 7 does not exist: tiny-gpt2 has 4 layers \(0-3\)"):
        editor.apply(tiny_gpt2, [EditRequest("{} plays", "LeBron James", "football")])
    assert all(torch.equal(before[k], v) for k, v in tiny_gpt2.model.state_dict().items())


def test_an_unknown_tiny_architecture_lists_the_supported_ones(capsys):
    from rome.cli.main import main

    rc = main(["model-info", "--model", "tiny-opt"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert ("no tiny test model of architecture 'opt'; supported: tiny-gpt2, tiny-gptj, tiny-gpt_neox, tiny-llama, "
            "tiny-qwen2, tiny-gemma3") in err
