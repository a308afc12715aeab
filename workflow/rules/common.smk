# Configuration helpers shared by every rule file. No science here: the validated
# configuration, paths, the model options of the command lines, and provenance recording.
#
# Every value a rule's command uses reaches it through the rule's `params:` (quoted with
# `:q` in the shell) or through an input file, never as a global pasted into the command:
# `--rerun-triggers params` then reruns exactly the jobs whose values changed.
#
# `snakemake --lint` notes that remain, on purpose (docs/workflow.md has the full output):
# * "Mixed rules and functions in same snakefile": the rule files define small helpers
#   (targets, inputs of one rule) next to the rules that use them; every helper shared by
#   several files lives here, where there is no rule.
# * "Specify a conda environment or container for each rule": every rule runs the console
#   scripts of this package, installed in the environment the workflow runs in
#   (environment.yml or the README's pip command); a per-rule conda env would install the
#   package once per rule.
# * "Param <x> is a prefix of input or output file but hardcoded": the commands write many
#   per-item files (one per fact, record, setting) into a folder named beside the job's
#   declared marker or figure; the folder is a param so that the command gets it quoted,
#   and it is derived from the same path constants as the declared output (stats.corpus
#   may name a `datasets` corpus, so that param is not always an input file).
import json
import os
import re
import sys
from pathlib import Path

import jsonschema
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from counterfact.fetch import UPSTREAM

SCHEMA = workflow.source_path("../schemas/config.schema.yaml")


def _config_error(err):
    where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        return (f"config key {'.'.join(map(str, err.absolute_path)) + '.' if err.absolute_path else ''}"
                f"{extra[0] if extra else '?'}: unknown key (typo?); known keys here: "
                f"{sorted(err.schema.get('properties', {}))}")
    return f"config key {where}: {err.message}"


_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (type(None), "null"), (str, "string"),
               (list, "array"), (dict, "object"))


def _json_type(value):
    return next(name for kind, name in _JSON_TYPES if isinstance(value, kind))


def _resolve(node, schema):
    ref = node.get("$ref", "")
    return schema["$defs"][ref.rsplit("/", 1)[-1]] if ref.startswith("#/$defs/") else node


def _allowed_types(node):
    kinds = node.get("type", [])
    kinds = {kinds} if isinstance(kinds, str) else set(kinds)
    return kinds | ({"integer"} if "number" in kinds else set())


def reread_cli_strings(value, node, schema):
    """Snakemake reads the nested values of `--config 'section={...}'` with YAML's base loader,
    so every number, boolean and null in them arrives as a string. Where the schema does not
    take a string, such a string is read again as YAML and kept if it then has an allowed type
    ("20000" becomes 20000, "false" false); anything else is left for the schema check to name."""
    node = _resolve(node, schema)
    if isinstance(value, dict):
        props = node.get("properties", {})
        return {k: reread_cli_strings(v, props[k], schema) if k in props else v for k, v in value.items()}
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        return [reread_cli_strings(v, node["items"], schema) for v in value]
    allowed = _allowed_types(node)
    if isinstance(value, str) and allowed and "string" not in allowed:
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        if _json_type(parsed) in allowed and _json_type(parsed) not in ("array", "object"):
            return parsed
    return value


def validate_config(cfg):
    """Schema check naming the offending key; then Snakemake's validation fills the defaults."""
    with open(SCHEMA) as fh:
        schema = yaml.safe_load(fh)
    cfg.update(reread_cli_strings(dict(cfg), schema, schema))
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(cfg), key=lambda e: list(e.absolute_path))
    if errors:
        raise WorkflowError("invalid configuration:\n  " + "\n  ".join(_config_error(e) for e in errors[:5]))
    validate(cfg, "../schemas/config.schema.yaml", set_default=True)


validate_config(config)

RUN = config["run_name"]
MODEL = config["model"]["name"]
DEVICE = config["model_device"] or config["model"]["device"]
DTYPE = config["model"]["dtype"]
SEED = config["seed"]
STAGES = set(config["stages"])
P = config["paths"]
DATA = P["data"]
DS = f"{DATA}/dataset/seed{SEED}"          # model-independent dataset artifacts
D = f"{DATA}/runs/{RUN}"                   # model-dependent intermediates
FIG = f"{P['figures']}/{RUN}"
PROV = f"{DATA}/provenance/{RUN}"
# Outputs that runs share (data/dataset/seed<N>/, data/upstream/) record their provenance
# outside the run's folder (one record per rule and outputs, so seeds do not collide): a
# run-specific folder in their params made each run_name rebuild the shared dataset, and
# every other run rerun after it. `rome audit --dir` takes both folders.
SHARED_PROV = f"{DATA}/provenance/shared"
LOGS = f"{DATA}/logs/{RUN}"                # one log per job (per wildcard)
BENCH = f"{DATA}/benchmarks/{RUN}"         # one benchmark TSV per job
HYPERNET_DIR = f"{D}/hypernets"
REPORT = "../report"                        # caption templates, relative to workflow/rules/


def section(name):
    return config[name]


# -- model: options of every model-using command, and a layer-count check ------------------

# Layer counts of the models the configurations name (others: set model.n_layers).
KNOWN_LAYERS = {
    "gpt2": 12, "gpt2-medium": 24, "gpt2-large": 36, "gpt2-xl": 48,
    "EleutherAI/gpt-j-6B": 28, "EleutherAI/gpt-neox-20b": 44, "gemma-3-270m": 18,
}


def model_layers():
    if config["model"]["n_layers"]:
        return int(config["model"]["n_layers"])
    if MODEL.startswith("tiny-"):
        return 4  # rome.testing.tiny_model's default
    return KNOWN_LAYERS.get(MODEL)


def check_layers():
    from rome.model.architectures import parse_layers

    n = model_layers()
    if n is None:
        return
    for key, value in (("stats.layers", config["stats"]["layers"]), ("sweep.layers", config["sweep"]["layers"]),
                       ("baseline_sweeps.ft_layers", config["baseline_sweeps"]["ft_layers"]),
                       ("localization.layers", config["localization"]["layers"])):
        beyond = [layer for layer in parse_layers(value) if layer >= n]
        if beyond:
            raise WorkflowError(f"config key {key}: layers {beyond} beyond {MODEL}'s {n} layers (0-{n - 1}); "
                                f"set model.n_layers if the count is wrong")
    if config["tracing"]["window"] > n:
        raise WorkflowError(f"config key tracing.window: {config['tracing']['window']} exceeds {MODEL}'s {n} layers")


check_layers()


def model_params():
    """params of every model-using rule: changing any of them reruns the rule."""
    return dict(model=MODEL, device=DEVICE, dtype=DTYPE,
                models=["--models-dir", P["models"]] if P["models"] else [])


# The model options of the command lines, from the rule's params.
LM = "--model {params.model:q} --device {params.device:q} --dtype {params.dtype:q} {params.models:q}"


# -- inputs: local copies, $ROME_SHARED_DATA, or downloads ---------------------------------

SHARED_ENV = "ROME_SHARED_DATA"
SHARED = os.environ.get(SHARED_ENV) or None
# where each input lies inside $ROME_SHARED_DATA
SHARED_LAYOUT = {
    "pararel": "pararel", "known_facts_released": "known_1000.json", "zsre_eval": "zsre/zsre_eval_1037.json",
    "zsre_train": "zsre/zsre_train_1k.json", "corpus": "wikitext-2/wiki.test.raw",
}
UPSTREAM_DIR = f"{DATA}/upstream"
UPSTREAM_FILES = "|".join(re.escape(u.file) for u in UPSTREAM.values())   # what `counterfact fetch` writes
DOWNLOADED = {
    "pararel": f"{UPSTREAM_DIR}/pararel",
    **{key: f"{UPSTREAM_DIR}/{u.file}" for key, u in UPSTREAM.items()},
    "zsre_train": f"{DS}/zsre_train_split.json",   # no public source: a disjoint split of the eval file
}


def unset(value):
    """True for a null config value, also as ``--config`` passes it on the command line (the string "null")."""
    return value is None or str(value).strip() in ("", "null", "None", "~")


def resolve_input(key):
    """paths.<key>: a local copy; null: the $ROME_SHARED_DATA copy when set, else the download;
    "download": the download. A local copy that does not exist stops the run here, naming the
    key, the variable and the download option."""
    value = P[key]
    if str(value).strip() == "download":
        return DOWNLOADED[key], "download"
    if unset(value):
        if SHARED is None:
            return DOWNLOADED[key], "download"
        value, origin = f"{SHARED}/{SHARED_LAYOUT[key]}", f"${SHARED_ENV}/{SHARED_LAYOUT[key]}"
    else:
        origin = f"paths.{key}"
    if not Path(value).exists():
        raise WorkflowError(
            f"input paths.{key} not found: {value} (from {origin}). Set paths.{key} to a local copy, set "
            f"${SHARED_ENV} to a folder holding {SHARED_LAYOUT[key]}, or use paths.{key}: download "
            f"(or null with ${SHARED_ENV} unset) to have the workflow download it"
            + (" (zsRE training: a disjoint split of the zsRE eval file)" if key == "zsre_train" else ""))
    return value, "local"


INPUTS = {key: resolve_input(key) for key in SHARED_LAYOUT}
PARAREL = INPUTS["pararel"][0]
KNOWN_RELEASED = INPUTS["known_facts_released"][0]
CORPUS = INPUTS["corpus"][0]
ZSRE_EVAL_SOURCE = INPUTS["zsre_eval"][0]
ZSRE_TRAIN_SPLIT = INPUTS["zsre_train"][1] == "download"   # train split carved out of the eval file
ZSRE_TRAIN = INPUTS["zsre_train"][0]
ZSRE_TRAIN_NOTE = (f"a disjoint {config['dataset']['zsre_train_fraction']:.0%} split of the zsRE eval file "
                   "(no public source of MEND's training records)" if ZSRE_TRAIN_SPLIT else f"the local copy {ZSRE_TRAIN}")


# -- provenance, logs, benchmarks ----------------------------------------------------------

def prov(**values):
    """params.prov: the JSON `rome provenance` records: the values the rule uses, and only
    those (a global such as the seed or the model in every rule's params would rerun rules
    that do not use it)."""
    return json.dumps(values, sort_keys=True, default=str)


def shell_cmd(rule_name, *parts):
    """A rule's command: ``parts`` joined by spaces, then `rome provenance` recording the
    checksums of {input} and {output} once the command succeeded (rome audit re-checks them).
    Only {input}, {output}, {params.*}, {wildcards.*} and {log} appear in the text."""
    return " ".join([
        *parts, "&& rome provenance --rule", rule_name, "--inputs {input:q} --outputs {output:q}",
        "--params-json {params.prov:q} --dir {params.prov_dir:q} >> {log:q} 2>&1",
    ])


def log_of(rule_name, *wildcards):
    """The job's log: one file per rule and wildcard combination."""
    return os.path.join(LOGS, rule_name, *[f"{{{w}}}" for w in wildcards]) + ".log"


def bench_of(rule_name, *wildcards):
    """The job's benchmark TSV (workflow/scripts/rule_times.py renders the table of them)."""
    return os.path.join(BENCH, rule_name, *[f"{{{w}}}" for w in wildcards]) + ".tsv"


def res(kind):
    """Resources of a job class (resources.model / data / render of the configuration)."""
    r = config["resources"][kind]
    return dict(mem_mb=r["mem_mb"], runtime=r["runtime"], gpu=r["gpu"])


def method_slug(method):
    return method.replace("+", "-").lower()


def final_targets():
    t = []
    if "dataset" in STAGES:
        t += dataset_targets()
    if "tracing" in STAGES:
        t += tracing_targets()
    if "editing" in STAGES:
        t += editing_targets()
    if "evaluation" in STAGES:
        t += evaluation_targets()
    if "localization" in STAGES:
        t += localization_targets()
    if "sequential" in STAGES:
        t += sequential_targets()
    return t
