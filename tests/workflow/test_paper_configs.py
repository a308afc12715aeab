"""Every paper configuration plans a complete DAG (``snakemake -n``) with its tables and figures."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted(p.name for p in (REPO / "config").glob("paper-*.yaml"))

# what each configuration must plan to render (file names under figures/<run_name>/)
EXPECTED = {
    "paper-gpt2-xl.yaml": ["table1.md", "table2.md", "table4.md", "fig2-aie-heatmaps.pdf", "fig3-severed.pdf",
                           "fig5.pdf", "fig7-aie-lines.pdf", "fig16-saliency-0.pdf", "fig16-saliency-1.png", "fig06.md", "fig19.md", "fig25.md", "baselines",
                           "human-eval", "index.html"],
    "paper-gpt-j.yaml": ["table1.md", "table4.md", "fig2-aie-heatmaps.pdf", "fig16-saliency-0.pdf", "fig19.md",
                         "sequential-table.md", "sequential-metrics.pdf", "sequential-perplexity.png",
                         "baselines", "index.html"],
    "paper-gpt2-medium.yaml": ["table1.md", "table4.md", "fig7-aie-lines.pdf", "index.html"],
    "paper-gpt2-large.yaml": ["table1.md", "table4.md", "fig7-aie-lines.pdf", "index.html"],
    "paper-neox-20b.yaml": ["table2.md", "fig2-aie-heatmaps.pdf", "fig7-aie-lines.pdf", "fig16-saliency-1.pdf",
                            "index.html"],
}


def test_every_paper_config_is_covered():
    assert set(CONFIGS) == set(EXPECTED)


def _dry_run(name: str, tmp_path: Path, *config: str, flags: tuple[str, ...] = (),
             shared: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    if not shared:
        env.pop("ROME_SHARED_DATA", None)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", *flags, "--cores", "2", "--configfile", f"config/{name}",
         "--config", f'paths={{"data": "{tmp_path}/data", "figures": "{tmp_path}/figures"}}', *config],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )


@pytest.mark.parametrize("name", CONFIGS)
def test_dry_run_lists_the_figures_and_tables(name, tmp_path):
    cfg = yaml.safe_load((REPO / "config" / name).read_text())
    assert cfg["model"].get("gpu_memory_gb"), f"{name} must say how much GPU memory it needs"
    run = _dry_run(name, tmp_path)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    for target in EXPECTED[name]:
        assert f"figures/{cfg['run_name']}/{target}" in out, (name, target)


def test_compare_runs_plan_figs_8_and_9_only_with_an_existing_other_summary(tmp_path):
    """An entry of tracing.compare_runs whose summary does not exist yet is left out with a
    warning (no Figs. 8/9 without another run); an existing one plans them."""
    name = "paper-gpt2-xl.yaml"
    absent = {"name": "absent", "summary": str(tmp_path / "no-such-run")}
    run = _dry_run(name, tmp_path, f"tracing={json.dumps({'compare_runs': [absent]})}")
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    assert "fig8-models-aie-heatmaps" not in out
    assert "no-such-run/summary.json does not exist yet" in out
    other = tmp_path / "other-summary"
    other.mkdir()
    (other / "summary.json").write_text("{}")
    present = {"name": "GPT-J", "summary": str(other)}
    run = _dry_run(name, tmp_path, f"tracing={json.dumps({'compare_runs': [present, absent]})}",
                   flags=("--printshellcmds",))
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    for stem in ("fig8-models-aie-heatmaps.pdf", "fig9-models-aie-lines.png"):
        assert f"figures/gpt2-xl-paper/{stem}" in out
    assert f"--compare GPT-J={other}" in out and "absent=" not in out


def test_null_paths_plan_the_upstream_downloads(tmp_path):
    """Without $ROME_SHARED_DATA, paths.<key>: null (the shipped default) makes the DAG fetch
    that input (ParaRel, known facts, zsRE eval, corpus); zsRE training records have no public
    source, so they are a disjoint split of the downloaded zsRE eval file."""
    name = "paper-gpt2-xl.yaml"  # uses the released known facts
    paths = {"data": f"{tmp_path}/data", "figures": f"{tmp_path}/figures"}
    run = _dry_run(name, tmp_path, f"paths={json.dumps(paths)}", flags=("--printshellcmds",), shared=False)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    assert f"counterfact download --dest {tmp_path}/data/upstream/pararel" in out
    for file in ("known_1000.json", "zsre_mend_eval.json", "wiki.test.raw"):
        assert f"counterfact fetch {file} --dest-dir {tmp_path}/data/upstream" in out
    assert f"--pararel-dir {tmp_path}/data/upstream/pararel --corpus {tmp_path}/data/upstream/wiki.test.raw" in out
    assert "rule zsre_split:" in out and f"{tmp_path}/data/dataset/seed0/zsre_train_split.json" in out
