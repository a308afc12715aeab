"""The fastest any exact tracing engine could be on this machine, next to the reference engine.

Counts the floating-point work an engine whose scores equal the reference's cannot avoid for
the benchmark fact of ``trace_speed.py`` (hidden + MLP + attention, 10 samples). It then
divides that work by the best matrix-multiply rate measured here. The result is a floor on
seconds per fact and a ceiling on the speed-up. Printed, in order:

* block x position evaluations per sample: the reference engine's; the fast engine's; and
  the minimum. The minimum also drops two things the fast engine still computes: the other
  positions of the first restored layer of an MLP/attention window, and everything but
  keys/values at the top layer for positions before the last.
* last-position vocabulary projections (rows) and the FLOPs of both parts;
* the measured float32 matrix-multiply rate (GFLOP/s, best of a few block-sized shapes);
* the floor in seconds, and the reference engine's seconds per fact: measured on
  ``--ref-fraction`` of the restorations, or given with ``--reference-seconds``;
* LAST line: the largest speed-up an exact engine could reach.
"""
from __future__ import annotations

import time

import torch
from trace_fact import fact_arguments, prepare_fact


def matmul_params(module: torch.nn.Module) -> int:
    """Weights of the matrix multiplies in ``module`` (Linear and GPT-2's Conv1D), i.e. MACs per position."""
    total = 0
    for m in module.modules():
        w = getattr(m, "weight", None)
        if w is not None and w.dim() == 2 and not isinstance(m, torch.nn.Embedding):
            total += w.numel()
    return total


def kv_params(block: torch.nn.Module) -> int:
    """Weights of the key and value projections of one block (what the top layer needs at earlier positions)."""
    total = 0
    for name, m in block.named_modules():
        leaf = name.rsplit(".", 1)[-1]
        w = getattr(m, "weight", None)
        if w is None or w.dim() != 2:
            continue
        if leaf in ("k_proj", "v_proj"):
            total += w.numel()
        elif leaf in ("c_attn", "query_key_value"):  # fused q, k, v (GPT-2, GPT-NeoX)
            total += w.numel() * 2 // 3
    return total


def minimum_evaluations(r, n_tokens: int, n_layers: int, kv_share: float) -> float:
    """Block x position evaluations (per sample) an exact engine needs for restoration ``r``."""
    first = min(layer + (part == "block") for part, layer in r.restore)
    if first >= n_layers:
        return 0.0                           # only the final norm runs (the projection is counted apart)
    later = n_tokens - r.token - 1           # positions after the restored one
    work = (n_tokens - r.token) * (n_layers - first)
    if r.restore[0][0] != "block":           # at the first restored layer only the restored position changes
        work -= later
    if first <= n_layers - 1:                # top layer: earlier positions need only their keys and values
        work -= later * (1 - kv_share)
    return work


def gemm_rate(hidden: int, inner: int, vocab_block: int = 2048) -> float:
    """Best float32 GFLOP/s over block- and projection-shaped products on this machine."""
    best = 0.0
    for m, k, n in ((4000, hidden, inner), (4000, inner, hidden), (1024, hidden, vocab_block)):
        a, b = torch.randn(m, k), torch.randn(k, n)
        a @ b
        t = time.perf_counter()
        for _ in range(5):
            a @ b
        best = max(best, 2 * m * k * n * 5 / (time.perf_counter() - t) / 1e9)
    return best


def main() -> None:
    ap = fact_arguments(__doc__)
    ap.add_argument("--ref-fraction", type=float, default=0.1)
    ap.add_argument("--reference-seconds", type=float, default=None, help="skip timing the reference; use this")
    args = ap.parse_args()
    lm, prep, rs = prepare_fact(args)
    from rome.tracing.engine_fast import FastEngine
    from rome.tracing.engine_reference import ReferenceEngine

    T, L, S = prep.n_tokens, prep.n_layers, prep.samples
    fast = FastEngine(prep)
    live = [r for r in rs if not fast.changes_nothing(r)]
    block = lm.spec.module(lm.model, "block", 0)
    per_position = matmul_params(block)
    kv_share = kv_params(block) / per_position
    head = lm.module("unembed").weight
    vocab, hidden = head.shape

    ref_evals = len(rs) * T * L
    fast_evals = sum((T - r.token) * (L - min(l + (p == "block") for p, l in r.restore)) for r in live)
    min_evals = sum(minimum_evaluations(r, T, L, kv_share) for r in live)
    body = 2 * per_position * min_evals * S
    projection = 2 * hidden * vocab * len(live) * S
    print(f"block x position evaluations per sample: reference {ref_evals}, fast engine {fast_evals}, "
          f"minimum {min_evals:.0f} (keys/values are {kv_share:.1%} of a block)")
    print(f"FLOPs of the minimum: body {body / 1e12:.2f} T + projection of {len(live) * S} rows "
          f"{projection / 1e12:.2f} T = {(body + projection) / 1e12:.2f} T")
    rate = gemm_rate(hidden, getattr(lm.model.config, "intermediate_size", None) or 4 * hidden)
    floor = (body + projection) / (rate * 1e9)
    print(f"best float32 matrix-multiply rate here: {rate:.0f} GFLOP/s ({args.threads} thread(s))")
    print(f"floor for an exact engine (that work at that rate, nothing else): {floor:.1f} s per fact")
    if args.reference_seconds is not None:
        t_ref = args.reference_seconds
        print(f"reference engine: {t_ref:.1f} s per fact (given)")
    else:
        step = max(1, round(1 / args.ref_fraction))
        ref = ReferenceEngine(prep)
        t = time.perf_counter()
        ref.scores(rs[::step])
        t_ref = (time.perf_counter() - t) * len(rs) / len(rs[::step])
        print(f"reference engine: {t_ref:.1f} s per fact ({len(rs[::step])} of {len(rs)} restorations timed)")
    print(f"largest possible speed-up of an exact engine (reference / floor): {t_ref / floor:.1f}x")


if __name__ == "__main__":
    main()
