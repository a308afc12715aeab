# Configuration helpers shared by every rule file. No science here: only paths, the
# model options of the command lines, and provenance recording after each rule.
import json
import re
import shlex
from pathlib import Path

from counterfact.fetch import NO_UPSTREAM, UPSTREAM

RUN = config["run_name"]
MODEL = config["model"]["name"]
DEVICE = config.get("model_device") or config["model"].get("device", "cpu")
DTYPE = config["model"].get("dtype", "float32")
SEED = int(config.get("seed", 0))
STAGES = set(config.get("stages", ["dataset", "tracing", "editing", "evaluation"]))
P = config["paths"]
DATA = P.get("data", "data")
DS = f"{DATA}/dataset/seed{SEED}"          # model-independent dataset artifacts
D = f"{DATA}/runs/{RUN}"                   # model-dependent intermediates
FIG = f"{P.get('figures', 'figures')}/{RUN}"
PROV = f"{DATA}/provenance/{RUN}"
HYPERNET_DIR = f"{D}/hypernets"

# Torch threads of each job (`threads_per_job`): on a small CPU, parallel jobs that each
# use every core oversubscribe it; with 1 thread, `--cores N` runs N jobs side by side.
# null leaves the libraries' default (all cores: right for one GPU job at a time).
if config.get("threads_per_job"):
    _t = int(config["threads_per_job"])
    shell.prefix(f"export OMP_NUM_THREADS={_t} MKL_NUM_THREADS={_t}; ")

MODEL_ARGS = f"--model {shlex.quote(MODEL)} --device {DEVICE}"
if P.get("models"):
    MODEL_ARGS += f" --models-dir {shlex.quote(P['models'])}"
LM_ARGS = f"{MODEL_ARGS} --dtype {DTYPE}"   # for commands sharing rome.model_info options


def section(name):
    return config.get(name) or {}


def unset(value):
    """True for a null config value, also as ``--config`` passes it on the command line (the string "null")."""
    return value is None or str(value).strip() in ("", "null", "None", "~")


def local_or_downloaded(key, download_path):
    """A configured local copy, or the path a download rule writes (key set to null)."""
    value = P.get(key)
    return download_path if unset(value) else value


UPSTREAM_DIR = f"{DATA}/upstream"
UPSTREAM_FILES = "|".join(re.escape(u.file) for u in UPSTREAM.values())   # what `counterfact fetch` writes
PARAREL = local_or_downloaded("pararel", f"{UPSTREAM_DIR}/pararel")
KNOWN_RELEASED = local_or_downloaded("known_facts_released", f"{UPSTREAM_DIR}/{UPSTREAM['known_facts_released'].file}")
CORPUS = local_or_downloaded("corpus", f"{UPSTREAM_DIR}/{UPSTREAM['corpus'].file}")


def zsre_file(part):
    """The zsRE eval or train records: a local copy, or (eval only) the upstream download."""
    if part == "eval":
        return local_or_downloaded("zsre_eval", f"{UPSTREAM_DIR}/{UPSTREAM['zsre_eval'].file}")
    if unset(P.get("zsre_train")):
        raise ValueError(f"paths.zsre_train is null: {NO_UPSTREAM['zsre_train']}")
    return P["zsre_train"]


def prov(rule_name, **params):
    """Shell suffix recording checksums of {input} and {output} after the command succeeds."""
    params = dict(params, model=MODEL, run=RUN, seed=SEED)
    blob = shlex.quote(json.dumps(params, sort_keys=True, default=str)).replace("{", "{{").replace("}", "}}")
    return (f" && rome provenance --rule {rule_name} --inputs {{input}} --outputs {{output}}"
            f" --params-json {blob} --dir {PROV} > /dev/null")


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
    return t
