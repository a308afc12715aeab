"""Records per minute of the full COUNTERFACT evaluation (scores + generation + GE + RS).

    python benchmarks/eval_speed.py --records data/counterfact.json [--method ROME]
        [--model gemma-3-270m] [--n 3] [--generation-tokens 100] [--reference-dir DIR] [--device cpu]

The method is built through the editing registry. When the registry (or the method) is not
available the script says so and measures the unedited model ('none') instead, so the
printed figure then covers evaluation without the edit itself. Results go to a temporary
folder (nothing is resumed from earlier runs). Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", required=True)
    ap.add_argument("--method", default="ROME")
    ap.add_argument("--model", default="gemma-3-270m")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--n", type=int, default=3, help="records to evaluate")
    ap.add_argument("--generation-tokens", type=int, default=100)
    ap.add_argument("--reference-dir", default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--stats-dir", default=None, help="key-statistics cache (passed to the registry)")
    ap.add_argument("--corpus", default=None, help="corpus for key statistics (passed to the registry)")
    ap.add_argument("--stats-tokens", type=int, default=None)
    ap.add_argument("--templates-dir", default=None)
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from counterfact.records import load_records
    from rome.cli import paths as cli_paths
    from rome.evaluation.consistency import ReferenceModel
    from rome.evaluation.counterfact_eval import GenerationSettings
    from rome.evaluation.editors import EditorUnavailableError, build_editor
    from rome.evaluation.runner import EvalSettings, evaluate_records
    from rome.model.loading import load_model

    cli_paths.resolve_editing_paths(args)
    lm = load_model(args.model, device=args.device, dtype=args.dtype, cache=cli_paths.models_dir())
    method, note = args.method, None
    try:
        editor = build_editor(method, lm, {}, args)
    except EditorUnavailableError as err:
        note = f"FALLBACK: {err}. Measuring the unedited model ('none') instead."
        print(note, file=sys.stderr)
        method = "none"
        editor = build_editor("none", lm)
    refs = ReferenceModel.load(args.reference_dir) if args.reference_dir else None
    records = load_records(args.records)[: args.n]
    settings = EvalSettings(dataset="counterfact", model=args.model, method=method,
                            generation=GenerationSettings(tokens=args.generation_tokens))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        stats = evaluate_records(lm, editor, records, tmp, settings, references=refs, progress=False)
        wall = time.perf_counter() - t0
        timings = [json.load(open(p))["timing"] for p in stats.files]
    mean = {k: round(sum(t[k] for t in timings) / len(timings), 2) for k in timings[0]}
    print(json.dumps({
        "method": method, "requested_method": args.method, "model": args.model, "device": str(lm.device),
        "threads": args.threads, "records": stats.done, "generation_tokens": args.generation_tokens,
        "seconds": round(wall, 1), "records_per_minute": round(60 * stats.done / wall, 2),
        "mean_seconds_per_record": mean, "note": note,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
