"""The reference engine: the paper's loop, one full forward pass per restoration.

Every restoration runs the whole model on a batch of the noise samples, with hooks that
add the noise to the subject embeddings, copy the clean states in and (for severed paths)
freeze states at their corrupted-run values; the score is read from the full logits.
Plain and slow on purpose: the fast engine is tested against it.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..model.hooks import TraceDict
from .prepare import PreparedPrompt, record_states
from .restore import Restoration


class ReferenceEngine:
    name = "reference"

    def __init__(self, prep: PreparedPrompt, frozen_states: dict | None = None):
        """``frozen_states``: where frozen states come from when not from this engine's own
        corrupted pass (see :class:`~.engine_fast.FastEngine`)."""
        self.prep = prep
        self.frozen_states = frozen_states
        self._corrupted_states: dict | None = None
        self._corrupted_score: float | None = None

    def _batch(self) -> torch.Tensor:
        return self.prep.input_ids.repeat(self.prep.samples, 1)

    def corrupted_states(self) -> dict:
        if self._corrupted_states is None:
            logits, states = record_states(self.prep.lm, self._batch(), self.prep.corrupt_embeddings)
            self._corrupted_states = states
            probs = torch.softmax(logits.float(), -1)[:, self.prep.answer_id]
            self._corrupted_score = float(probs.mean())
        return self._corrupted_states

    def corrupted_score(self) -> float:
        self.corrupted_states()
        assert self._corrupted_score is not None  # set by the corrupted pass
        return self._corrupted_score

    @torch.no_grad()
    def score(self, r: Restoration) -> float:
        prep = self.prep
        spec = prep.lm.spec
        edits: dict[str, list] = {}
        for part, layer in r.restore:
            edits.setdefault(spec.layer_name(part, layer), []).append(("clean", part, layer))
        for part, layer in r.freeze:
            if (part, layer) in r.restore:
                continue
            edits.setdefault(spec.layer_name(part, layer), []).append(("corrupt", part, layer))
        corrupted = (self.corrupted_states() if self.frozen_states is None else self.frozen_states) if r.freeze else None

        def edit(x, name):
            if name == spec.embed:
                return prep.corrupt_embeddings(x)
            x = x.clone()
            for source, part, layer in edits[name]:
                if source == "clean":
                    x[:, r.token] = prep.clean_states[(part, layer)][r.token]
                else:
                    x[:, r.token] = corrupted[(part, layer)][:, r.token]
            return x

        with TraceDict(prep.lm.model, [spec.embed] + list(edits), retain_output=False, edit_output=edit):
            logits = prep.lm.model(input_ids=self._batch()).logits[:, -1]
        return float(torch.softmax(logits.float(), -1)[:, prep.answer_id].mean())

    def scores(self, restorations: Sequence[Restoration], progress: bool = False) -> np.ndarray:
        return np.array([self.score(r) for r in tqdm(restorations, disable=not progress, desc="restorations")])
