"""``rome render-baselines``: Figs. 17/18, 23 and 24 from cached per-record files (no model).

    rome render-baselines --sweep-dir data/baseline_sweeps --rome-dir data/eval/rome \
        --out-dir figures --prefix gemma-3-270m
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from counterfact.cliargs import plain_name

from ..cli import paths as cli_paths
from .baselines import boxplot_groups, load_results, render_boxplots, render_epsilon_sweep, render_layer_sweep


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sweep-dir", default=str(cli_paths.BASELINE_SWEEPS_DIR),
                        help="output folder of `rome baseline-sweep` (subfolders ft, ft-l, attn)")
    parser.add_argument("--rome-dir", default=None, help="per-record ROME results for Fig. 24")
    parser.add_argument("--attn-epsilon", type=float, default=None, help="AttnEdit setting shown in Fig. 24")
    parser.add_argument("--out-dir", default=str(cli_paths.FIGURES_DIR))
    parser.add_argument("--prefix", default="", type=plain_name, help="file-name prefix, e.g. the model name")
    parser.add_argument("--title", default="")


def run(args: argparse.Namespace) -> int:
    sweep = Path(args.sweep_dir)
    out = Path(args.out_dir)
    pre = f"{args.prefix}-" if args.prefix else ""
    written = []
    ft = load_results(sweep / "ft") + load_results(sweep / "ft-l") if sweep.is_dir() else []
    if ft:
        written += render_layer_sweep(ft, out / f"{pre}fig17_ft_sweep", args.title)
    attn = load_results(sweep / "attn") if (sweep / "attn").is_dir() else []
    if attn:
        written += render_epsilon_sweep(attn, out / f"{pre}fig23_attn_sweep", title=args.title)
    groups = boxplot_groups(args.rome_dir, sweep / "attn" if attn else None, args.attn_epsilon)
    if groups:
        written += render_boxplots(groups, out / f"{pre}fig24_boxplots", args.title)
    if not written:
        print(f"nothing to render: no per-record results under {sweep}" + (f" or {args.rome_dir}" if args.rome_dir else ""))
        return 1
    print(json.dumps([str(p) for p in written], indent=2))
    return 0
