"""``rome stats``: second-moment key statistics for a range of layers in one pass.

    rome stats --model gemma-3-270m --dtype float32 --layers 0-17 --corpus PATH --tokens 100000 --stats-dtype float32

Writes ``<out-dir>/<model>/<corpus sha>/<settings>/layer-NN.npz`` (C and the token
count); resumes from its checkpoint after a kill.
"""
from __future__ import annotations

import argparse
import json

from counterfact.cliargs import positive_int

from ..cli import paths as cli_paths
from ..model.architectures import parse_layers
from ..model.info import add_model_arguments, load_from_args
from .statistics import StatsSettings, compute_statistics, load_second_moment


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    # the old name of --dtype (kept so older command lines still mean the same)
    parser.add_argument("--model-dtype", dest="dtype", help=argparse.SUPPRESS)
    parser.add_argument("--layers", required=True, help='layers, e.g. "0-17" or "4,8"')
    parser.add_argument("--corpus", default=None,
                        help="text file or corpus name (default and wikitext-2: $ROME_SHARED_DATA/wikitext-2/wiki.test.raw; "
                             "wikitext-103, wikipedia need network)")
    parser.add_argument("--tokens", type=positive_int, default=None, help="token budget (default: the whole corpus)")
    parser.add_argument("--samples", type=positive_int, default=None, help="document budget (default: none)")
    parser.add_argument("--stats-dtype", default="float32", choices=["float32", "float64"],
                        help="accumulation dtype of C (the model's own dtype is --dtype)")
    parser.add_argument("--out-dir", default=None, help="cache folder (default ./data/stats)")
    parser.add_argument("--batch-size", type=positive_int, default=8)
    parser.add_argument("--max-length", type=positive_int, default=None,
                        help="sequences are cut at this many tokens (default: the model's ROME hyperparameter "
                             "mom2_max_length, so editing finds these statistics; 512 without ROME hyperparameters)")
    parser.add_argument("--checkpoint-every", type=positive_int, default=20, help="batches between resumable checkpoints")
    parser.add_argument("--force", action="store_true", help="recompute even when cached")


def default_max_length(model_name: str) -> int:
    """The sequence length ROME's editor asks its statistics for (``mom2_max_length``), else 512."""
    from .hparams import HparamsError, ROMEHparams, load_hparams

    try:
        return ROMEHparams.coerce(load_hparams("rome", model_name)).mom2_max_length
    except HparamsError:
        return StatsSettings.max_length


def run(args: argparse.Namespace) -> int:
    corpus, out_dir = cli_paths.corpus(args.corpus), cli_paths.stats_dir(args.out_dir)
    lm = load_from_args(args)
    layers = parse_layers(args.layers)
    max_length = args.max_length if args.max_length is not None else default_max_length(args.model)
    settings = StatsSettings(corpus=corpus, max_tokens=args.tokens, max_samples=args.samples,
                             dtype=args.stats_dtype, max_length=max_length, batch_size=args.batch_size)
    files = compute_statistics(lm, layers, settings, out_dir, checkpoint_every=args.checkpoint_every, force=args.force)
    out = {}
    for layer, path in files.items():
        _, count = load_second_moment(path)
        out[layer] = {"file": str(path), "tokens": count}
    print(json.dumps(out, indent=2))
    return 0
