"""The benchmark fact both tracing benchmarks time (imported by trace_speed.py and trace_floor.py).

"Vinson Massif is located in the continent of" → Antarctica on Gemma 3 270M by default:
hidden, MLP and attention restorations at every token and layer, 10 noise samples.
"""
from __future__ import annotations

import argparse
import os

import torch


def fact_arguments(description: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--model", default="gemma-3-270m")
    ap.add_argument("--window", type=int, default=10)
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    return ap


def prepare_fact(args, device: str = "cpu", dtype: str = "float32"):
    """``(lm, prepared prompt, restorations)`` of the benchmark fact, offline, on ``args.threads`` threads."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    from rome.cli.paths import models_dir
    from rome.model.loading import load_model
    from rome.tracing.noise import EmbeddingStats
    from rome.tracing.prepare import TraceSettings, prepare
    from rome.tracing.restore import KINDS, kind_restorations

    lm = load_model(args.model, device=device, dtype=dtype, cache=models_dir())
    prep = prepare(lm, "{} is located in the continent of", "Vinson Massif",
                   TraceSettings(noise="3.09", samples=args.samples, window=args.window), EmbeddingStats(1.03, 1),
                   expected="Antarctica")
    rs = [r for k in KINDS for row in kind_restorations(k, prep.n_tokens, prep.n_layers, args.window) for r in row]
    return lm, prep, rs
