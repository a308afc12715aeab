"""Seconds per fact (hidden + MLP + attention, 10 samples) of the reference and fast engines.

Runs on Gemma 3 270M on the CPU by default (``--model``, ``--device cuda`` and ``--dtype``
time other models and a GPU); prints both timings and, as the LAST line, their ratio.
The reference engine can be timed on a subset of restorations (``--ref-fraction``) and
extrapolated linearly (every reference restoration is one identical-cost forward pass).
Note the machine load: timings on a shared CPU vary.
"""
from __future__ import annotations

import os
import time

import torch
from trace_fact import fact_arguments, prepare_fact


def body_work(restoration, n_tokens: int, n_layers: int) -> int:
    """Block x position evaluations that one restoration cannot avoid (per noise sample).

    Positions before the restored token and blocks below the first restored part keep their
    corrupted values; a restored hidden state (``block``) changes only the blocks above it.
    """
    start = min(layer + (part == "block") for part, layer in restoration.restore)
    return (n_tokens - restoration.token) * (n_layers - start)


def main() -> None:
    ap = fact_arguments(__doc__)
    ap.add_argument("--device", default="cpu", help="e.g. cuda to time the engines on a GPU")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--ref-fraction", type=float, default=1.0, help="fraction of restorations timed for the reference")
    args = ap.parse_args()
    lm, prep, rs = prepare_fact(args, args.device, args.dtype)
    from rome.tracing.engine_fast import FastEngine
    from rome.tracing.engine_reference import ReferenceEngine

    fast = FastEngine(prep)
    live = [r for r in rs if not fast.changes_nothing(r)]
    ref_work = len(rs) * prep.n_tokens * prep.n_layers
    fast_work = sum(body_work(r, prep.n_tokens, prep.n_layers) for r in live)
    print(f"block x position evaluations per sample: reference {ref_work}, fast at least {fast_work} "
          f"(body work ratio {ref_work / fast_work:.1f}x); last-position vocabulary projections per sample: "
          f"reference {len(rs)}, fast {len(live)} ({len(rs) - len(live)} restorations change nothing)")
    print(f"load average before: {os.getloadavg()}; tokens {prep.n_tokens}, layers {prep.n_layers}, "
          f"restorations {len(rs)}, samples {args.samples}, threads {args.threads}")
    sync = torch.cuda.synchronize if lm.device.type == "cuda" else (lambda: None)
    t = time.perf_counter()
    fast_scores = fast.scores(rs)
    sync()
    t_fast = time.perf_counter() - t
    ref = ReferenceEngine(prep)
    step = max(1, round(1 / args.ref_fraction))
    sub = rs[::step]
    t = time.perf_counter()
    ref_scores = ref.scores(sub)
    sync()
    t_ref = (time.perf_counter() - t) * len(rs) / len(sub)
    diff = abs(ref_scores - fast_scores[::step])
    rel = (diff / abs(ref_scores).clip(min=1e-12)).max()
    print(f"load average after: {os.getloadavg()}")
    print(f"fast engine: {t_fast:.1f} s per fact")
    print(f"reference engine: {t_ref:.1f} s per fact ({len(sub)} of {len(rs)} restorations timed)")
    print(f"max |reference - fast| = {diff.max():.2e} (relative {rel:.1e})")
    print(f"speed-up (reference / fast): {t_ref / t_fast:.1f}x")


if __name__ == "__main__":
    main()
