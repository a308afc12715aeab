"""ROME, MEMIT and AlphaEdit quality on Gemma 3 270M as a function of the key-statistics budget.

    python benchmarks/rome_stats_budget.py --records /tmp/cf/counterfact.json --n-records 50 \\
        [--budgets 10000,30000,100000,all] [--layer 4] [--templates "[[5,3]]"] \\
        [--set kl_factor=1.0 ...] [--out-dir data/budget] [--threads 1]
    python benchmarks/rome_stats_budget.py --method memit|alphaedit --records ... \\
        [--budgets dk,2dk,10dk,all]

``--method memit`` / ``alphaedit``: z* (which never sees C either) is optimised once per
record; then for every budget the record is written into the edited layers with that
budget's C (MEMIT: λ·C in the solve; AlphaEdit: the null-space projector P of C, which
depends on C's smallest directions), scored and restored. A budget ``Ndk`` is N times the
key dimension d_k of the edited layers (2,048 on Gemma 3 270M): with fewer tokens than
d_k, C is singular. Their default templates and settings are the method's hparams file
(``--templates`` applies to ROME only).

For each record, v* (which never sees C) is optimised once; then for every budget the
rank-one insert is made with that budget's C = E[k kᵀ], the record is scored
(`rome.editing.sweep.score_record`: efficacy, generalisation, specificity, score) and the
weights are restored. So the budgets are compared on the same records *and* the same v*:
the only thing that differs between columns is C. One JSON per record under
``<out-dir>/<settings key>/case-<id>.json`` (reruns resume). Statistics are taken from (or
computed into) ``--stats-dir`` (default data/stats) from the local WikiText-2 test split.
Prints a table: budget, efficacy, generalisation, specificity, score (means over records,
± 1.96·std/√N), plus the unedited model's numbers.
"""
from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from atomicio import atomic_write_json, stable_key
from replkit.cli import parse_overrides
from rome.cli import paths as cli_paths
from rome.editing.base import EditRequest
from rome.editing.hparams import load_hparams
from rome.editing.rome import ROMEEditor
from rome.editing.statistics import StatsProvider, StatsSettings
from rome.editing.sweep import harmonic_mean, load_records, score_record, score_with_delta
from rome.model.hooks import restore_weights, snapshot_weights
from rome.model.loading import load_model

METRICS = ("efficacy", "generalization", "specificity", "score")


def parse_budgets(text: str, d_k: int | None = None) -> list[int | None]:
    """Token budgets: numbers, ``all`` (no cap) and ``Ndk`` (N times the key dimension ``d_k``)."""
    out: list[int | None] = []
    for part in text.split(","):
        part = part.strip()
        if part.endswith("dk"):
            if d_k is None:
                raise SystemExit(f"budget {part!r} needs the key dimension")
            out.append(int(float(part[:-2] or 1) * d_k))
        else:
            out.append(None if part == "all" else int(float(part)))
    return out


def budget_label(b: int | None) -> str:
    return "all" if b is None else str(b)


def run_record(lm, editor: ROMEEditor, providers: dict, record: dict, path: Path) -> dict:
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    request = EditRequest.from_record(record)
    layer = int(editor.hparams["layer"])
    weight = lm.spec.edit_weight(lm.model, layer)
    saved = weight.detach().clone()
    out = {"case_id": record["case_id"], "pre": score_record(lm, record), "budgets": {}}
    prepared = editor.prepare(lm, request, layer)
    out["v"] = dict(steps=len(prepared.v.losses), final_loss=prepared.v.losses[-1],
                    delta_over_v_init=float(prepared.v.delta.norm() / prepared.v.v_init.norm()))
    for label, provider in providers.items():
        delta_w, _ = editor.insert(lm, prepared, provider(lm, layer))
        scores = score_with_delta(lm, layer, delta_w, record)
        scores["delta_w_norm"] = float(delta_w.norm())
        out["budgets"][label] = scores
    assert torch.equal(weight, saved)
    atomic_write_json(path, out)
    return out


def run_record_mass(lm, editor, providers: dict, record: dict, path: Path) -> dict:
    """:func:`run_record` for MEMIT / AlphaEdit: one z*, then the write with each budget's C."""
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    request = EditRequest.from_record(record)
    names = [lm.spec.edit_weight_name(l) for l in editor.hparams.layers]
    saved = snapshot_weights(lm.model, names)
    out = {"case_id": record["case_id"], "pre": score_record(lm, record), "budgets": {}}
    templates = editor.templates(lm)
    (z,) = editor.compute_z(lm, [request], templates)
    out["v"] = dict(steps=len(z.losses), final_loss=z.losses[-1], delta_over_v_init=float(z.delta.norm() / z.v_init.norm()))
    for label, provider in providers.items():
        editor.use_statistics(provider)
        editor.reset_state()
        try:
            z_error = editor.write(lm, [request], templates, z.v_star[None])
            scores = score_record(lm, record)
            scores["z_error"] = z_error
        finally:
            restore_weights(lm.model, saved)
        out["budgets"][label] = scores
    atomic_write_json(path, out)
    return out


def summarise(values: list[float]) -> str:
    n = len(values)
    m = sum(values) / n
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / max(1, n - 1))
    return f"{m:6.3f} ± {1.96 * sd / math.sqrt(n):5.3f}"


def magnitudes(scores: dict) -> dict:
    """Mean probability margins (paper's EM / PM / NM): P(new) − P(true) on the rewrite
    and paraphrases, P(true) − P(new) on the neighbourhood."""
    def mean_gap(pairs, sign):
        return sum(sign * (a - b) for a, b in pairs) / max(1, len(pairs))
    return {"rewrite_margin": mean_gap(scores["p_rewrite"], 1), "paraphrase_margin": mean_gap(scores["p_paraphrase"], 1),
            "neighbour_margin": mean_gap(scores["p_neighborhood"], -1)}


MARGINS = ("rewrite_margin", "paraphrase_margin", "neighbour_margin")


def table(results: list[dict], labels: list[str]) -> str:
    cols = METRICS + MARGINS
    head = ["efficacy", "generalisation", "specificity", "score", "EM", "PM", "NM"]
    rows = [f"{'budget (tokens)':>16} | " + " | ".join(f"{m:>14}" for m in head)]
    rows.append("-" * len(rows[0]))
    blocks = [("unedited", [dict(r["pre"], **magnitudes(r["pre"])) for r in results])]
    for label in labels:
        blocks.append((label, [dict(r["budgets"][label], **magnitudes(r["budgets"][label])) for r in results]))
    for label, per in blocks:
        rows.append(f"{label:>16} | " + " | ".join(summarise([p[m] for p in per]) for m in cols))
    rows.append("")
    rows.append("EM/PM: mean P(new) - P(true) on rewrite/paraphrases; NM: mean P(true) - P(new) on neighbours.")
    rows.append("score of the means (harmonic mean of mean efficacy, generalisation, specificity):")
    for label in labels:
        per = [r["budgets"][label] for r in results]
        means = [sum(p[m] for p in per) / len(per) for m in METRICS[:3]]
        rows.append(f"  {label:>8}: {harmonic_mean(means):.3f}")
    flips = {label: sum(r["budgets"][label]["specificity"] != r["budgets"][labels[-1]]["specificity"] for r in results)
             for label in labels[:-1]}
    rows.append(f"records whose specificity differs from the '{labels[-1]}' budget: {flips}")
    return "\n".join(rows)


def report(out_dir: Path, labels: list[str] | None = None) -> str:
    """The table from the per-record files of a finished (or partial) run."""
    results = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(out_dir.glob("case-*.json"))]
    if not results:
        raise SystemExit(f"no results under {out_dir}")
    labels = labels or list(results[0]["budgets"])
    return f"{len(results)} records\n" + table(results, labels)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="gemma-3-270m")
    ap.add_argument("--method", default="rome", choices=("rome", "memit", "alphaedit"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--records", required=True, help="COUNTERFACT JSON (counterfact build --out ...)")
    ap.add_argument("--n-records", type=int, default=50)
    ap.add_argument("--budgets", default="10000,30000,100000,all")
    ap.add_argument("--layer", type=int, default=None)
    ap.add_argument("--templates", default="[[5, 3]]", help='context templates [[length, count], ...] (paper: "[[5,10],[10,10]]")')
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="other hparams overrides")
    ap.add_argument("--corpus", default=None, help="statistics corpus (default: local WikiText-2 test split)")
    ap.add_argument("--stats-dir", default="data/stats")
    ap.add_argument("--templates-dir", default=None)
    ap.add_argument("--out-dir", default="data/budget")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--report", default=None, metavar="DIR", help="only print the table of an existing run folder")
    args = ap.parse_args()
    if args.report:
        print(report(Path(args.report)))
        return 0
    torch.set_num_threads(args.threads)

    lm = load_model(args.model, device=args.device, cache=cli_paths.models_dir())
    overrides = parse_overrides(args.set)
    if args.method != "rome":
        return main_mass(args, lm, overrides)
    overrides["context_templates"] = json.loads(args.templates)
    if args.layer is not None:
        overrides["layer"] = args.layer
    hp = load_hparams("rome", lm.name, overrides)
    editor = ROMEEditor(hp, stats_provider=None, templates_dir=cli_paths.templates_dir(args.templates_dir))
    budgets = parse_budgets(args.budgets)
    base = StatsProvider.from_hparams(hp, cache_dir=args.stats_dir, corpus=args.corpus,
                                      local_corpus=cli_paths.local_corpus()).settings
    providers = {
        budget_label(b): StatsProvider(StatsSettings(corpus=base.corpus, max_tokens=b, dtype=base.dtype,
                                                     max_length=base.max_length), args.stats_dir)
        for b in budgets
    }
    records = load_records(args.records, args.n_records)
    key = stable_key({k: v for k, v in sorted(hp.items())}, length=10)
    out_dir = Path(args.out_dir) / f"{lm.name}-L{hp['layer']}-{key}"
    print(f"layer {hp['layer']}, templates {hp['context_templates']}, {len(records)} records -> {out_dir}")
    from tqdm.auto import tqdm
    results = [run_record(lm, editor, providers, r, out_dir / f"case-{r['case_id']}.json")
               for r in tqdm(records, desc="records")]
    print(table(results, list(providers)))
    return 0


def main_mass(args, lm, overrides: dict) -> int:
    """The budget comparison for MEMIT / AlphaEdit (see the module docstring)."""
    from tqdm.auto import tqdm

    from rome.editing.memit import AlphaEditEditor, MEMITEditor

    hp = load_hparams(args.method, lm.name, overrides)
    cls = AlphaEditEditor if args.method == "alphaedit" else MEMITEditor
    editor = cls(hp, stats_provider=None, templates_dir=cli_paths.templates_dir(args.templates_dir))
    d_k = lm.spec.key_dim(lm.model, hp.layers[0])
    base = StatsProvider.from_hparams(hp, cache_dir=args.stats_dir, corpus=args.corpus,
                                      local_corpus=cli_paths.local_corpus()).settings
    providers = {
        budget_label(b): StatsProvider(StatsSettings(corpus=base.corpus, max_tokens=b, dtype=base.dtype,
                                                     max_length=base.max_length), args.stats_dir,
                                       prefetch_layers=list(hp.layers))
        for b in parse_budgets(args.budgets, d_k)
    }
    records = load_records(args.records, args.n_records)
    key = stable_key({k: v for k, v in sorted(hp.items())}, length=10)
    out_dir = Path(args.out_dir) / f"{lm.name}-{args.method}-L{hp.layers[0]}-{hp.layers[-1]}-{key}"
    print(f"{args.method}, layers {hp.layers}, d_k {d_k}, budgets {list(providers)}, {len(records)} records -> {out_dir}")
    results = [run_record_mass(lm, editor, providers, r, out_dir / f"case-{r['case_id']}.json")
               for r in tqdm(records, desc="records")]
    print(table(results, list(providers)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
