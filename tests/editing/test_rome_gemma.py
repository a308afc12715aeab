"""ROME on the real Gemma 3 270M: edits take, spare a same-relation neighbour, generalise,
restore exactly.

Statistics: 20k tokens of the local WikiText-2 copy, computed once per session into a tmp
cache (the budget barely matters on Gemma: docs/rome.md). Context templates are reduced (4
instead of 21) to keep the tests fast on a CPU. Hyperparameters from
src/rome/hparams/rome/gemma-3-270m.yaml (layer 4, clamp_norm_factor 1.0).
"""
from __future__ import annotations

import pytest
import torch

from rome.editing.base import EditRequest
from rome.editing.hparams import load_hparams
from rome.editing.rome import ROMEEditor
from rome.editing.statistics import StatsProvider, StatsSettings
from rome.model.queries import score_pairs
from testpaths import WIKITEXT2

pytestmark = pytest.mark.gemma

# (prompt, subject, new, true, paraphrase, neighbourhood prompt with its own true answer)
FACTS = [
    ("{} plays the sport of", "LeBron James", "football", "basketball",
     "LeBron James is a professional", ("Serena Williams plays the sport of", "tennis")),
    ("The capital city of {} is", "France", "Rome", "Paris",
     "France's capital,", ("The capital city of Japan is", "Tokyo")),
    ("{} was developed by", "iPhone", "Microsoft", "Apple",
     "The iPhone is a product of", ("The PlayStation was developed by", "Sony")),
    ("{} professionally plays the sport of", "Michael Jordan", "soccer", "basketball",
     "Michael Jordan is a professional", ("Tiger Woods professionally plays the sport of", "golf")),
    ("{} was created by", "Windows", "Apple", "Microsoft",
     "Windows is a product of", ("The PlayStation was created by", "Sony")),
]


@pytest.fixture(scope="session")
def gemma_editor(gemma, tmp_path_factory, shared_data):
    cache = tmp_path_factory.mktemp("gemma-rome")
    hp = load_hparams("rome", gemma.name, {"context_templates": [[5, 3]]})
    provider = StatsProvider(StatsSettings(corpus=WIKITEXT2, max_tokens=20_000, max_length=512), cache_dir=cache,
                             progress=False)
    return ROMEEditor(hp, provider, templates_dir=cache)


@pytest.mark.parametrize("fact", FACTS, ids=[f[1] for f in FACTS])
def test_edit_takes_generalises_and_spares_neighbour(gemma, gemma_editor, fact):
    prompt, subject, new, true, paraphrase, (neighbour, neighbour_true) = fact
    name = gemma.spec.edit_weight_name(gemma_editor.hparams["layer"])
    before = dict(gemma.model.named_parameters())[name].detach().clone()
    pre = score_pairs(gemma, [prompt.format(subject)], new, true)[0]
    assert pre.p_true > pre.p_new  # the model knows the fact before the edit
    result = gemma_editor.apply(gemma, [EditRequest(prompt, subject, new, true)])
    try:
        rewrite, para = score_pairs(gemma, [prompt.format(subject), paraphrase], new, true)
        (neigh,) = score_pairs(gemma, [neighbour], new, neighbour_true)
        info = result.info["requests"][0]
        delta = result.deltas(gemma.model)[name]
    finally:
        result.restore(gemma.model)
    assert rewrite.p_new > rewrite.p_true, rewrite
    assert neigh.p_true > neigh.p_new, neigh  # specificity: the neighbour keeps its answer
    assert info["p_new_after"] > info["p_new_before"]
    assert torch.linalg.matrix_rank(delta.double(), rtol=1e-4) == 1  # float32 rounding of W + ΔW aside
    assert info["rank"] == 1
    assert info["delta_norm"] <= gemma_editor.hparams["clamp_norm_factor"] * info["v_init_norm"] * (1 + 1e-5)
    assert torch.equal(dict(gemma.model.named_parameters())[name], before)  # bit for bit
    if subject == "France" and not para.p_new > para.p_true:
        # Known limit (docs/rome.md, "Neighbour spill on Gemma"): at layer 4 the paraphrase
        # "France's capital," receives less of δ than France's same-relation neighbours
        # (u·k/u·k0 = 0.58 vs 0.76-0.84 for Japan/Germany/Spain), so a rank-one insert
        # cannot flip it without flipping them: with ||δ|| <= ||v_init|| (clamp 1) it stays
        # Paris; with the paper's clamp 4 it flips, but then 7 of 9 probe neighbours do too.
        # Re-run after the KL fix (D_KL(P_edited || P_orig)) with the official context
        # templates: unchanged, p(Rome) 0.011 vs p(Paris) 0.87 on "France's capital,".
        pytest.xfail(f"paraphrase did not take with clamp_norm_factor 1 (a rank-one limit, not the KL direction): {para}")
    assert para.p_new > para.p_true, para
