"""ROME before and after the KL fix, per record: ES / PS / NS and ΔW side by side.

For the first N COUNTERFACT eval records, edits Gemma 3 270M (hparams/rome/gemma-3-270m.yaml,
statistics as in config/reference-gemma.yaml) with three settings and scores each edit
(``rome.editing.sweep.score_record``: ES = efficacy, PS = generalization, NS = specificity,
the COUNTERFACT success definitions of the paper's Table 4):

* ``old``: the package's previous defaults, ``kl_direction: original_edited`` and
  ``context_template_mode: new_tokens``;
* ``old_kl``: the reversed KL alone (official context templates);
* ``new``: the current defaults (D_KL(P_edited ‖ P_orig), official context templates).

ΔW relative difference = ‖ΔW_setting − ΔW_new‖_F / ‖ΔW_new‖_F. Writes a JSON file and
prints a Markdown table.

    python benchmarks/rome_kl_direction.py --records data/.../counterfact_eval.json --n-records 5 \
        --stats-dir /tmp/stats --templates-dir /tmp/tpl --out /tmp/kl.json
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from atomicio import atomic_write_json
from rome.cli import paths as cli_paths
from rome.editing.base import EditRequest
from rome.editing.hparams import load_hparams
from rome.editing.rome import ROMEEditor
from rome.editing.statistics import StatsProvider
from rome.editing.sweep import load_records, score_record, score_with_delta
from rome.model.loading import load_model

SETTINGS = {
    "old": {"kl_direction": "original_edited", "context_template_mode": "new_tokens"},
    "old_kl": {"kl_direction": "original_edited", "context_template_mode": "official"},
    "new": {"kl_direction": "edited_original", "context_template_mode": "official"},
}


def edit_and_score(lm, editor: ROMEEditor, provider, record: dict) -> tuple[dict, torch.Tensor]:
    layer = int(editor.hparams["layer"])
    prepared = editor.prepare(lm, EditRequest.from_record(record), layer)
    delta_w, _ = editor.insert(lm, prepared, provider(lm, layer))
    s = score_with_delta(lm, layer, delta_w, record)
    out = {"ES": s["efficacy"], "PS": s["generalization"], "NS": s["specificity"],
           "steps": len(prepared.v.losses), "delta_over_v_init": float(prepared.v.delta.norm() / prepared.v.v_init.norm())}
    return out, delta_w.double().cpu()


def table(rows: list[dict]) -> str:
    """Markdown: per record, ES / PS / NS for each setting and ΔW's relative difference to ``new``."""
    head = ("| case | unedited ES/PS/NS | old defaults ES/PS/NS | reversed KL only ES/PS/NS | new ES/PS/NS "
            "| ΔW rel. diff. old vs new | ΔW rel. diff. reversed KL vs new |")
    lines = [head, "|---|---|---|---|---|---:|---:|"]

    def f(d):
        return f"{d['ES']:.2f} / {d['PS']:.2f} / {d['NS']:.2f}"
    for r in rows:
        lines.append(f"| {r['case_id']} | {f(r['pre'])} | {f(r['old'])} | {f(r['old_kl'])} | {f(r['new'])} "
                     f"| {r['old']['dW_rel_diff']:.3f} | {r['old_kl']['dW_rel_diff']:.3f} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", default=None)
    ap.add_argument("--report", default=None, metavar="JSON", help="only print the table of an earlier --out file")
    ap.add_argument("--n-records", type=int, default=5)
    ap.add_argument("--model", default="gemma-3-270m")
    ap.add_argument("--stats-dir", default="data/stats")
    ap.add_argument("--stats-tokens", type=int, default=30000, help="as config/config.yaml stats.tokens")
    ap.add_argument("--templates-dir", default="data/context_templates")
    ap.add_argument("--out", default="data/rome_kl_direction.json")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.report:
        print(table(json.loads(open(args.report, encoding="utf-8").read())["rows"]))
        return 0
    if not args.records:
        ap.error("--records is required unless --report is given")
    torch.set_num_threads(args.threads)
    lm = load_model(args.model, device="cpu", dtype="float32", cache=cli_paths.models_dir())
    records = load_records(args.records, args.n_records)
    editors = {name: ROMEEditor(load_hparams("rome", lm.name, o), None, templates_dir=args.templates_dir)
               for name, o in SETTINGS.items()}
    provider = StatsProvider.from_hparams(editors["new"].hparams, cache_dir=args.stats_dir, tokens=args.stats_tokens,
                                          local_corpus=cli_paths.local_corpus())
    rows = []
    for record in records:
        t0 = time.time()
        row = {"case_id": record["case_id"], "pre": {}}
        pre = score_record(lm, record)
        row["pre"] = {"ES": pre["efficacy"], "PS": pre["generalization"], "NS": pre["specificity"]}
        deltas = {}
        for name, editor in editors.items():
            row[name], deltas[name] = edit_and_score(lm, editor, provider, record)
        ref = deltas["new"].norm()
        for name in ("old", "old_kl"):
            row[name]["dW_rel_diff"] = float((deltas[name] - deltas["new"]).norm() / ref)
        row["seconds"] = round(time.time() - t0, 1)
        rows.append(row)
        atomic_write_json(args.out, {"settings": SETTINGS, "stats_tokens": args.stats_tokens, "rows": rows})
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
