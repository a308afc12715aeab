"""Extra seconds per record of the strict COUNTERFACT metrics (rome.evaluation.strict).

Interleaved on the same records, so that both variants share the machine's noise: the pre-edit
block as ``rome evaluate`` computes it for an edited method (the paper's scores; with the strict
metrics also the CounterFact+ pass that keeps the next-token distributions), the post-edit block
(scores and the sampled texts for GE; with the strict metrics also the CounterFact+ pass and the
greedy continuations) and the NKL / agreement step. The passes do not depend on the weights, so
the unedited model stands in for an edited one (the edit itself is unchanged by the strict metrics).

    python benchmarks/strict_cost.py --records data/dataset/seed0/counterfact_eval.json --n 3 --reps 2
"""
from __future__ import annotations

import argparse
import json
import statistics
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", required=True, help="COUNTERFACT records (JSON list)")
    ap.add_argument("--model", default="gemma-3-270m")
    ap.add_argument("--models-dir", default=None)
    ap.add_argument("--n", type=int, default=3, help="records")
    ap.add_argument("--reps", type=int, default=2, help="passes over the records (medians are reported)")
    ap.add_argument("--generation-tokens", type=int, default=30, help="sampled text length, prompt included")
    ap.add_argument("--match-slack", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import torch

    from rome.cli.paths import models_dir
    from rome.evaluation.counterfact_eval import GenerationSettings, score_record
    from rome.evaluation.strict import StrictSettings, add_cross_fields
    from rome.model.loading import load_model

    torch.set_num_threads(args.threads)
    lm = load_model(args.model, device="cpu", dtype="float32", cache=models_dir(args.models_dir))
    records = json.load(open(args.records, encoding="utf-8"))[:args.n]
    strict = StrictSettings(match_slack=args.match_slack)
    texts = GenerationSettings(tokens=args.generation_tokens, top_k=5, seed=0)
    scores_only = GenerationSettings(tokens=args.generation_tokens, enabled=False)
    rows = []
    for rep in range(args.reps):
        for r in records:
            t: dict[str, float] = {}
            s = time.perf_counter()
            score_record(lm, r, scores_only)
            t["pre_paper"] = time.perf_counter() - s
            pre_d: dict = {}
            s = time.perf_counter()
            pre = score_record(lm, r, scores_only, strict=strict, dists=pre_d)
            t["pre_strict"] = time.perf_counter() - s
            s = time.perf_counter()
            score_record(lm, r, texts)
            t["post_paper"] = time.perf_counter() - s
            post_d: dict = {}
            s = time.perf_counter()
            post = score_record(lm, r, texts, strict=strict, greedy=True, dists=post_d)
            t["post_strict"] = time.perf_counter() - s
            s = time.perf_counter()
            add_cross_fields(post, pre, pre_d, post_d)
            t["cross"] = time.perf_counter() - s
            rows.append(t)
            print(rep, r.get("case_id"), {k: round(v, 2) for k, v in t.items()}, flush=True)
    med = {k: statistics.median(x[k] for x in rows) for k in rows[0]}
    # medians of the per-record differences (each pair ran back to back, under the same load)
    pre_extra = statistics.median(x["pre_strict"] - x["pre_paper"] for x in rows)
    post_extra = statistics.median(x["post_strict"] - x["post_paper"] + x["cross"] for x in rows)
    print(json.dumps({"median_s": {k: round(v, 3) for k, v in med.items()},
                      "extra_s_pre": round(pre_extra, 2), "extra_s_post": round(post_extra, 2),
                      "extra_s_per_edited_record": round(pre_extra + post_extra, 2),
                      "extra_s_per_unedited_record": round(post_extra, 2)}))


if __name__ == "__main__":
    main()
