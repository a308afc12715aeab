"""``rome sweep``: ROME at each layer x token choice on COUNTERFACT records (Fig. 5).

    rome sweep --model gemma-3-270m --records data/gemma-3-270m/counterfact/counterfact.json \\
        --n-records 20 --layers 0-17 --out-dir data/gemma-3-270m/sweep

One JSON per (token, layer, record); rerunning resumes. Render with ``rome render-sweep``.
"""
from __future__ import annotations

import argparse

from counterfact.cliargs import positive_int
from replkit.cli import add_set_option, parse_overrides

from ..cli import paths as cli_paths
from ..model.architectures import parse_layers
from ..model.info import add_model_arguments, load_from_args
from .edit_cli import add_stats_arguments
from .hparams import ROMEHparams, load_hparams
from .rome import TOKEN_CHOICES, ROMEEditor
from .statistics import StatsProvider
from .sweep import load_records, run_sweep


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--records", required=True, help="COUNTERFACT JSON file")
    parser.add_argument("--n-records", type=positive_int, default=10, help="use the first N records")
    parser.add_argument("--layers", default=None, help='layers, e.g. "0-17" (default: all)')
    parser.add_argument("--tokens", default=",".join(TOKEN_CHOICES), help=f"comma-separated subset of {','.join(TOKEN_CHOICES)}")
    parser.add_argument("--case-ids-from", default=None,
                        help="sweep the records of these facts (`rome localization-facts` output) instead of the first N")
    parser.add_argument("--reuse-dir", default=None,
                        help="another sweep's folder: its files made under the same key are copied, not recomputed")
    parser.add_argument("--out-dir", default=str(cli_paths.SWEEP_DIR))
    add_set_option(parser)
    add_stats_arguments(parser)


def run(args: argparse.Namespace) -> int:
    cli_paths.resolve_editing_paths(args)
    if args.case_ids_from:
        from ..results.localization import read_selection

        ids = [f["case_id"] for f in read_selection(args.case_ids_from)]
        records = load_records(args.records, case_ids=ids)
    else:
        records = load_records(args.records, args.n_records)
    lm = load_from_args(args)
    layers = parse_layers(args.layers) if args.layers else list(range(lm.n_layers))
    hp = ROMEHparams.coerce(load_hparams("rome", lm.name, parse_overrides(args.set)))
    provider = StatsProvider.from_hparams(hp, cache_dir=args.stats_dir, corpus=args.corpus,
                                          tokens=args.stats_tokens, local_corpus=args.local_corpus,
                                          prefetch_layers=layers)
    editor = ROMEEditor(hp, provider, templates_dir=args.templates_dir)
    tokens = [t.strip() for t in args.tokens.split(",") if t.strip()]
    n = run_sweep(lm, editor, records, layers, tokens, out_dir=args.out_dir, reuse_dir=args.reuse_dir)
    print(f"{n} sweep results under {args.out_dir}")
    return 0
