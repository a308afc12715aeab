"""Seconds per edit of every baseline on Gemma 3 270M, and KE / MEND training time.

    python benchmarks/baselines_speed.py [--steps 100] [--batch-size 4] [--variant zsre]
        [--methods ft,ft-l,attn,kn,ke,mend] [--out-dir data/hypernets-bench]

Edits the three facts of tests/editing (restoring after each), prints per method the
mean seconds per edit and how many facts end with P(new) > P(true) on the rewrite
prompt. KE and MEND are first trained at the CPU profile's budget (``--steps`` x
``--batch-size``; the checkpoint is reused when present, delete it to re-time) -- this
is also the Gemma efficacy check of the trained hyper-networks.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch  # noqa: E402

from rome.cli import paths as cli_paths  # noqa: E402
from rome.editing.attn_edit import make_attn_edit  # noqa: E402
from rome.editing.base import EditRequest  # noqa: E402
from rome.editing.ft import build_target_batch, make_ft, make_ft_l, per_sequence_nll  # noqa: E402
from rome.editing.hparams import load_hparams  # noqa: E402
from rome.editing.hypernet import HypernetEditor  # noqa: E402
from rome.editing.kn import make_kn  # noqa: E402
from rome.editing.train_cli import run_training  # noqa: E402
from rome.model.loading import load_model  # noqa: E402

FACTS = [
    EditRequest("The mother tongue of {} is", "Danielle Darrieux", "English", "French", case_id=0),
    EditRequest("{} is located in the continent of", "Japan", "Europe", "Asia", case_id=1),
    EditRequest("{} professionally plays the sport of", "Michael Jordan", "soccer", "basketball", case_id=2),
]


def margin(lm, req) -> float:
    batch = build_target_batch(lm, [req.text, req.text], [req.target_new, req.target_true])
    with torch.no_grad():
        nll = per_sequence_nll(lm, batch)
    return float(nll[1] - nll[0])


def time_editor(lm, editor) -> dict:
    secs, margins = [], []
    for req in FACTS:
        t0 = time.perf_counter()
        result = editor.apply(lm, [req])
        secs.append(time.perf_counter() - t0)
        margins.append(round(margin(lm, req), 2))
        result.restore(lm.model)
    return {"s_per_edit": round(sum(secs) / len(secs), 2), "margins": margins,
            "flipped": sum(m > 0 for m in margins)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="gemma-3-270m")
    ap.add_argument("--methods", default="ft,ft-l,attn,kn,ke,mend")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--variant", default="zsre", choices=["plain", "zsre", "cf"])
    ap.add_argument("--records", default=None, help="training records (default: shared zsRE train file)")
    ap.add_argument("--corpus", default=None, help="corpus for --variant plain (default: $ROME_SHARED_DATA/wikitext-2/wiki.test.raw)")
    ap.add_argument("--out-dir", default="data/hypernets-bench")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    lm = load_model(args.model, cache=cli_paths.models_dir())
    print(f"model {args.model}, threads {args.threads}")
    print("pre-edit margins", [round(margin(lm, r), 2) for r in FACTS])
    makers = {"ft": make_ft, "ft-l": make_ft_l, "attn": make_attn_edit, "kn": make_kn}
    report = {}
    for method in args.methods.split(","):
        hp = load_hparams(method, args.model)
        if method in makers:
            report[method] = time_editor(lm, makers[method](hp))
        else:
            if args.variant == "plain":
                records, corpus = None, cli_paths.corpus(args.corpus)
            else:
                records, corpus = str(cli_paths.shared_file(args.records, "zsre/zsre_train_1k.json", "--records")), None
            t0 = time.perf_counter()
            path = run_training(lm, method, args.variant, hp, steps=args.steps, batch_size=args.batch_size,
                                out_dir=args.out_dir, records=records if args.variant != "plain" else None,
                                corpus=corpus if args.variant == "plain" else None)
            train_s = time.perf_counter() - t0
            meta = json.loads(Path(path).with_suffix(".json").read_text())
            row = time_editor(lm, HypernetEditor(method=method, variant=args.variant, checkpoint=str(path)))
            row.update({"train_s_this_call": round(train_s, 1), "train_s_recorded": meta["seconds_this_run"],
                        "steps": args.steps, "batch_size": args.batch_size,
                        "loss_first": round(meta["first_loss_mean"], 3), "loss_last": round(meta["last_loss_mean"], 3)})
            report[f"{method}-{args.variant}"] = row
        print(method, json.dumps(report[list(report)[-1]]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
