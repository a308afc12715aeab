"""The configuration schema (workflow/schemas/config.schema.yaml): every shipped
configuration validates, and typos, wrong types and impossible values stop `snakemake -n`
at parse time with one message naming the key."""
from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from snakemake.utils import validate

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
CONFIGS = sorted(p.name for p in (REPO / "config").glob("*.yaml"))


def _merge(base: dict, over: dict) -> dict:
    """Snakemake's merge of a --configfile over the Snakefile's configfile (recursive for dicts)."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _config(name: str) -> dict:
    base = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    return _merge(base, yaml.safe_load((REPO / "config" / name).read_text()))


@pytest.mark.parametrize("name", CONFIGS)
def test_every_shipped_configuration_validates(name):
    cfg = _config(name)
    schema = yaml.safe_load(SCHEMA.read_text())
    errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(cfg)]
    assert errors == [], errors
    validate(cfg, str(SCHEMA), set_default=True)
    assert cfg["resources"]["model"]["mem_mb"] > 0


@pytest.mark.parametrize("name", CONFIGS)
def test_no_shipped_configuration_points_at_a_local_data_copy(name):
    """Local copies come from $ROME_SHARED_DATA or an overlay, never from the shipped files."""
    cfg = yaml.safe_load((REPO / "config" / name).read_text())
    for key, value in (cfg.get("paths") or {}).items():
        assert "shared" not in str(value), (name, key, value)


def test_defaults_come_from_the_schema():
    cfg = {"run_name": "x", "model": {"name": "gpt2"}}
    validate(cfg, str(SCHEMA), set_default=True)
    assert cfg["model"]["dtype"] == "float32" and cfg["seed"] == 0
    assert cfg["known_facts"]["max_candidates"] == 100
    assert cfg["tracing"]["samples"] == 10 and cfg["evaluation"]["n_records"] == 20
    assert cfg["paths"]["pararel"] is None and cfg["resources"]["model"]["gpu"] == 0
    assert cfg["localization"] == {"n_facts": 0, "layers": "0-17"}


def _dry(tmp_path: Path, overlay: dict, env_extra: dict | None = None,
         extra_args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """`snakemake -n` on the tiny configuration with ``overlay`` as one more --configfile."""
    overlay = _merge({"paths": {"data": str(tmp_path / "d"), "figures": str(tmp_path / "f")}}, overlay)
    extra = tmp_path / "overlay.yaml"
    extra.write_text(yaml.safe_dump(overlay))
    env = dict(os.environ, HF_HUB_OFFLINE="1", **(env_extra or {}))
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--configfile",
                           "config/ci-tiny.yaml", str(extra), *extra_args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("overlay, expected", [
    ({"tracing": {"sampels": 3}}, "config key tracing.sampels: unknown key"),                      # a typo
    ({"tracing": {"samples": "ten"}}, "config key tracing.samples: 'ten' is not of type 'integer'"),  # wrong type
    ({"tracing": {"samples": 0}}, "config key tracing.samples: 0 is less than the minimum of 1"),     # impossible
    ({"editing": {"methods": ["rome", "memitt"]}}, "config key editing.methods.1: 'memitt' is not one of"),
    ({"stats": {"layers": "0-3; touch /tmp/x;"}}, "config key stats.layers: '0-3; touch /tmp/x;' does not match"),
    ({"run_name": "../../etc"}, "config key run_name: '../../etc' does not match"),
    ({"stats": {"layers": "0-11"}}, "config key stats.layers: layers [4, 5, 6, 7, 8, 9, 10, 11] beyond tiny-gpt2's 4 layers"),
    ({"localization": {"layers": "0-5"}}, "config key localization.layers: layers [4, 5] beyond tiny-gpt2's 4 layers"),
    ({"localization": {"n_facts": -1}}, "config key localization.n_facts: -1 is less than the minimum of 0"),
    ({"sequential": {"batch_size": 2, "eval_every": 3}},
     "config key sequential.eval_every: 3 is not a multiple of sequential.batch_size 2"),
    ({"sequential": {"disabling_entropy": 1.5}}, "config key sequential.disabling_entropy: 1.5 is greater than the maximum of 1"),
    ({"sequential": {"batch_size_by_method": {"memit": 3}, "eval_every": 2}},
     "config key sequential.eval_every: 2 is not a multiple of sequential.batch_size_by_method.memit 3"),
    ({"sequential": {"methods": ["rome"], "batch_size_by_method": {"memit": 2}}},
     "config key sequential.batch_size_by_method.memit: 'memit' is not one of sequential.methods ['rome']"),
    ({"sequential": {"batch_size_by_method": {"memitt": 2}}}, "config key sequential.batch_size_by_method"),
    ({"sequential": {"eval_schedule": "cubic"}}, "config key sequential.eval_schedule: 'cubic' is not one of"),
])
def test_bad_values_fail_at_parse_time_naming_the_key(overlay, expected, tmp_path):
    run = _dry(tmp_path, overlay)
    out = run.stdout + run.stderr
    assert run.returncode != 0
    assert expected in out, out[-2000:]
    assert not (tmp_path / "d").exists()  # nothing ran


def test_a_missing_local_copy_fails_naming_the_key_the_variable_and_the_download(tmp_path):
    run = _dry(tmp_path, {}, env_extra={"ROME_SHARED_DATA": str(tmp_path / "nowhere")})
    out = run.stdout + run.stderr
    assert run.returncode != 0
    assert "input paths.pararel not found" in out and "$ROME_SHARED_DATA" in out and "paths.pararel: download" in out


def test_a_methods_own_batch_size_reaches_its_command_and_only_its_provenance(tmp_path):
    """sequential.batch_size_by_method: MEMIT's jobs get --batch-size 4 and record 4 as their
    batch size; ROME's keep sequential.batch_size and a record without the override, so changing
    MEMIT's batch size cannot rerun ROME's stream."""
    run = _dry(tmp_path, {"sequential": {"batch_size_by_method": {"memit": 4}, "eval_every": 4}},
               extra_args=("-p", "--forceall"))
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-2000:]
    cmds = [line for line in out.splitlines() if "rome sequential --method" in line]
    by_method = {c.split("--method ")[1].split()[0]: c for c in cmds}
    assert "--batch-size 4 " in by_method["memit"] and '"batch_size": 4' in by_method["memit"]
    assert "--batch-size 2 " in by_method["rome"] and '"batch_size": 2' in by_method["rome"]
    assert "batch_size_by_method" not in by_method["rome"]
    assert "--eval-schedule linear " in by_method["rome"]  # the schema's default reaches the command


def test_snapshot_every_reaches_the_command_but_not_the_provenance(tmp_path):
    """sequential.snapshot_every changes no result, so it is left out of the recorded params
    that decide reruns (a run started without snapshots can be resumed with them)."""
    run = _dry(tmp_path, {"sequential": {"snapshot_every": 6}}, extra_args=("-p", "--forceall"))
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-2000:]
    cmds = [line for line in out.splitlines() if "rome sequential --method" in line]
    assert cmds and all("--snapshot-every 6 " in c for c in cmds)
    assert all('"probe_records"' in c and '"snapshot_every"' not in c for c in cmds)   # the recorded params


def test_nested_command_line_values_keep_their_types(tmp_path):
    """`--config 'section={...}'` hands nested values over as strings (YAML's base loader);
    where the schema wants a number they are read as numbers, so they validate and reach the
    commands as the numbers given, and a string that is no number is still refused."""
    run = _dry(tmp_path, {}, extra_args=("-p", "--config", 'tracing={"samples": 7}', 'stats={"tokens": 1234}'))
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-2000:]
    assert "--samples 7 " in out and "--tokens 1234 " in out
    assert '"samples": 7,' in out and '"tokens": 1234}' in out  # the recorded params are numbers, not "7"
    bad = _dry(tmp_path, {}, extra_args=("--config", 'tracing={"samples": "seven"}'))
    assert bad.returncode != 0
    assert "config key tracing.samples: 'seven' is not of type 'integer'" in bad.stdout + bad.stderr
