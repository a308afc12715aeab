"""``rome baseline-sweep``: FT / FT+L over layers x epsilon (Figs. 17, 18), AttnEdit over epsilon (Fig. 23).

    rome baseline-sweep --method ft-l --records counterfact.json --n-records 4 \
        --layers 0-17:6 --epsilons 1e-4,1e-3,none --out-dir data/baseline_sweeps

``--layers`` takes a selection ("0-17", "0,6,12") with an optional stride ("0-17:6"); the
default is the hparams file's layer. ``--epsilons`` is a comma list where ``none`` means
unconstrained (default: the hparams file's epsilon).
"""
from __future__ import annotations

import argparse
import json

from counterfact.cliargs import positive_int

from ..cli import paths as cli_paths
from ..model.architectures import parse_layers
from .baseline_sweep import SWEEP_METHODS, load_records, run_sweep, settings_grid


def parse_layer_selection(text: str | None) -> list[int] | None:
    if text is None:
        return None
    stride = 1
    if ":" in text:
        text, s = text.rsplit(":", 1)
        stride = int(s)
    return parse_layers(text)[::stride]


def parse_epsilons(text: str | None) -> list[float | None] | None:
    if text is None:
        return None
    return [None if t.strip().lower() in ("none", "null", "inf") else float(t) for t in text.split(",") if t.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from replkit.cli import add_progress_option, add_set_option

    from ..model.info import add_model_arguments

    add_model_arguments(parser)
    parser.add_argument("--method", required=True, choices=list(SWEEP_METHODS))
    parser.add_argument("--records", required=True, help="COUNTERFACT JSON (evaluation split)")
    parser.add_argument("--n-records", type=positive_int, default=None)
    parser.add_argument("--split", default=None, help="split file; only its 'eval' case ids are used")
    parser.add_argument("--layers", default=None, help='e.g. "0-17:6" (default: the hparams layer)')
    parser.add_argument("--epsilons", default=None, help='e.g. "1e-4,1e-3,none" (default: the hparams epsilon)')
    parser.add_argument("--out-dir", default=str(cli_paths.BASELINE_SWEEPS_DIR))
    add_set_option(parser)
    add_progress_option(parser)


def run(args: argparse.Namespace) -> int:
    from replkit.cli import parse_overrides

    from ..model.info import load_from_args
    from .hparams import load_hparams

    case_ids = None
    if args.split:
        with open(args.split, encoding="utf-8") as fh:
            case_ids = json.load(fh)["eval"]
    records = load_records(args.records, args.n_records, case_ids)
    lm = load_from_args(args)
    base = load_hparams(args.method, args.model, parse_overrides(args.set))
    settings = settings_grid(args.method, base, parse_layer_selection(args.layers), parse_epsilons(args.epsilons))
    paths = run_sweep(lm, records, settings, args.out_dir, progress=not args.no_progress)
    print(json.dumps({"settings": len(settings), "records": len(records), "files": len(paths),
                      "out_dir": args.out_dir}))
    return 0
