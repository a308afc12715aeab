"""The whole DAG end to end on a tiny random GPT-2 (config/ci-tiny.yaml), in minutes.

It checks the plumbing, not the science: every rule runs, every figure and table of the
configuration is written, a second run does nothing, deleting one figure re-renders only
that figure, a changed setting reruns exactly the jobs it affects (`--rerun-triggers
params`), and the audit flags a deliberately modified intermediate file. The local copies
of the inputs come from $ROME_SHARED_DATA (the shipped configuration's paths are null).

The pipeline is built once per module; a test that changes a file does so inside
:func:`restored`, which puts its bytes and modification time back afterwards, so every
test sees the same finished tree whatever the order.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("ROME_SHARED_DATA", REPO.parent / "shared" / "data"))
# The module fixture runs the whole DAG: about 4.5 minutes on an idle 2-core machine, three times
# that on a loaded one; pytest's limit matches the limit of its Snakemake subprocess.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def _snakemake(tmp: Path, *extra: str, overlays: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    paths = {"data": str(tmp / "data"), "figures": str(tmp / "figures")}
    env = dict(os.environ, HF_HUB_OFFLINE="1", ROME_SHARED_DATA=str(SHARED_DATA))
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "config/ci-tiny.yaml", *overlays,
           "--config", f"paths={json.dumps(paths)}", *extra]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)


@contextlib.contextmanager
def restored(path: Path) -> Iterator[Path]:
    """Let a test change or delete ``path``; afterwards its bytes and mtime are as before."""
    data, st = path.read_bytes(), path.stat()
    try:
        yield path
    finally:
        path.write_bytes(data)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    if not SHARED_DATA.is_dir():
        pytest.skip(f"local upstream data not found at {SHARED_DATA}: set ROME_SHARED_DATA to a folder holding "
                    "pararel/, known_1000.json, zsre/ and wikitext-2/ (the workflow itself downloads them with "
                    "paths.<key>: null and network)")
    tmp = tmp_path_factory.mktemp("pipeline")
    run = _snakemake(tmp)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-6000:]
    return tmp


def test_every_target_is_written(pipeline):
    fig = pipeline / "figures" / "ci-tiny"
    expected = [
        "table1.md", "table2.md", "table3.tex", "table4.csv", "table4-strict.md", "table4-strict.tex",
        "fig2-aie-heatmaps.pdf", "fig3-severed.png",
        "fig7-aie-lines.png", "fig5.pdf", "fig06.md", "fig19.png", "fig21.md", "fig22.png", "fig25.pdf",
        "fig15-extra1-7-aie-lines.png", "fig13-noise-u0p5-7-aie-lines.png", "fig16-saliency-0.pdf",
        "fig16-saliency-0.png", "baselines/fig24_boxplots.png",
        "human-eval/sheets.csv", "human-eval/answer_key.csv", "human-eval/fig26_human_eval.png", "index.html",
        "fig1-trace.png", "fig10-trace-0.pdf", "fig14-severed-0.png", "fig11-atypical-1.pdf", "fig11-atypical-2.png",
        "fig12-extra1-trace-0.pdf", "baselines/fig17_ft_sweep.pdf", "baselines/fig23_attn_sweep.png",
        "localization-vs-editing.png", "localization-vs-editing.md",
        "sequential-metrics.png", "sequential-perplexity.pdf", "sequential-table.md",
    ]
    missing = [name for name in expected if not (fig / name).is_file()]
    assert not missing, missing
    table4 = (fig / "table4.md").read_text()
    for method in ("ROME", "FT+L", "KN", "MEND-CF", "AttnEdit"):
        assert method in table4
    strict = (fig / "table4-strict.md").read_text()    # every method of the run, strict columns beside the paper's
    assert "| NS+ | NM+ | NKL |" in strict and all(m in strict for m in ("ROME", "FT+L", "KN", "MEND-CF", "AttnEdit"))
    assert "no ratings" in (fig / "index.html").read_text().lower() or (fig / "human-eval").is_dir()


def test_second_run_does_nothing_and_one_deleted_figure_is_rerendered_alone(pipeline):
    dry = _snakemake(pipeline, "-n")
    assert "Nothing to be done" in dry.stdout + dry.stderr
    with restored(pipeline / "figures" / "ci-tiny" / "fig5.png") as fig5:
        fig5.unlink()
        dry = _snakemake(pipeline, "-n", "--quiet", "rules")
        out = dry.stdout + dry.stderr
        assert "fig5" in out and "rome_sweep" not in out and "evaluate_counterfact" not in out
        assert _snakemake(pipeline).returncode == 0
        assert fig5.is_file()


def _planned_jobs(out: str) -> Counter:
    """{rule: jobs} from the "Job stats" table of a dry run (empty when nothing is to be done)."""
    jobs = Counter()
    lines = out.splitlines()
    if "Job stats:" not in lines:
        return jobs
    for line in lines[lines.index("Job stats:") + 3:]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        jobs[parts[0]] = int(parts[1])
    return jobs


# What each change must rerun on the tiny DAG (tracing variants: main, noise-u0p5, extra1;
# methods: none + 9 COUNTERFACT, none + 4 zsRE; KE/MEND x plain/cf/zsre), and nothing else.
RENDER_TRACING = {"trace_summary": 3, "render_tracing_main": 1, "render_fig1": 1, "render_fig11": 1,
                  "render_fig12": 1, "render_tracing_variant": 2}
EVAL_RENDER = {"summarize": 2, "render_table": 3, "text_figure": 3, "human_eval_kit": 1}  # tables 1, 4, 4-strict
MODEL_JOBS = {"key_statistics": 1, "trace_batch": 3, "saliency": 1, "rome_sweep": 1, "train_hypernet": 6,
              "baseline_sweep": 3, "evaluate_counterfact": 10, "evaluate_zsre": 5}
DATASET_JOBS = {"counterfact_build": 1, "counterfact_validate": 1, "counterfact_stats": 1, "counterfact_split": 1,
                "reference_texts": 1, "tables_2_3": 1, "zsre_convert": 1, "fig21_counterfact_record": 1,
                "fig22_zsre_record": 1}
FINAL = {"report": 1, "all": 1}
# localization vs editing: its MLP trace and last-subject sweep load the model; analysis and figure read files
LOC_MODEL = {"localization_trace": 1, "localization_sweep": 1}
LOC_RENDER = {"localization_analysis": 1, "render_localization": 1}
# sequential editing: one job per method of ci-tiny's sequential.methods, and their figures
SEQUENTIAL = {"sequential_edit": len(yaml.safe_load((REPO / "config" / "ci-tiny.yaml").read_text())
                                     ["sequential"]["methods"]), "render_sequential": 1}
RERUNS = {
    # the model's dtype: every job that loads the model, and what is made from their outputs
    "model.dtype": ({"model": {"dtype": "bfloat16"}},
                    {**MODEL_JOBS, **RENDER_TRACING, **EVAL_RENDER, "render_saliency": 1, "fig5": 1,
                     "render_baselines": 1, **LOC_MODEL, **LOC_RENDER, **SEQUENTIAL, **FINAL}),
    # noise samples: the tracing batches and their figures only
    "tracing.samples": ({"tracing": {"samples": 3}}, {"trace_batch": 3, **RENDER_TRACING, "localization_trace": 1,
                                                      **LOC_RENDER, **FINAL}),
    # the seed: everything but the key statistics and the saliency maps, which use no randomness
    "seed": ({"seed": 1}, {**DATASET_JOBS, **{k: v for k, v in MODEL_JOBS.items() if k not in ("key_statistics", "saliency")},
                           **RENDER_TRACING, **EVAL_RENDER, "fig5": 1, "render_baselines": 1,
                           "localization_facts": 1, **LOC_MODEL, **LOC_RENDER, **SEQUENTIAL, **FINAL}),
    # a hyper-network hyperparameter: training, the KE/MEND evaluations and the tables/figures from them
    "hypernets.steps": ({"hypernets": {"steps": 3}},
                        {"train_hypernet": 6, "evaluate_counterfact": 4, "evaluate_zsre": 2, **EVAL_RENDER, **FINAL}),
}


@pytest.mark.parametrize("key", list(RERUNS))
def test_a_changed_setting_reruns_exactly_the_jobs_it_affects(pipeline, key, tmp_path):
    overlay, expected = RERUNS[key]
    extra = tmp_path / "overlay.yaml"
    extra.write_text(yaml.safe_dump(overlay))
    dry = _snakemake(pipeline, "-n", "--rerun-triggers", "params", overlays=(str(extra),))
    out = dry.stdout + dry.stderr
    assert dry.returncode == 0, out[-3000:]
    assert _planned_jobs(out) == Counter(expected), out[-3000:]


def test_audit_is_clean_then_flags_a_modified_intermediate(pipeline):
    env = dict(os.environ)
    prov = pipeline / "data" / "provenance"
    # the dataset's records are in the folder the runs share, not in the run's own
    assert not list((prov / "ci-tiny").glob("counterfact_stats*")) and list((prov / "shared").glob("counterfact_stats*"))
    audit = [sys.executable, "-m", "rome.cli.main", "audit", "--dir", str(prov / "ci-tiny"), str(prov / "shared")]
    clean = subprocess.run(audit, capture_output=True, text=True, env=env)
    assert clean.returncode == 0, clean.stdout
    with restored(next((pipeline / "data" / "dataset").rglob("stats.json"))) as stats:
        stats.write_text(stats.read_text().replace("1", "2", 1))
        flagged = subprocess.run(audit, capture_output=True, text=True, env=env)
    assert flagged.returncode == 1
    assert "stats.json" in flagged.stdout and ("modified" in flagged.stdout or "stale" in flagged.stdout)
