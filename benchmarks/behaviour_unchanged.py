"""Behaviour unchanged by the refactor: per-item outputs of two checkouts on the same inputs.

Runs the code before the refactor and fidelity work (a checkout of commit 9a0c277, its
``src`` given by ``--old-src``) and the current code (``--new-src``) in subprocesses, each
with its own PYTHONPATH, ``OMP_NUM_THREADS=1`` and ``nice -n 10``, on

* the first N COUNTERFACT eval records edited with ROME (``rome evaluate --method rome
  --no-generation --limit N``), and
* the first N known facts traced (``rome trace-batch --limit N``: hidden, MLP and attention
  restorations and the severed paths),

under three settings:

* ``old``: the old checkout with its defaults;
* ``compat``: the current code with the settings that give back the old behaviour where a
  fidelity fix changed a default (ROME: ``kl_direction: original_edited``,
  ``context_template_mode: new_tokens``; tracing: ``--sigma-estimate in-prompt
  --stats-facts 1000``; docs/fidelity.md);
* ``new``: the current code with its current defaults.

It then loads every per-item result file and reports, per item, the largest absolute and
relative difference over every number the two files share, as Markdown.

    python benchmarks/behaviour_unchanged.py run --old-src /work/wt/old/src --work /tmp/proof
    python benchmarks/behaviour_unchanged.py report --work /tmp/proof > /tmp/proof/report.md

``run`` skips a (setting, part) whose marker file exists; each command is itself resumable.
ROME's key statistics are copied from ``--stats-src`` into a folder per setting, so that no
run writes into the shared cache; context templates and noise statistics get a fresh folder
per setting (both are cached by their settings).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SETTINGS = ("old", "compat", "new")
ROME_COMPAT = ["--set", "kl_direction=original_edited", "--set", "context_template_mode=new_tokens"]
TRACE_COMPAT = ["--sigma-estimate", "in-prompt", "--stats-facts", "1000"]
# Fields that describe how or when a result was made, not what it is.
SKIP_KEYS = {"timing", "seconds", "elapsed", "wall_s", "created", "cache_key", "key", "code_version",
             "git", "versions", "hostname", "settings_key", "record_sha256", "fact_sha256", "pre_s", "edit_s", "post_s"}


# -- running -------------------------------------------------------------------------------

def _rome_cmd(args, setting: str, work: Path) -> list[str]:
    cmd = ["evaluate", "--method", "rome", "--model", args.model, "--models-dir", args.models_dir,
           "--records", args.records, "--out-dir", str(work / f"rome-{setting}"), "--limit", str(args.n),
           "--no-generation", "--stats-dir", str(work / f"stats-{setting}"), "--corpus", args.corpus,
           "--stats-tokens", str(args.stats_tokens), "--templates-dir", str(work / f"tpl-{setting}"),
           "--no-progress"]
    return cmd + (ROME_COMPAT if setting == "compat" else [])


def _trace_cmd(args, setting: str, work: Path) -> list[str]:
    cmd = ["trace-batch", "--model", args.model, "--models-dir", args.models_dir, "--facts", args.facts,
           "--limit", str(args.n), "--out-dir", str(work / f"trace-{setting}"), "--noise", "s3",
           "--samples", "10", "--window", "4", "--seed", "0", "--known-facts", args.facts,
           "--stats-dir", str(work / f"noise-{setting}")]
    if setting != "old":
        cmd.append("--no-progress")
    return cmd + (TRACE_COMPAT if setting == "compat" else [])


def run(args) -> None:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    srcs = {"old": args.old_src, "compat": args.new_src, "new": args.new_src}
    for part in args.parts.split(","):
        for setting in args.settings.split(","):
            marker = work / f"{part}-{setting}.done"
            if marker.exists():
                print(f"{part}-{setting}: done before ({marker})", file=sys.stderr)
                continue
            if part == "rome":
                stats = work / f"stats-{setting}"
                if not stats.exists() and args.stats_src:
                    shutil.copytree(args.stats_src, stats)
                cli = _rome_cmd(args, setting, work)
            else:
                cli = _trace_cmd(args, setting, work)
            env = dict(os.environ, PYTHONPATH=str(Path(srcs[setting]).resolve()), OMP_NUM_THREADS="1",
                       MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
            cmd = ["nice", "-n", "10", sys.executable, "-c",
                   "import sys; from rome.cli.main import main; sys.argv[0] = 'rome'; sys.exit(main())", *cli]
            print(f"{part}-{setting}: rome {' '.join(cli)}", file=sys.stderr)
            t0 = time.time()
            with open(work / f"{part}-{setting}.log", "w", encoding="utf-8") as log:
                rc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work).returncode
            if rc != 0:
                raise SystemExit(f"{part}-{setting} failed (exit {rc}); see {work / f'{part}-{setting}.log'}")
            marker.write_text(f"{time.time() - t0:.0f} s\n", encoding="utf-8")
            print(f"{part}-{setting}: {time.time() - t0:.0f} s", file=sys.stderr)


# -- loading ------------------------------------------------------------------------------

def flatten(obj: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(path, leaf) pairs of a JSON-like value; numeric arrays are leaves."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in SKIP_KEYS:
                continue
            yield from flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)) and obj and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                          for x in obj):
        yield prefix, np.asarray(obj, dtype=np.float64)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from flatten(v, f"{prefix}[{i}]")
    elif isinstance(obj, np.ndarray):
        yield prefix, obj.astype(np.float64)
    else:
        yield prefix, obj


def load_rome(folder: Path) -> dict[str, dict]:
    out = {}
    for p in sorted((folder / "rome").glob("case_*.json")):
        doc = json.loads(p.read_text(encoding="utf-8"))
        out[str(doc["case_id"])] = doc
    return out


def load_traces(folder: Path) -> dict[str, dict]:
    """{"<kind>/<known_id>": {"header": ..., "scores": {...}}} from the per-fact .npz files."""
    out = {}
    for p in sorted(folder.glob("*/*.npz")):
        with np.load(p, allow_pickle=False) as arr:
            header = json.loads(str(arr["header_json"]))
            scores = {k[len("scores_"):]: np.asarray(arr[k], dtype=np.float64)
                      for k in arr.files if k.startswith("scores_")}
        out[f"{p.parent.name}/{p.stem}"] = {"header": header, "scores": scores}
    return out


# -- comparing ------------------------------------------------------------------------------

def compare(a: Any, b: Any) -> dict:
    """Largest absolute/relative difference over every number both share, and what else differs."""
    fa, fb = dict(flatten(a)), dict(flatten(b))
    n = 0
    max_abs = max_rel = 0.0
    worst = ""
    other = []
    for path in sorted(set(fa) & set(fb)):
        x, y = fa[path], fb[path]
        xn = isinstance(x, np.ndarray) or (isinstance(x, (int, float)) and not isinstance(x, bool))
        yn = isinstance(y, np.ndarray) or (isinstance(y, (int, float)) and not isinstance(y, bool))
        if xn and yn:
            x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
            if x.shape != y.shape:
                other.append(f"{path}: shape {x.shape} vs {y.shape}")
                continue
            both_nan = np.isnan(x) & np.isnan(y)
            d = np.where(both_nan, 0.0, np.abs(x - y))
            scale = np.maximum(np.abs(x), np.abs(y))
            r = np.where(d == 0, 0.0, d / np.where(scale == 0, 1.0, scale))
            n += x.size
            if d.size and float(d.max()) > max_abs:
                max_abs, worst = float(d.max()), path
            if r.size:
                max_rel = max(max_rel, float(r.max()))
        elif x != y:
            other.append(f"{path}: {x!r} vs {y!r}")
    only_a = sorted(set(fa) - set(fb))
    only_b = sorted(set(fb) - set(fa))
    return {"n": n, "max_abs": max_abs, "max_rel": max_rel, "worst": worst, "other": other,
            "only_a": only_a, "only_b": only_b}


def rome_measures(doc: dict) -> dict:
    """ES / PS / NS after the edit (shares of prompts; the files store per-token mean NLLs)."""
    post = doc.get("post") or {}
    out = {}
    for name, key, sign in (("ES", "rewrite_prompts_probs", 1), ("PS", "paraphrase_prompts_probs", 1),
                            ("NS", "neighborhood_prompts_probs", -1)):
        probs = post.get(key)
        if probs:
            # ES/PS: NLL(new) < NLL(true); NS: NLL(true) < NLL(new) (rome.evaluation.metrics)
            wins = [sign * (p["target_true"] - p["target_new"]) > 0 for p in probs]
            out[name] = sum(wins) / len(wins)
    return out


def fmt(x: float) -> str:
    if x == 0:
        return "0"
    return f"{x:.1e}"


def _fields(paths: list[str]) -> tuple[str, ...]:
    """Field paths without the file index ("[2].header.x" -> "header.x")."""
    return tuple(sorted({q.split("]", 1)[-1].lstrip(".").removeprefix("header.") for q in paths}))


def cell(c: dict, other: Any, key: str = "max_abs") -> str:
    return fmt(c[key]) if other else "—"


def verdict(c: dict) -> str:
    if c["max_abs"] == 0 and not c["other"]:
        return "identical"
    if c["max_rel"] <= 1e-4 and not c["other"]:
        return "float rounding"
    return "differs"


def report(args) -> None:
    work = Path(args.work)
    lines = []
    rome = {s: load_rome(work / f"rome-{s}") for s in SETTINGS}
    cases = sorted(rome["old"], key=int)
    lines += [f"### ROME edits (first {len(cases)} COUNTERFACT eval records)", "",
              "Compared: every number of the per-record result file: `pre`/`post` per-prompt scores of "
              "the true and new objects (stored as mean per-token NLL, the official convention), "
              "and the edit's own numbers (`edit_info`: layer, ‖ΔW‖_F); timing excluded.", "",
              "| case | numbers | old vs compat: max abs | max rel | verdict | ES/PS/NS old | ES/PS/NS compat "
              "| old vs new: max abs | max rel | of which `pre` (unedited) | ES/PS/NS new | ‖ΔW‖ old / compat / new |",
              "|---|---:|---:|---:|---|---|---|---:|---:|---:|---|---|"]
    notes = []
    for cid in cases:
        old, compat, new = rome["old"][cid], rome["compat"].get(cid), rome["new"].get(cid)
        c, cn = compare(old, compat or {}), compare(old, new or {})
        cpre = compare(old.get("pre"), (new or {}).get("pre"))
        dw = " / ".join(f"{(d.get('edit_info') or {}).get('delta_w_norm', float('nan')):.6f}" if d else "—"
                        for d in (old, compat, new))
        m = {s: rome_measures(d) if d else {} for s, d in (("old", old), ("compat", compat), ("new", new))}
        esn = {s: " / ".join(f"{m[s].get(k, float('nan')):.2f}" for k in ("ES", "PS", "NS")) if m[s] else "—"
               for s in m}
        lines.append(f"| {cid} | {c['n']} | {cell(c, compat)} | {cell(c, compat, 'max_rel')} | "
                     f"{verdict(c) if compat else 'not run'} | {esn['old']} | {esn['compat']} | "
                     f"{cell(cn, new)} | {cell(cn, new, 'max_rel')} | {cell(cpre, new)} | {esn['new']} | {dw} |")
        for label, cc, other in (("compat", c, compat), ("new", cn, new)):
            if other and (cc["other"] or cc["only_a"] or cc["only_b"]):
                notes.append(f"- case {cid}, old vs {label}: non-numeric differences {cc['other'][:5]}; "
                             f"only in old {cc['only_a'][:8]}; only in {label} {cc['only_b'][:8]}")
    lines += [""] + notes + [""]
    tpl = {}
    for st in SETTINGS:
        files = sorted((work / f"tpl-{st}").glob("*.json"))
        tpl[st] = json.loads(files[0].read_text(encoding="utf-8"))["templates"] if files else None
    if tpl["old"] is not None:
        for st in ("compat", "new"):
            if tpl[st] is not None:
                same = sum(a == b for a, b in zip(tpl["old"], tpl[st]))
                lines.append(f"Context templates, old vs {st}: {same} of {len(tpl['old'])} identical "
                             f"({len(tpl[st])} in {st}).")
        lines.append("")

    traces = {s: load_traces(work / f"trace-{s}") for s in SETTINGS}
    facts = sorted({k.split("/")[1] for k in traces["old"]}, key=lambda x: (len(x), x))
    kinds = sorted({k.split("/")[0] for k in traces["old"]})
    lines += [f"### Causal traces (first {len(facts)} known facts)", "",
              f"Compared per fact: the files of every kind ({', '.join(kinds)}): the clean and corrupted probabilities, "
              "the noise scale ν and every entry of the score arrays (hidden / MLP / attention: tokens × "
              "layers; severed: the single, attention-severed and MLP-severed curves at the last subject "
              "token), plus every other number of the files' headers.", "",
              "| fact | prompt → answer | numbers | old vs compat: max abs | max rel | verdict "
              "| old vs new: max abs | max rel | clean p | corrupted p old / compat / new | ν old / compat / new |",
              "|---|---|---:|---:|---:|---|---:|---:|---:|---|---|"]
    tnotes: dict[tuple, list[str]] = {}
    for kid in facts:
        per = {st: [traces[st].get(f"{k}/{kid}") for k in kinds] for st in SETTINGS}
        old = per["old"]
        have = {st: all(d is not None for d in per[st]) for st in SETTINGS}
        c = compare(old, per["compat"]) if have["compat"] else compare({}, {})
        cn = compare(old, per["new"]) if have["new"] else compare({}, {})
        h = {st: per[st][0]["header"] if have[st] else None for st in SETTINGS}
        cor = " / ".join(f"{h[st]['corrupted']:.4f}" if h[st] else "—" for st in SETTINGS)
        nu = " / ".join(f"{h[st]['noise_nu']:.6f}" if h[st] else "—" for st in SETTINGS)
        hh = h["old"]
        lines.append(f"| {kid} | {hh['prompt']} →{hh['answer']} | {c['n']} | {cell(c, have['compat'])} | "
                     f"{cell(c, have['compat'], 'max_rel')} | {verdict(c) if have['compat'] else 'not run'} | "
                     f"{cell(cn, have['new'])} | {cell(cn, have['new'], 'max_rel')} | {hh['clean']:.4f} | {cor} | {nu} |")
        for label, cc, ok in (("compat", c, have["compat"]), ("new", cn, have["new"])):
            if ok and (cc["other"] or cc["only_a"] or cc["only_b"]):
                key = (label, tuple(cc["other"]), _fields(cc["only_a"]), _fields(cc["only_b"]))
                tnotes.setdefault(key, []).append(kid)
    lines.append("")
    for (label, other, only_a, only_b), kids in tnotes.items():
        parts = []
        if other:
            parts.append("other values differ: " + "; ".join(other[:4]))
        if only_a:
            parts.append("fields only in old: " + ", ".join(f"`{q}`" for q in only_a))
        if only_b:
            parts.append(f"fields only in {label}: " + ", ".join(f"`{q}`" for q in only_b))
        lines.append(f"- facts {', '.join(kids)}, old vs {label}: " + "; ".join(parts) + ".")
    print("\n".join(lines))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--old-src", required=True, help="src folder of the checkout before the refactor")
    r.add_argument("--new-src", default=str(REPO / "src"))
    r.add_argument("--work", required=True)
    r.add_argument("--parts", default="rome,trace")
    r.add_argument("--settings", default=",".join(SETTINGS))
    r.add_argument("--n", type=int, default=5)
    r.add_argument("--model", default="gemma-3-270m")
    r.add_argument("--models-dir", default=os.environ.get("ROME_MODELS_DIR", "data/models"))
    r.add_argument("--records", required=True, help="COUNTERFACT eval records (the first --n are edited)")
    r.add_argument("--facts", default=str(Path(os.environ.get("ROME_SHARED_DATA", "/work/shared/data"))
                                          / "known_1000.json"))
    r.add_argument("--stats-src", default=None,
                   help="cache folder of ROME key statistics to copy per setting (default: each computes its own)")
    r.add_argument("--corpus", default=str(Path(os.environ.get("ROME_SHARED_DATA", "/work/shared/data"))
                                           / "wikitext-2" / "wiki.test.raw"))
    r.add_argument("--stats-tokens", type=int, default=30000)
    p = sub.add_parser("report")
    p.add_argument("--work", required=True)
    args = ap.parse_args(argv)
    run(args) if args.cmd == "run" else report(args)


if __name__ == "__main__":
    main()
