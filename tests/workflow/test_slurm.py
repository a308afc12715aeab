"""The tiny configuration end to end on a real one-node Slurm cluster, through the shipped
profile workflow/profiles/slurm, compared with the same configuration run locally.

The cluster is Debian's slurm-wlm with munge, started by tests/slurm/start-slurm.sh without
systemd (reused when it is already up, e.g. started by .ci/run). It has no accounting
database: job status comes from `squeue`, and Slurm's job-completion log (jobcomp/filetxt)
is the cluster's own record of every job it ran. The test is skipped, with the reason, where
Slurm or the executor plugin is not installed or the cluster cannot start here (not root, a
different Slurm already configured); with ROME_REQUIRE_SLURM=1 (set by .ci/run once it has
installed Slurm) a cluster that does not start is a failure instead.

What it checks: every job of a non-local rule went through sbatch and Slurm recorded it as
COMPLETED, no job asked for a GPU (the configuration is CPU-only), only local rules ran in
the Snakemake process, and every table and text output equals the local run's byte for byte.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("ROME_SHARED_DATA", REPO.parent / "shared" / "data"))
START = REPO / "tests" / "slurm" / "start-slurm.sh"
SLURM_DIR = Path(os.environ.get("ROME_SLURM_DIR", "/tmp/rome-slurm"))
PROFILE = "workflow/profiles/slurm"
# two runs of the tiny DAG (local, then through sbatch): longer than the default per-test limit on a loaded machine
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

# Outputs compared byte for byte: the paper's tables and every text rendering. Images and
# PDFs embed creation dates and index.html embeds paths, so they are compared by name only.
TEXT_SUFFIXES = {".md", ".csv", ".tex", ".tsv", ".txt"}


def _snakemake(tmp: Path, *extra: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    paths = {
        "data": str(tmp / "data"), "figures": str(tmp / "figures"),
        "pararel": str(SHARED_DATA / "pararel"), "corpus": str(SHARED_DATA / "wikitext-2" / "wiki.test.raw"),
        "known_facts_released": str(SHARED_DATA / "known_1000.json"),
        "zsre_eval": str(SHARED_DATA / "zsre" / "zsre_eval_1037.json"),
        "zsre_train": str(SHARED_DATA / "zsre" / "zsre_train_1k.json"),
    }
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", **(env_extra or {}))
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    cmd = [sys.executable, "-m", "snakemake", "--configfile", "config/ci-tiny.yaml",
           "--config", f"paths={json.dumps(paths)}", *extra]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=3600)


def _unavailable(reason: str):
    if os.environ.get("ROME_REQUIRE_SLURM") == "1":
        pytest.fail(f"Slurm required (ROME_REQUIRE_SLURM=1) but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def cluster():
    """A running one-node cluster: the environment its clients need (SLURM_CONF)."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        _unavailable("snakemake-executor-plugin-slurm is not installed (pip install -e '.[slurm]')")
    for tool in ("sbatch", "slurmctld", "slurmd", "munged"):
        if shutil.which(tool) is None:
            _unavailable(f"Slurm is not installed: no '{tool}' (apt-get install -y slurm-wlm munge)")
    start = subprocess.run(["bash", str(START), str(SLURM_DIR)], capture_output=True, text=True, timeout=120)
    if start.returncode != 0:
        _unavailable(f"the Slurm cluster did not start (exit {start.returncode}): {start.stderr.strip()[-2000:]}")
    started_here = "already up" not in start.stderr
    yield {"SLURM_CONF": str(SLURM_DIR / "slurm.conf")}
    if started_here:
        subprocess.run(["bash", str(START), "--stop", str(SLURM_DIR)], capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory):
    """The tiny DAG run locally and through the Slurm profile, with Slurm's records of the run."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"local upstream data not found at {SHARED_DATA} (set ROME_SHARED_DATA)")
    local = tmp_path_factory.mktemp("local")
    run = _snakemake(local, "--cores", "2")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]

    jobcomp = SLURM_DIR / "jobcomp.log"
    offset = jobcomp.stat().st_size if jobcomp.exists() else 0
    slurm = tmp_path_factory.mktemp("slurm")
    run = _snakemake(slurm, "--profile", PROFILE, "--retries", "0", env_extra=cluster)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-8000:]
    with open(jobcomp, "rb") as fh:
        fh.seek(offset)
        records = fh.read().decode()
    return {"local": local, "slurm": slurm, "log": log, "jobcomp": records}


def _jobcomp_by_id(records: str) -> dict[str, dict[str, str]]:
    jobs = {}
    for line in records.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if "JobId" in fields:
            jobs[fields["JobId"]] = fields
    return jobs


def test_every_cluster_job_went_through_sbatch_and_completed(runs):
    log = runs["log"]
    remote = re.findall(r"^rule (\w+):", log, re.M)            # jobs handed to the executor
    local = re.findall(r"^localrule (\w+):", log, re.M)         # jobs run in this process
    submitted = re.findall(r"^Job \d+ has been submitted with SLURM jobid (\d+)", log, re.M)
    assert remote, "no job ran on the cluster"
    assert len(submitted) == len(remote), (len(submitted), len(remote))
    # the model-using steps are cluster jobs, whatever the rules declare as local
    assert {"key_statistics", "trace_batch", "evaluate_counterfact", "rome_sweep"} <= set(remote)
    assert "all" not in remote
    jobs = _jobcomp_by_id(runs["jobcomp"])
    missing = [jid for jid in submitted if jid not in jobs]
    assert not missing, f"submitted jobs absent from Slurm's completion log: {missing}"
    states = {jid: jobs[jid]["JobState"] for jid in submitted}
    assert set(states.values()) == {"COMPLETED"}, states
    # a CPU-only configuration asks for no GPU (the node has none: such a job would be refused)
    asked_gpu = [jid for jid in submitted if "gpu" in jobs[jid].get("Tres", "")]
    assert not asked_gpu, asked_gpu
    print(f"{len(submitted)} Slurm jobs, {len(local)} local jobs ({sorted(set(local))})")


def _outputs(root: Path) -> dict[str, Path]:
    fig = root / "figures" / "ci-tiny"
    return {str(p.relative_to(fig)): p for p in fig.rglob("*") if p.is_file()}


def test_outputs_equal_the_local_run(runs):
    local, slurm = _outputs(runs["local"]), _outputs(runs["slurm"])
    assert sorted(slurm) == sorted(local)
    for name in ("table1.md", "table2.md", "table3.tex", "table4.csv", "table4.md"):
        assert name in local, name
    text = sorted(name for name in local if Path(name).suffix in TEXT_SUFFIXES)
    differ = [name for name in text if local[name].read_bytes() != slurm[name].read_bytes()]
    assert not differ, differ
