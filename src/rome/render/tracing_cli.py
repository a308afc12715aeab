"""``rome render-tracing``: tracing figures from cached traces and averages (never loads a model)."""
from __future__ import annotations

import argparse
from pathlib import Path

from counterfact.cliargs import plain_name

from ..results.layout import MissingResultError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--summary-dir", default=None, help="folder of rome trace-summary (aie_*.json, severed.json)")
    parser.add_argument("--results", default=None, help="per-fact results folder (for individual traces)")
    parser.add_argument("--examples", default="", help="comma-separated known_ids drawn as individual traces (Figs. 10-12, 14)")
    parser.add_argument("--trace", action="append", default=[], help="a single trace file (.npz/.json) to draw (Fig. 1)")
    parser.add_argument("--saliency", action="append", default=[], help="a saliency JSON to draw (Fig. 16)")
    parser.add_argument("--compare", action="append", default=[], type=compare_entry, metavar="NAME=DIR",
                        help="a model's trace-summary folder for the multi-model Figs. 8/9 (repeat, in row order; "
                             "at least one draws <prefix>8-models-aie-heatmaps and <prefix>9-models-aie-lines)")
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--prefix", default="fig", type=plain_name, help="file name prefix (e.g. fig13-m for other noise rules)")
    parser.add_argument("--title", default="")


def compare_entry(text: str) -> tuple[str, str]:
    """``NAME=DIR`` -> (name, dir), split at the first ``=`` (so NAME holds none); argparse reports a malformed entry."""
    name, sep, folder = text.partition("=")
    if not sep or not name.strip() or not folder.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=DIR (a label and a trace-summary folder), got {text!r}")
    return name.strip(), folder.strip()


def load_summary_averages(summary_dir: str | Path) -> dict:
    """{kind: averages} of the ``aie_<kind>.json`` files present in a trace-summary folder."""
    from ..results.traces import load_average
    from .tracing import KINDS

    sd = Path(summary_dir)
    return {k: load_average(sd / f"aie_{k}.json") for k in KINDS if (sd / f"aie_{k}.json").exists()}


def compare_models(entries, out_dir: str | Path, prefix: str = "fig") -> list[Path]:
    """Figs. 8 (heatmaps) and 9 (lines), one row per (name, summary folder) in ``entries``."""
    from . import tracing as fig

    models = []
    for name, folder in entries:
        avgs = load_summary_averages(folder)
        if not avgs:
            raise MissingResultError(f"--compare {name}={folder}: no aie_<kind>.json there "
                                    f"(run `rome trace-summary` for that model first)")
        models.append((name, avgs))
    out = Path(out_dir)
    return (fig.plot_models(models, out / f"{prefix}8-models-aie-heatmaps")
            + fig.plot_models(models, out / f"{prefix}9-models-aie-lines", lines=True))


def run(args) -> int:
    import json

    from ..results.traces import TraceResult, load_average
    from . import tracing as fig
    out = Path(args.out_dir)
    written = []
    if args.summary_dir:
        sd = Path(args.summary_dir)
        avgs = load_summary_averages(sd)
        if avgs:
            written += fig.plot_aie_heatmaps(avgs, out / f"{args.prefix}2-aie-heatmaps", args.title)
            written += fig.plot_aie_lines(avgs, out / f"{args.prefix}7-aie-lines", args.title)
        if (sd / "severed.json").exists():
            written += fig.plot_severed(load_average(sd / "severed.json"), out / f"{args.prefix}3-severed", args.title)
    for path in args.trace:
        written += fig.plot_trace(TraceResult.load(path), out / f"{args.prefix}1-trace-{Path(path).stem}")
    if args.results and args.examples:
        res_dir = Path(args.results)
        from ..results.traces import result_path
        for kid in [x.strip() for x in args.examples.split(",") if x.strip()]:
            parts = [TraceResult.load(result_path(res_dir, k, kid)) for k in fig.KINDS
                     if result_path(res_dir, k, kid).exists()]
            if parts:
                merged = parts[0]
                for p in parts[1:]:
                    merged.scores.update(p.scores)
                written += fig.plot_trace(merged, out / f"{args.prefix}10-trace-{kid}")
            sev = result_path(res_dir, "severed", kid)
            if sev.exists():
                r = TraceResult.load(sev)
                written += fig.plot_severed({k: r.scores[k][0] - r.corrupted for k in ("single", "attn_severed", "mlp_severed")},
                                            out / f"{args.prefix}14-severed-{kid}", f"{r.subject}", per_fact=True)
    for path in args.saliency:
        written += fig.plot_saliency(json.loads(Path(path).read_text()), out / f"{args.prefix}16-saliency-{Path(path).stem}")
    if getattr(args, "compare", None):
        written += compare_models(args.compare, out, args.prefix)
    for w in written:
        print(w)
    return 0
