"""The fast engine: many restorations per forward pass, no recomputation a restoration cannot change.

Same scores as :mod:`.engine_reference` (tested to 1e-5), computed differently:

1. The corrupted pass runs once per prompt and keeps every block output, every MLP and
   attention output, and the keys/values of every layer (a Hugging Face cache).
2. Restorations are grouped by their token ``i`` and (coarsely) by their lowest restored
   layer ``l0``. One forward pass serves a whole group: rows = restorations × noise samples.
3. Causality: positions before ``i`` are identical to the corrupted run, so the pass
   starts at position ``i`` with the cached corrupted keys/values of positions ``< i``.
4. Layers below ``l0`` are identical to the corrupted run, so those blocks are not
   computed: for the duration of the pass their ``forward`` returns the cached corrupted
   output (:func:`replay_blocks`), and block ``l0`` sees the corrupted stream.
5. The forward pass stops after the final norm; only the last position's normed state
   is kept, and the unembedding (262k × 640 for Gemma) runs once over the collected rows
   of all batches, block by block over the vocabulary without holding the full logits
   (:func:`rome.model.vocab_projection.token_probs`), instead of once per batch.
6. Restorations that cannot change the last position's output run no pass at all and
   score the corrupted probability (:meth:`FastEngine.changes_nothing`): those at a token
   before the first corrupted one (clean and corrupted states are the same there), those
   that restore nothing, and those at a token before the last that touch only the top
   layer (nothing reads a top-layer output except at its own position).

Everything goes through the model's own forward, so position embeddings, masks, sliding
windows and soft-capping stay the model's business; the architecture map supplies names.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..model.hooks import Trace, TraceDict, with_primary
from ..model.partial_forward import build_cache, cache_of, capture_raw_output, replay_blocks
from ..model.vocab_projection import token_probs
from .prepare import PARTS, PreparedPrompt
from .restore import Restoration


class FastEngine:
    name = "fast"

    def __init__(self, prep: PreparedPrompt, max_rows: int = 400, layer_chunk: int | None = None,
                 prefix_cache: bool = True, skip_layers: bool = True, skip_noops: bool = True,
                 frozen_states: dict | None = None):
        """``frozen_states`` (part, layer) -> [S, T, H]: where frozen states come from when not
        from this engine's own corrupted pass (the official severed-path noise, which records
        them under another noise draw); layers below a restoration are then computed, not replayed."""
        self.prep = prep
        self.frozen_states = frozen_states
        if frozen_states is not None:
            skip_layers = False  # frozen values below l0 differ from this pass's corrupted ones
        self.max_rows = max(1, int(max_rows))
        L = prep.n_layers
        self.layer_chunk = max(1, layer_chunk if layer_chunk else -(-L // 6))
        self.prefix_cache = prefix_cache
        self.skip_layers = skip_layers
        self.skip_noops = skip_noops
        self._states: dict | None = None
        self._score: float | None = None
        self._cache: Any = None  # the corrupted pass's transformers Cache (when prefix_cache)
        self._template = None

    # -- the corrupted pass, once -------------------------------------------------------
    @torch.no_grad()
    def _corrupted_pass(self) -> None:
        prep, spec, model = self.prep, self.prep.lm.spec, self.prep.lm.model
        names = {(p, l): spec.layer_name(p, l) for l in range(prep.n_layers) for p in PARTS}
        x = prep.input_ids.repeat(prep.samples, 1)

        def edit(t, name):
            return prep.corrupt_embeddings(t) if name == spec.embed else t

        with TraceDict(model, [spec.embed] + list(names.values()), edit_output=edit, detach=True) as td, \
                capture_raw_output(spec.module(model, "block", 0)) as raw:
            out = model(input_ids=x, use_cache=self.prefix_cache, logits_to_keep=1)
        self._states = {k: td[n].output for k, n in names.items()}
        self._cache = cache_of(out) if self.prefix_cache else None
        if self.prefix_cache and self._cache is None:
            self.prefix_cache = False  # the model keeps no cache: fall back to full passes
        self._template = raw["output"]
        probs = torch.softmax(out.logits[:, -1].float(), -1)[:, prep.answer_id]
        self._score = float(probs.mean())

    def corrupted_states(self) -> dict:
        if self._states is None:
            self._corrupted_pass()
        assert self._states is not None  # set by the corrupted pass
        return self._states

    def corrupted_score(self) -> float:
        self.corrupted_states()
        assert self._score is not None  # set by the corrupted pass
        return self._score

    def changes_nothing(self, r: Restoration) -> bool:
        """True when ``r`` provably leaves the last position's output at its corrupted value."""
        prep = self.prep
        if r.token < min(prep.corrupt_positions, default=prep.n_tokens):
            return True
        top = prep.n_layers - 1
        if r.token < prep.n_tokens - 1 and all(layer == top for _, layer in r.parts()):
            return True
        if self.frozen_states is not None and r.freeze:
            return False  # states frozen from another noise draw change the pass
        return not r.restore

    # -- batching -------------------------------------------------------------------------
    def _prefix(self, i: int, repeat: int):
        """A fresh cache with the corrupted keys/values of positions < i, rows repeated."""
        return build_cache(self.prep.lm.model.config,
                           [(layer.keys[:, :, :i].repeat(repeat, 1, 1, 1), layer.values[:, :, :i].repeat(repeat, 1, 1, 1))
                            for layer in self._cache.layers])

    def _batches(self, restorations: Sequence[Restoration]) -> list[list[int]]:
        L = self.prep.n_layers
        per = max(1, self.max_rows // self.prep.samples)
        groups: dict[tuple, list[int]] = defaultdict(list)
        for k, r in enumerate(restorations):
            l0 = r.first_layer if r.first_layer is not None else L
            groups[(r.token, l0 // self.layer_chunk if self.skip_layers else 0)].append(k)
        batches = []
        for key in sorted(groups):
            idx = sorted(groups[key], key=lambda k: restorations[k].first_layer or 0)
            batches += [idx[s:s + per] for s in range(0, len(idx), per)]
        return batches

    @torch.no_grad()
    def _run_batch(self, rs: Sequence[Restoration]) -> torch.Tensor:
        prep, spec, model = self.prep, self.prep.lm.spec, self.prep.lm.model
        states = self.corrupted_states()
        frozen = states if self.frozen_states is None else self.frozen_states
        S, R, L = prep.samples, len(rs), prep.n_layers
        token = rs[0].token
        offset = token if self.prefix_cache else 0
        l_skip = min((r.first_layer if r.first_layer is not None else L) for r in rs) if self.skip_layers else 0
        pos = token - offset

        # per module: rows and values to write at position `pos`
        writes: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
        for b, r in enumerate(rs):
            rows = list(range(b * S, (b + 1) * S))
            for part, layer in r.restore:
                rows_, vals = writes[spec.layer_name(part, layer)]
                rows_ += rows
                vals.append(prep.clean_states[(part, layer)][token].expand(S, -1))
            for part, layer in r.freeze:
                if (part, layer) in r.restore or layer < l_skip:
                    continue
                rows_, vals = writes[spec.layer_name(part, layer)]
                rows_ += rows
                vals.append(frozen[(part, layer)][:, token])
        index = {n: (torch.tensor(rw, device=prep.lm.device), torch.cat(vs)) for n, (rw, vs) in writes.items()}

        def edit(x, name):
            if name == spec.embed:
                return prep.corrupt_embeddings(x, offset, R)
            rows, vals = index[name]
            x = x.clone()
            x[rows, pos] = vals.to(x.dtype)
            return x

        replay = {}
        for k in range(l_skip):
            cached = states[("block", k)][:, offset:].repeat(R, 1, 1)
            replay[spec.module(model, "block", k)] = (
                lambda *a, _c=cached, **kw: with_primary(self._template, _c))
        names = ([spec.embed] if l_skip == 0 else []) + list(index)
        ids = prep.input_ids[:, offset:].repeat(R * S, 1)
        cache = self._prefix(offset, R) if (self.prefix_cache and offset > 0) else None
        with replay_blocks(replay), TraceDict(model, names, retain_output=False, edit_output=edit), \
                Trace(model, spec.final_norm, stop=True) as final:
            model(input_ids=ids, cache=cache, use_cache=cache is not None)
        assert final.output is not None  # the final norm ran (the pass stops there)
        return final.output[:, -1]  # [R*S, H], rows restoration-major

    def scores(self, restorations: Sequence[Restoration], progress: bool = False) -> np.ndarray:
        S = self.prep.samples
        out = np.zeros(len(restorations))
        noop = [self.skip_noops and self.changes_nothing(r) for r in restorations]
        if any(noop):
            out[np.array(noop)] = self.corrupted_score()
        live = [k for k, skip in enumerate(noop) if not skip]
        order, states = [], []
        for batch in tqdm(self._batches([restorations[k] for k in live]), disable=not progress, desc="batches"):
            states.append(self._run_batch([restorations[live[k]] for k in batch]))
            order += [live[k] for k in batch]
        if not order:
            return out
        probs = token_probs(self.prep.lm, torch.cat(states), self.prep.answer_id).view(len(order), S).mean(1)
        out[order] = probs.cpu().numpy().astype(np.float64)
        return out

    def score(self, r: Restoration) -> float:
        return float(self.scores([r])[0])
