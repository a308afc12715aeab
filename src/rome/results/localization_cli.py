"""``rome localization``: tracing effect vs ROME's rewrite score, per layer (Hase et al. 2023).

    rome localization --facts data/runs/<run>/localization/facts.json \\
        --traces data/runs/<run>/tracing/main --sweep-dir data/runs/<run>/localization/sweep \\
        --layers 0,3,6,9,12,15 --out data/runs/<run>/localization/analysis.json

Reads the selected facts' MLP traces and their sweep files (no model is loaded) and writes
the rows and the regressions of :mod:`rome.results.localization`. A fact without a trace or
sweep file stops the command with one line naming the file (exit 2).
"""
from __future__ import annotations

import argparse

from atomicio import atomic_write_json

from .localization import run as run_analysis


def layer_list(text: str) -> list[int]:
    """A comma-separated list of layers (the workflow expands ``localization.layers`` to one)."""
    try:
        layers = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer numbers, got {text!r}") from None
    if not layers or layers[0] < 0:
        raise argparse.ArgumentTypeError(f"expected non-negative layer numbers, got {text!r}")
    return layers


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--facts", required=True, help="selected facts (`rome localization-facts`)")
    parser.add_argument("--traces", required=True, help="folder of `rome trace-batch` (holds mlp/<known_id>.npz)")
    parser.add_argument("--sweep-dir", required=True, help="folder of `rome sweep` (holds last_subject/layer-NN/)")
    parser.add_argument("--layers", required=True, type=layer_list, help='edited layers, e.g. "0,3,6"')
    parser.add_argument("--out", required=True, help="analysis JSON")


def run(args: argparse.Namespace) -> int:
    layers = args.layers
    doc = run_analysis(args.facts, args.traces, args.sweep_dir, layers)
    atomic_write_json(args.out, doc, indent=1)
    pooled = doc["analysis"]["last_subject"]["pooled"]
    print(f"{doc['n_facts']} facts x {len(layers)} layers -> {args.out}: R2 layer {pooled['r2_layer']}, "
          f"R2 tracing effect {pooled['r2_trace']}, added by the effect {pooled['r2_added']}")
    return 0
