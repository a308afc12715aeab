"""KN: knowledge neurons (Dai et al. 2022) as an editing baseline (paper section 3.2 and its appendix on baselines).

Neurons are the activations that feed a layer's MLP output projection (the input of
``spec.layer_name("edit", l)``, i.e. the "keys"). For a fact:

1. **Attribution** (integrated gradients, ``steps`` Riemann steps from a zero baseline):
   for each prompt (the rewrite prompt and any paraphrases) and each layer, the
   activations at the prompt's last token are scaled by ``alpha = k/steps``; the
   attribution of neuron ``i`` is ``a_i * mean_k d p(answer | alpha_k a) / d a_i``, with
   ``answer`` the first token of ``target_true`` (the model's top prediction when the
   request has no ``target_true``). All ``steps`` scaled copies run as one batch.
2. **Selection**: per prompt keep neurons whose attribution exceeds ``threshold`` times
   that prompt's maximum (over all attributed layers); **refinement** keeps the neurons
   selected for at least a share ``refine_share`` of the prompts.
3. **Edit**: add ``edit_scale * (E[new] - E[true])`` to each selected neuron's value
   vector (its column of the [out, in] view of the edited projection; a row of GPT-2's
   [in, out] Conv1D weight), with ``E`` the unembedding rows of the first tokens of
   ``" " + target_new`` and ``" " + target_true``, times the sign of the neuron's
   activation on the rewrite prompt (GPT-2's GELU neurons that matter fire positively;
   gated MLPs also fire negatively, and there the plain sum would push away from the
   new target).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..model.architectures import check_layers, get_parameter, parse_layers
from ..model.hooks import Trace, TraceDict
from ..model.vocab_projection import final_hidden, head_logits
from .base import EditRequest, EditResult, all_or_nothing, begin_edit
from .ft import encode_target_ids
from .hparams import KNHparams


@dataclass
class KnowledgeNeuronEditor:
    """Knowledge-neuron attribution and editing (see the module docstring)."""

    name: str = "kn"
    layers: list[int] | None = None      # None: every layer
    steps: int = 20
    threshold: float = 0.2
    refine_share: float = 0.4
    edit_scale: float = 2.0
    max_neurons: int | None = None       # keep at most this many (highest summed attribution)

    # -- attribution ---------------------------------------------------------------
    def _layers(self, lm) -> list[int]:
        layers = list(range(lm.n_layers)) if self.layers is None else list(self.layers)
        check_layers(layers, lm.n_layers, f"{self.name} hyperparameter 'layers'", lm.name)
        return layers

    def attribute(self, lm, prompt: str, answer_id: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Integrated-gradients attributions and the activations themselves, both
        (len(layers), n_neurons), at the prompt's last token."""
        model, spec = lm.model, lm.spec
        layers = self._layers(lm)
        enc = lm.tokenizer(prompt, return_tensors="pt")
        ids = enc["input_ids"].to(lm.device)
        last = ids.shape[1] - 1
        names = [spec.layer_name("edit", l) for l in layers]
        with torch.no_grad(), TraceDict(model, names, retain_output=False, retain_input=True,
                                        detach=True, clone=True) as td:
            model(input_ids=ids, use_cache=False)
        acts = [td[n].input[0, last] for n in names]
        alphas = torch.arange(1, self.steps + 1, device=lm.device, dtype=acts[0].dtype) / self.steps
        batch_ids = ids.expand(self.steps, -1)
        out = []
        for name, a in zip(names, acts):
            scaled = (alphas[:, None] * a[None, :]).detach().requires_grad_(True)

            def put(x, _name, scaled=scaled):
                x = x.clone()
                x[:, last] = scaled.to(x.dtype)
                return x

            with Trace(model, name, retain_output=False, edit_input=put):
                hidden = final_hidden(lm, batch_ids, torch.ones_like(batch_ids))
            probs = torch.softmax(head_logits(lm, hidden[:, last]), dim=-1)[:, answer_id]
            (grad,) = torch.autograd.grad(probs.sum(), scaled)
            out.append((a * grad.mean(dim=0)).detach().float())
        return torch.stack(out), torch.stack(acts).float()

    def select_neurons(self, lm, prompts: Sequence[str], answer_id: int) -> list[tuple[int, int, float]]:
        """(layer, neuron, sign) triples kept after thresholding and refinement across prompts.

        ``sign`` is the sign of the neuron's activation on the first prompt (the rewrite
        prompt): gated MLPs (Gemma, Llama) have negative activations, and a neuron that
        fires negatively must get the edit direction reversed to push towards it.
        """
        layers = self._layers(lm)
        counts: dict[tuple[int, int], int] = {}
        score: dict[tuple[int, int], float] = {}
        first_acts = None
        for prompt in prompts:
            attr, acts = self.attribute(lm, prompt, answer_id)
            if first_acts is None:
                first_acts = acts
            top = float(attr.max())
            if top <= 0:
                continue
            for li, ni in (attr > self.threshold * top).nonzero().tolist():
                key = (layers[li], ni)
                counts[key] = counts.get(key, 0) + 1
                score[key] = score.get(key, 0.0) + float(attr[li, ni])
        need = self.refine_share * len(prompts)
        kept = sorted((k for k, c in counts.items() if c >= need), key=lambda k: -score[k])
        if self.max_neurons is not None:
            kept = kept[: self.max_neurons]
        if not kept:
            return []
        assert first_acts is not None  # some prompt was attributed, or nothing would be kept
        return [(l, n, 1.0 if float(first_acts[layers.index(l), n]) >= 0 else -1.0) for l, n in sorted(kept)]

    # -- editing -------------------------------------------------------------------
    @all_or_nothing
    def apply(self, lm, requests: Sequence[EditRequest],
              paraphrases: Mapping[Any, Sequence[str]] | None = None) -> EditResult:
        """Edit each request's knowledge neurons. ``paraphrases[case_id]`` adds prompts for attribution."""
        model, spec = lm.model, lm.spec
        plans = []
        for req in requests:
            prompts = [req.text] + list((paraphrases or {}).get(req.case_id, []))
            new_id = encode_target_ids(lm.tokenizer, req.target_new)[0]
            if req.target_true is not None:
                true_id = encode_target_ids(lm.tokenizer, req.target_true)[0]
            else:
                with torch.no_grad():
                    enc = lm.encode(req.text)
                    hidden = final_hidden(lm, enc["input_ids"], enc["attention_mask"])
                    true_id = int(head_logits(lm, hidden[0, -1]).argmax())
            neurons = self.select_neurons(lm, prompts, true_id)
            plans.append((req, new_id, true_id, neurons))
        touched = sorted({l for *_, ns in plans for l, _, _ in ns})
        result = begin_edit(model, [spec.edit_weight_name(l) for l in touched], self.name)
        unembed = get_parameter(model, f"{spec.unembed}.weight")
        with torch.no_grad():
            for _req, new_id, true_id, neurons in plans:
                direction = self.edit_scale * (unembed[new_id] - unembed[true_id])
                for layer, neuron, sign in neurons:
                    w_out_in = spec.as_out_in(spec.edit_weight(model, layer))
                    w_out_in[:, neuron] += (sign * direction).to(w_out_in.dtype)
        result.info = {
            "neurons": [[[l, n] for l, n, _ in ns] for *_, ns in plans],
            "n_neurons": [len(ns) for *_, ns in plans],
            "layers": touched, "edit_scale": self.edit_scale,
        }
        return result


def make_kn(hparams: KNHparams | Mapping[str, Any], name: str = "kn") -> KnowledgeNeuronEditor:
    """KN from its settings (:class:`rome.editing.hparams.KNHparams`, or a mapping of its fields)."""
    hp = KNHparams.coerce(hparams)
    return KnowledgeNeuronEditor(
        name=name,
        layers=None if hp.layers == "all" else parse_layers(hp.layers),
        steps=hp.steps, threshold=hp.threshold, refine_share=hp.refine_share,
        edit_scale=hp.edit_scale, max_neurons=hp.max_neurons,
    )
