"""Sanity of causal tracing on the real Gemma 3 270M (a handful of forward passes each)."""
from __future__ import annotations

import pytest

from rome.tracing.engine_fast import FastEngine
from rome.tracing.noise import EmbeddingStats
from rome.tracing.prepare import TraceSettings, prepare
from rome.tracing.restore import Restoration

pytestmark = pytest.mark.gemma

FACTS = [("{} is located in the continent of", "Vinson Massif", "Antarctica"),
         ("The Eiffel Tower is located in the city of", "Eiffel Tower", "Paris")]
STATS = EmbeddingStats(sigma=1.031, n_tokens=4689)  # σ of Gemma's bare subject embeddings over the 1,209 released
# known facts (rome noise-scale: 1.03096; the in-prompt estimate over the first 1,000 gives 1.03098)


@pytest.mark.parametrize("prompt,subject,answer", FACTS)
def test_noise_lowers_and_restoration_recovers(gemma, prompt, subject, answer):
    prep = prepare(gemma, prompt, subject, TraceSettings(noise="s3", samples=4), STATS, expected=answer)
    eng = FastEngine(prep)
    assert prep.clean_prob > 0.05
    assert eng.corrupted_score() < 0.5 * prep.clean_prob
    # restoring nothing is the corrupted run; restoring the last token's top state is the clean run
    assert eng.score(Restoration(prep.enc.subject_start)) == pytest.approx(eng.corrupted_score(), rel=1e-5)
    top = Restoration(prep.n_tokens - 1, (("block", prep.n_layers - 1),))
    assert eng.score(top) == pytest.approx(prep.clean_prob, rel=1e-4)


def test_zero_noise_is_clean(gemma):
    prep = prepare(gemma, *FACTS[0][:2], TraceSettings(noise="0", samples=2), expected=FACTS[0][2])
    assert FastEngine(prep).corrupted_score() == pytest.approx(prep.clean_prob, rel=1e-5)
