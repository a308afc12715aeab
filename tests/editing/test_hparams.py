"""Typed hyperparameters: one dataclass per method, loaded from the YAML files."""
from __future__ import annotations

import dataclasses
import re

import pytest

from rome.editing.hparams import (
    HPARAMS_CLASSES,
    AttnEditHparams,
    FTLHparams,
    HparamsError,
    KNHparams,
    ROMEHparams,
    available,
    hparams_class,
    load_hparams,
)


@pytest.mark.parametrize("method", sorted(HPARAMS_CLASSES))
def test_every_yaml_file_loads_into_its_class(method):
    models = available(method)
    assert models, method
    for model in models:
        hp = load_hparams(method, model)
        assert type(hp) is HPARAMS_CLASSES[method]
        assert hp.source.endswith(f"{method}/{model}.yaml")


def test_every_field_has_a_meaning():
    for cls in HPARAMS_CLASSES.values():
        for name, _type, _default, meaning in cls.describe():
            assert meaning.strip(), f"{cls.__name__}.{name} has no one-line meaning"


def test_values_are_typed_and_paper_values_read():
    hp = load_hparams("rome", "gpt2-xl")
    assert (hp.layer, hp.v_lr, hp.v_steps, hp.kl_factor, hp.clamp_norm_factor) == (17, 0.5, 20, 0.0625, 4.0)
    assert hp.v_suffix_pass is True  # absent from the YAML: the dataclass default
    assert isinstance(load_hparams("ft", "tiny").lr, float)
    assert load_hparams("ft-l", "gpt2-xl").epsilon == 5e-4
    assert isinstance(load_hparams("ft-l", "gpt2-xl"), FTLHparams)
    assert isinstance(load_hparams("attn", "gpt2-xl"), AttnEditHparams)
    assert load_hparams("mend", "tiny").init_lr == 1e-3 and load_hparams("mend", "gpt2-xl").init_lr == 1e-4


def test_documented_settings_can_be_set():
    hp = load_hparams("rome", "gpt2-xl", {"v_suffix_pass": False, "v_steps": 3, "v_lr": 1})
    assert hp.v_suffix_pass is False and hp.v_steps == 3
    assert hp.v_lr == 1.0 and isinstance(hp.v_lr, float)  # an int where a float is wanted is widened


def test_unknown_override_names_the_valid_fields():
    with pytest.raises(HparamsError) as err:
        load_hparams("rome", "gpt2-xl", {"layr": 3})
    msg = str(err.value)
    assert "layr" in msg and "not a hyperparameter" in msg
    for name in ("layer", "v_suffix_pass", "kl_factor", "mom2_max_length"):
        assert name in msg


@pytest.mark.parametrize("key, value", [("layer", "seven"), ("layer", 1.5), ("v_steps", True),
                                        ("v_suffix_pass", "yes"), ("kl_prompts", "{} is a"),
                                        ("key_for_insert", "median"), ("context_templates", [[5]])])
def test_wrongly_typed_values_are_rejected(key, value):
    with pytest.raises(HparamsError, match=key):
        load_hparams("rome", "gpt2-xl", {key: value})


def test_yaml_with_unknown_key_or_missing_required_field(tmp_path, monkeypatch):
    import rome.editing.hparams as mod

    (tmp_path / "ft").mkdir()
    (tmp_path / "ft" / "m.yaml").write_text("layer: 1\nlr: 0.1\nsteps: 2\nlearning_rate: 3\n")
    (tmp_path / "ft" / "n.yaml").write_text("layer: 1\nlr: 0.1\n")
    monkeypatch.setattr(mod, "HPARAMS_DIR", tmp_path)
    with pytest.raises(HparamsError, match=r"m\.yaml.*'learning_rate' is not a hyperparameter.*valid: layer, lr"):
        load_hparams("ft", "m")
    with pytest.raises(HparamsError, match=r"n\.yaml.*missing ft hyperparameter\(s\) steps"):
        load_hparams("ft", "n")


def test_frozen_with_mapping_view_and_changes():
    hp = load_hparams("kn", "tiny")
    with pytest.raises(dataclasses.FrozenInstanceError):
        hp.steps = 3  # type: ignore[misc]
    assert dict(hp) == {"layers": "all", "steps": 5, "threshold": 0.2, "refine_share": 0.4,
                        "edit_scale": 2.0, "max_neurons": None}
    changed = hp.with_changes(steps=7)
    assert changed.steps == 7 and hp.steps == 5
    with pytest.raises(HparamsError, match="steps"):
        hp.with_changes(steps="many")
    assert KNHparams.coerce({"steps": 4}).steps == 4
    assert KNHparams.coerce(hp) is hp


def test_trained_variants_share_their_method_class():
    assert hparams_class("ke-cf") is HPARAMS_CLASSES["ke"]
    assert hparams_class("mend-zsre") is HPARAMS_CLASSES["mend"]
    with pytest.raises(HparamsError, match="known: rome"):
        hparams_class("memitt")


def test_rome_editor_reads_settings_as_attributes():
    from rome.editing.rome import ROMEEditor

    ed = ROMEEditor({"layer": 2, "v_steps": 4}, stats_provider=lambda lm, layer: None)
    assert isinstance(ed.hparams, ROMEHparams) and ed.hparams.v_steps == 4 and ed.hparams.token == "last_subject"


@pytest.mark.parametrize("key, value, expected", [("v_lr", True, "float"), ("v_steps", 2.0, "int"),
                                                  ("v_suffix_pass", 1, "bool"), ("token", 3, "str"),
                                                  ("mom2_tokens", 2.5, "int | None"), ("kl_prompts", [1], "list")])
def test_dataclass_checks_each_field_type(key, value, expected):
    with pytest.raises(HparamsError, match=re.escape(f"'{key}' must be {expected}, got")):
        ROMEHparams(layer=3, **{key: value})


def test_dataclass_widens_ints_to_floats_and_keeps_other_values():
    hp = ROMEHparams(layer=3, v_lr=1, v_suffix_pass=False, token="last", mom2_tokens=None, kl_prompts=("{} is",))
    assert hp.v_lr == 1.0 and type(hp.v_lr) is float
    assert type(hp.layer) is int and hp.v_suffix_pass is False and hp.token == "last" and hp.mom2_tokens is None
    assert hp.kl_prompts == ["{} is"]
