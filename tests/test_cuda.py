"""The package on a GPU: the same science on CUDA as on the CPU, to float rounding.

Tiny random-weight models, each built twice from one seed (one copy on the CPU, one moved to
``cuda``), go through the same step on both devices: causal tracing (the fast engine, every
kind), ROME, r-ROME, MEMIT and AlphaEdit edits (the weight change, then the exact restore),
COUNTERFACT scoring, seeded generation, a bfloat16 edit, and a sequential run interrupted and
resumed on the GPU (the same bytes as an uninterrupted one). Nothing here names a device but
through the model it is given (the package takes devices and dtypes from its configuration).

Skipped where torch sees no CUDA device, as on CI; on a GPU machine: ``pytest -m cuda``.
"""
from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from rome.editing.base import EditRequest
from rome.editing.registry import make_editor
from rome.evaluation.counterfact_eval import GenerationSettings, score_record
from rome.evaluation.generation import generate_texts
from rome.evaluation.sequential import SequentialInputs, SequentialSettings, run_sequential
from rome.evaluation.strict import StrictSettings
from rome.model.hooks import count_hooks
from rome.model.loaded_model import wrap
from rome.testing import tiny_model
from rome.tracing.engine_fast import FastEngine
from rome.tracing.prepare import TraceSettings, prepare
from rome.tracing.restore import KINDS, kind_restorations
from testpaths import WIKITEXT2
from toy_records import toy_record

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device (run on a GPU machine)")]

REQS = [
    EditRequest("{} plays the sport of", "LeBron James", "football", "basketball", case_id=1),
    EditRequest("{} is located in the city of", "The Eiffel Tower", "Rome", "Paris", case_id=2),
]
RECORD = toy_record()


@pytest.fixture(autouse=True)
def _full_precision_matmul():
    """fp32 products in fp32 (no TF32), as on the CPU; restored afterwards."""
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def pair(arch: str, tok, dtype=torch.float32):
    """The same seeded tiny model twice: on the CPU and on the GPU."""
    cpu = tiny_model(arch, tok, n_layers=4, seed=1)
    gpu = tiny_model(arch, tok, n_layers=4, seed=1, dtype=dtype)
    return cpu, wrap(gpu.model.to("cuda"), gpu.tokenizer, gpu.name)


def weights(lm) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in lm.model.named_parameters()}


def options(tmp: Path):
    return types.SimpleNamespace(stats_dir=str(tmp / "stats"), corpus=WIKITEXT2, templates_dir=str(tmp / "tpl"),
                                 stats_tokens=1500, local_corpus=None)


def numbers(block) -> list[float]:
    """Every number in a nested result block, in a fixed order."""
    if isinstance(block, dict):
        return [x for k in sorted(block) for x in numbers(block[k])]
    if isinstance(block, (list, tuple)):
        return [x for v in block for x in numbers(v)]
    if isinstance(block, (int, float)) and not isinstance(block, bool):
        return [float(block)]
    return []


@pytest.fixture(scope="module")
def corpus_present():
    if not Path(WIKITEXT2).is_file():
        pytest.skip(f"WikiText-2 not found at {WIKITEXT2} (set ROME_SHARED_DATA)")


@pytest.mark.parametrize("arch", ["gpt2", "gemma3"])
def test_tracing_scores_equal_on_cuda(arch, gpt2_tok, bos_tok):
    cpu, gpu = pair(arch, gpt2_tok if arch == "gpt2" else bos_tok)
    settings = TraceSettings(noise="0.5", samples=3, window=3, seed=7)
    scores = {}
    for name, lm in (("cpu", cpu), ("cuda", gpu)):
        prep = prepare(lm, "The Eiffel Tower is located in the city of", "Eiffel Tower", settings)
        engine = FastEngine(prep)
        rows = [engine.corrupted_score()]
        for kind in KINDS:
            rows.append(engine.scores([r for row in kind_restorations(kind, prep.n_tokens, prep.n_layers, 3)
                                       for r in row]))
        scores[name] = np.concatenate([np.atleast_1d(np.asarray(r, dtype=np.float64)) for r in rows])
        assert count_hooks(lm.model) == 0
    np.testing.assert_allclose(scores["cuda"], scores["cpu"], rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("method", ["rome", "r-rome", "memit", "alphaedit"])
def test_edits_equal_on_cuda_and_restore_exactly(method, gpt2_tok, tmp_path, corpus_present):
    cpu, gpu = pair("gpt2", gpt2_tok)
    requests = REQS[:1] if method in ("rome", "r-rome") else REQS
    deltas = {}
    # one cache for both devices: the context templates are sampled once (on the CPU, which runs
    # first) and C computed once; sampled text depends on the device's random stream, so
    # templates sampled on the GPU would be other texts and the edits could not be compared
    for name, lm in (("cpu", cpu), ("cuda", gpu)):
        before = weights(lm)
        ed = make_editor(method, lm, {"v_steps": 5}, options(tmp_path))
        result = ed.apply(lm, requests)
        after = weights(lm)
        changed = [n for n in before if not torch.equal(before[n], after[n])]
        assert changed and all(after[n].device.type == name for n in changed)
        deltas[name] = {n: (after[n] - before[n]).double().cpu() for n in changed}
        result.restore(lm.model)
        assert all(torch.equal(p, before[n]) for n, p in lm.model.named_parameters()), "restore is not exact"
        assert count_hooks(lm.model) == 0
    assert deltas["cuda"].keys() == deltas["cpu"].keys()
    for n, d in deltas["cpu"].items():
        err = float(torch.linalg.norm(deltas["cuda"][n] - d) / torch.linalg.norm(d))
        assert err < 1e-3, f"{method} {n}: ΔW differs by {err:.2e} (relative) between cuda and cpu"


@pytest.mark.parametrize("method", ["ft", "ft-l", "attn", "kn"])
def test_baseline_edits_run_on_cuda_and_restore_exactly(method, gpt2_tok, tmp_path, corpus_present):
    """The fine-tuning baselines and KN: the edit lands on the GPU and is undone bit for bit
    (their many optimiser steps make a CPU/GPU comparison of ΔW a test of rounding, not of the code)."""
    _, gpu = pair("gpt2", gpt2_tok)
    before = weights(gpu)
    result = make_editor(method, gpu, {}, options(tmp_path)).apply(gpu, REQS[:1])
    params = dict(gpu.model.named_parameters())
    changed = [n for n in before if not torch.equal(before[n], params[n])]
    assert changed and all(params[n].device.type == "cuda" and torch.isfinite(params[n]).all() for n in changed)
    result.restore(gpu.model)
    assert all(torch.equal(p, before[n]) for n, p in gpu.model.named_parameters())
    assert count_hooks(gpu.model) == 0


def test_strict_scores_equal_on_cuda(gpt2_tok):
    """CounterFact+, token accuracy, greedy continuations and the NKL distributions."""
    cpu, gpu = pair("gpt2", gpt2_tok)
    off = GenerationSettings(enabled=False)
    blocks, dists = {}, {}
    for name, lm in (("cpu", cpu), ("cuda", gpu)):
        dists[name] = {}
        blocks[name] = score_record(lm, RECORD, generation=off, strict=StrictSettings(), greedy=True, dists=dists[name])
    assert {k: v for k, v in blocks["cuda"].items() if isinstance(v, list) and v and isinstance(v[0], str)} == \
        {k: v for k, v in blocks["cpu"].items() if isinstance(v, list) and v and isinstance(v[0], str)}
    np.testing.assert_allclose(numbers(blocks["cuda"]), numbers(blocks["cpu"]), rtol=1e-5, atol=1e-6)
    assert dists["cpu"].keys() == dists["cuda"].keys() and dists["cpu"]
    def stacked(rows):
        return torch.stack([torch.as_tensor(r).detach().double().cpu() for r in rows]).numpy()

    for k, d in dists["cpu"].items():  # next-token log-probabilities over the vocabulary
        np.testing.assert_allclose(stacked(dists["cuda"][k]), stacked(d), rtol=1e-4, atol=1e-5)


def test_scoring_equal_on_cuda(gpt2_tok):
    cpu, gpu = pair("gpt2", gpt2_tok)
    off = GenerationSettings(enabled=False)
    a = numbers(score_record(cpu, RECORD, generation=off))
    b = numbers(score_record(gpu, RECORD, generation=off))
    assert len(a) == len(b) > 0
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_seeded_generation_on_cuda_repeats_and_greedy_matches_cpu(gpt2_tok):
    cpu, gpu = pair("gpt2", gpt2_tok)
    prompts = RECORD["generation_prompts"]
    once = generate_texts(gpu, prompts, total_tokens=20, top_k=5, seed=3)
    assert generate_texts(gpu, prompts, total_tokens=20, top_k=5, seed=3) == once
    assert generate_texts(gpu, prompts, total_tokens=20, top_k=1, seed=0) == \
        generate_texts(cpu, prompts, total_tokens=20, top_k=1, seed=0)


@pytest.mark.parametrize("method", ["rome", "memit"])
def test_bfloat16_edit_on_cuda_is_finite_and_restores(method, bos_tok, tmp_path, corpus_present):
    if not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bfloat16")
    _, gpu = pair("gemma3", bos_tok, dtype=torch.bfloat16)
    before = weights(gpu)
    ed = make_editor(method, gpu, {"v_steps": 5},
                     options(tmp_path))
    result = ed.apply(gpu, REQS[:1])
    changed = [n for n, p in gpu.model.named_parameters() if not torch.equal(p, before[n])]
    assert changed and all(dict(gpu.model.named_parameters())[n].dtype == torch.bfloat16 for n in changed)
    assert all(torch.isfinite(dict(gpu.model.named_parameters())[n]).all() for n in changed)
    result.restore(gpu.model)
    assert all(torch.equal(p, before[n]) for n, p in gpu.model.named_parameters())


def test_sequential_resume_on_cuda_gives_the_same_bytes(gpt2_tok, tmp_path, corpus_present):
    _, gpu = pair("gpt2", gpt2_tok)
    subjects = ["Danielle Darrieux", "Edwin of Northumbria", "Toko Yasuda", "Apple A5", "Honda Civic", "Tom Hanks"]
    records = [toy_record(i, s) for i, s in enumerate(subjects)]
    heldout = [list(gpu.tokenizer("The quick brown fox jumps over the lazy dog. It rained all day.")["input_ids"])]
    inputs = SequentialInputs(records_file=str(tmp_path / "r.json"), heldout=heldout)
    Path(inputs.records_file).write_text(json.dumps(records))
    settings = SequentialSettings(method="alphaedit", model="tiny-gpt2", n_edits=4, batch_size=2, eval_every=2,
                                  probe_records=2, generation=GenerationSettings(tokens=10, seed=1), ge_prompts=1,
                                  disabling_prompts=1)
    before = weights(gpu)
    run_sequential(gpu, make_editor("alphaedit", gpu, {}, options(tmp_path)), records, tmp_path / "a", settings,
                   inputs, report=lambda _: None)
    run_sequential(gpu, make_editor("alphaedit", gpu, {}, options(tmp_path)), records, tmp_path / "b", settings,
                   inputs, report=lambda _: None, stop_after=2)
    resumed = run_sequential(gpu, make_editor("alphaedit", gpu, {}, options(tmp_path)), records, tmp_path / "b",
                             settings, inputs, report=lambda _: None)
    assert resumed.resumed_from == 2
    files = {d: {p.name: p.read_bytes() for p in sorted((tmp_path / d / "alphaedit").iterdir())} for d in "ab"}
    assert files["a"] == files["b"]
    assert all(torch.equal(p, before[n]) for n, p in gpu.model.named_parameters())
