"""Individual-trace figures the paper picks by a rule (Snakemake script of rule render_traces).

* Fig. 1: the paper's prompt ("The Space Needle is in downtown" -> Seattle) when that fact
  is among this run's traced facts (subject "Space Needle"), else the first of
  ``tracing.examples``.
* Fig. 11 (atypical facts): among the traced facts, those whose strongest MLP indirect effect
  lies furthest above the strongest effect at the last subject token, i.e. ranked by
  max IE(other tokens) - max IE(last subject token), largest first, ties by known_id.
* Fig. 12: the traces of ``tracing.examples`` with one token after the subject corrupted too
  (the ``extra1`` variant).
Each figure is drawn from the cached per-fact traces (never a model).
"""

import json
import sys
from pathlib import Path

import numpy as np

from rome.render.tracing import KINDS, plot_trace
from rome.results.provenance import write_provenance
from rome.results.traces import TraceResult

PAPER_SUBJECT = "Space Needle"
sm = snakemake  # noqa: F821 - provided by Snakemake's script directive


def load(results: Path, kid) -> TraceResult:
    parts = [TraceResult.load(results / k / f"{kid}.npz") for k in KINDS if (results / k / f"{kid}.npz").exists()]
    if not parts:
        sys.exit(f"render_traces: no trace of known_id {kid} under {results} (traced facts: tracing.n_facts)")
    merged = parts[0]
    for p in parts[1:]:
        merged.scores.update(p.scores)
    return merged


def traced_ids(results: Path) -> list[int]:
    folder = results / "mlp" if (results / "mlp").is_dir() else results / "hidden"
    return sorted(int(p.stem) for p in folder.glob("*.npz") if p.stem.isdigit())


def atypicality(res: TraceResult) -> float:
    kind = "mlp" if "mlp" in res.scores else "hidden"
    ie = np.asarray(res.scores[kind]) - res.corrupted
    last = res.subject_range[1] - 1
    others = np.delete(ie, last, axis=0)
    return float(others.max() - ie[last].max()) if others.size else float("-inf")


figure = sm.params.figure
results = Path(sm.params.results)
chosen = []
if figure == "fig1":
    facts = json.loads(Path(sm.input.facts).read_text(encoding="utf-8"))
    paper = [f["known_id"] for f in facts if str(f.get("subject", "")).strip() == PAPER_SUBJECT]
    traced = set(traced_ids(results))
    kid = next((k for k in paper if k in traced), sm.params.examples[0])
    chosen = [kid]
    plot_trace(load(results, kid), Path(sm.output[0]).with_suffix(""))
elif figure == "fig11":
    ranked = sorted(traced_ids(results), key=lambda k: (-atypicality(load(results, k)), k))
    stems = sorted({str(Path(o).with_suffix("")) for o in sm.output})
    chosen = ranked[:len(stems)]
    for i, kid in enumerate(chosen, start=1):
        plot_trace(load(results, kid), Path(f"{sm.params.stem}-{i}"))
elif figure == "fig12":
    chosen = list(sm.params.examples)
    for kid in chosen:
        plot_trace(load(results, kid), Path(f"{sm.params.stem}-{kid}"))
else:
    sys.exit(f"render_traces: unknown figure {figure!r}")
with open(sm.log[0], "w", encoding="utf-8") as log:
    log.write(f"{figure}: known_ids {chosen}\n")
write_provenance(sm.params.prov_dir, sm.rule, list(sm.input), list(sm.output),
                 dict(json.loads(sm.params.prov), known_ids=chosen))
