"""MEMIT and AlphaEdit speed on the embedded Gemma 3 270M: edits per minute and peak memory.

    python benchmarks/mass_edit_speed.py [--batch-sizes 1,10,100] [--methods memit,alphaedit]
        [--stats-tokens 20000] [--threads 2] [--v-steps N]

Requests are counterfactual rewrites of known facts (``$ROME_SHARED_DATA/known_1000.json``: a
fact's prompt, its subject, and the answer of another fact of the same relation as the new
target), distinct keys only (a MEMIT batch refuses two requests with the same key). For each
method and batch size, one batch is applied (the default hyperparameters of
``hparams/<method>/gemma-3-270m.yaml``: layers 3-6, z* optimised for up to 16 requests
(``rome.editing.memit.Z_GROUP``) in one set of passes, <= 25 steps), timed from the call to the
return (context templates and the key statistics C are prepared first and not timed: C comes
from ``--stats-tokens`` tokens of WikiText-2, cached, which changes the values, not the time),
then restored. Printed: seconds,
edits per minute, how many z* reached the stop rule, and the process's peak resident memory so
far (``ru_maxrss``; it only grows, so read each row as "at most"). A benchmark, not a test.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from rome.cli import paths as cli_paths
from rome.editing.base import EditRequest
from rome.editing.hparams import load_hparams
from rome.editing.memit import AlphaEditEditor, MEMITEditor, check_batch
from rome.editing.statistics import StatsProvider, StatsSettings
from rome.model.loading import load_model


def known_fact_requests(lm, n: int) -> list[EditRequest]:
    """``n`` counterfactual requests with distinct keys from the known facts."""
    facts = json.loads(cli_paths.known_facts(None).read_text(encoding="utf-8"))
    by_relation: dict[str, list[str]] = {}
    for f in facts:
        by_relation.setdefault(f["relation_id"], []).append(f["attribute"])
    out: list[EditRequest] = []
    for f in facts:
        if f["subject"] not in f["prompt"]:
            continue
        others = [a for a in by_relation[f["relation_id"]] if a != f["attribute"]]
        if not others:
            continue
        req = EditRequest(f["prompt"].replace(f["subject"], "{}", 1), f["subject"], others[len(out) % len(others)],
                          f["attribute"], case_id=int(f["known_id"]))
        try:
            check_batch(lm, [*out, req], "last_subject")
        except ValueError:
            continue
        out.append(req)
        if len(out) == n:
            break
    return out


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="gemma-3-270m")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--methods", default="memit,alphaedit")
    ap.add_argument("--batch-sizes", default="1,10,100")
    ap.add_argument("--stats-tokens", type=int, default=20000)
    ap.add_argument("--stats-dir", default=None, help="cache of C (default: a temporary folder)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--v-steps", type=int, default=None, help="override the z* steps (default: the hparams file)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_model(args.model, device=args.device, cache=cli_paths.models_dir())
    sizes = [int(x) for x in args.batch_sizes.split(",")]
    requests = known_fact_requests(lm, max(sizes))
    with tempfile.TemporaryDirectory() as tmp:
        stats_dir = args.stats_dir or tmp
        settings = StatsSettings(corpus=cli_paths.corpus(None), max_tokens=args.stats_tokens, max_length=512)
        print(f"model {args.model} on {lm.device}, {torch.get_num_threads()} threads; C from {args.stats_tokens} "
              f"tokens; {len(requests)} requests")
        print(f"{'method':<10} {'batch':>5} {'seconds':>8} {'z* s':>7} {'edits/min':>9} {'stopped':>8} {'peak MiB':>9}")
        for method in args.methods.split(","):
            overrides = {} if args.v_steps is None else {"v_steps": args.v_steps}
            hp: Any = load_hparams(method, lm.name, overrides)  # MEMITHparams / AlphaEditHparams
            provider = StatsProvider(settings, stats_dir, prefetch_layers=list(hp.layers), progress=False)
            cls = AlphaEditEditor if method == "alphaedit" else MEMITEditor
            ed = cls(hp, provider, templates_dir=tmp)
            ed.templates(lm)
            for layer in hp.layers:  # C (and AlphaEdit's P) before the clock
                provider(lm, layer)
                if isinstance(ed, AlphaEditEditor):
                    ed.projector(lm, layer)
            for b in sizes:
                batch = requests[:b]
                t0 = time.perf_counter()
                result = ed.apply(lm, batch)
                dt = time.perf_counter() - t0
                stopped = sum(r["steps"] < hp.v_steps for r in result.info["requests"])
                print(f"{method:<10} {b:>5} {dt:8.1f} {result.info['z_seconds']:7.1f} {60 * b / dt:9.1f} "
                      f"{stopped:>4}/{b:<3} {peak_mib():9.0f}", flush=True)
                result.restore(lm.model)


if __name__ == "__main__":
    main()
