"""The whole DAG end to end on a tiny random GPT-2 (config/ci-tiny.yaml), in minutes.

It checks the plumbing, not the science: every rule runs, every figure and table of the
configuration is written, a second run does nothing, deleting one figure re-renders only
that figure, and the audit flags a deliberately modified intermediate file.

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
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("ROME_SHARED_DATA", REPO.parent / "shared" / "data"))
pytestmark = pytest.mark.slow


def _snakemake(tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    paths = {
        "data": str(tmp / "data"), "figures": str(tmp / "figures"),
        "pararel": str(SHARED_DATA / "pararel"), "corpus": str(SHARED_DATA / "wikitext-2" / "wiki.test.raw"),
        "known_facts_released": str(SHARED_DATA / "known_1000.json"),
        "zsre_eval": str(SHARED_DATA / "zsre" / "zsre_eval_1037.json"),
        "zsre_train": str(SHARED_DATA / "zsre" / "zsre_train_1k.json"),
    }
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "config/ci-tiny.yaml",
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
        pytest.skip(f"local upstream data not found at {SHARED_DATA}")
    tmp = tmp_path_factory.mktemp("pipeline")
    run = _snakemake(tmp)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-6000:]
    return tmp


def test_every_target_is_written(pipeline):
    fig = pipeline / "figures" / "ci-tiny"
    expected = [
        "table1.md", "table2.md", "table3.tex", "table4.csv", "fig2-aie-heatmaps.pdf", "fig3-severed.png",
        "fig7-aie-lines.png", "fig5.pdf", "fig06.md", "fig19.png", "fig21.md", "fig22.png", "fig25.pdf",
        "fig15-extra1-7-aie-lines.png", "fig13-noise-u0p5-7-aie-lines.png", "fig16-saliency-0.pdf",
        "fig16-saliency-0.png", "baselines/fig24_boxplots.png",
        "human-eval/sheets.csv", "human-eval/answer_key.csv", "index.html",
    ]
    missing = [name for name in expected if not (fig / name).is_file()]
    assert not missing, missing
    table4 = (fig / "table4.md").read_text()
    for method in ("ROME", "FT+L", "KN", "MEND-CF", "AttnEdit"):
        assert method in table4
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


def test_audit_is_clean_then_flags_a_modified_intermediate(pipeline):
    env = dict(os.environ)
    prov = pipeline / "data" / "provenance" / "ci-tiny"
    audit = [sys.executable, "-m", "rome.cli", "audit", "--dir", str(prov)]
    clean = subprocess.run(audit, capture_output=True, text=True, env=env)
    assert clean.returncode == 0, clean.stdout
    with restored(next((pipeline / "data" / "dataset").rglob("stats.json"))) as stats:
        stats.write_text(stats.read_text().replace("1", "2", 1))
        flagged = subprocess.run(audit, capture_output=True, text=True, env=env)
    assert flagged.returncode == 1
    assert "stats.json" in flagged.stdout and ("modified" in flagged.stdout or "stale" in flagged.stdout)
