"""What the KE and MEND hyper-networks consume.

* **Training examples** (:class:`HypernetExample`) for the three variants:

  - ``plain``: generic edits from a text corpus, as in MEND's generation setting. A
    sentence prefix of 6-12 words is taken from the corpus; the model's own greedy
    continuation is what it would say; a *different* continuation sampled from the
    model (top-k, seeded) becomes the edit target. Locality prompts are other prefixes.
  - ``cf``: COUNTERFACT training-split records: rewrite prompt -> ``target_new``, its
    paraphrase prompts share the target; locality prompts are rewrite prompts of other
    training records.
  - ``zsre``: zsRE training records (MEND format): question ``src`` -> ``alt`` (MEND's
    own counterfactual training target; ``answers[0]`` when ``alt`` is absent),
    ``rephrase`` shares the target; the unrelated ``loc`` question is the locality prompt.

* **Per-edit inputs**: :func:`gradient_factors` (the rank-one factors -- input
  activations ``u`` and output gradients ``delta`` -- of the fine-tuning gradient of the
  edited projections, which MEND transforms and KE conditions on), and
  :func:`added_weight_deltas` (a context manager running the model as if ``W + dW``,
  differentiably in ``dW``, without touching the stored weights).

The trained networks' files and the editor that applies them are in
:mod:`rome.editing.hypernet` (which imports this module and the networks, never the reverse).
"""
from __future__ import annotations

import contextlib
import os
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from counterfact.errors import BadInputError, read_json_list
from counterfact.records import load_records as load_counterfact
from replkit.wikitext import is_heading

from ..model.generation import generate_ids
from ..model.hooks import TraceDict
from ..model.scoring import encode_prompt
from .ft import build_target_batch, target_token_logprobs

VARIANTS = ("plain", "cf", "zsre")


class HypernetDataError(BadInputError, ValueError):
    """Bad training data (names the file, record and field)."""


@dataclass
class HypernetExample:
    """One training edit: make ``target`` follow ``prompt`` (and each paraphrase)."""

    prompt: str
    target: str
    paraphrases: list[str] = field(default_factory=list)
    locality: list[str] = field(default_factory=list)
    source: str = ""

    @property
    def edit_prompts(self) -> list[str]:
        return [self.prompt] + list(self.paraphrases)


# -- loading ------------------------------------------------------------------------------

def _need_str(rec: Mapping, key: str, where: str) -> str:
    val = rec.get(key) if isinstance(rec, Mapping) else None
    if not isinstance(val, str) or not val.strip():
        raise HypernetDataError(f"{where}: field {key!r} must be a non-empty string")
    return val


def counterfact_examples(path: str | os.PathLike, seed: int = 0, exclude_case_ids: Sequence[int] = (),
                         n_locality: int = 2) -> list[HypernetExample]:
    """Examples from COUNTERFACT records (the released file's schema), skipping ``exclude_case_ids`` (the evaluated ones)."""
    records = load_counterfact(path)
    excluded = set(int(c) for c in exclude_case_ids)
    parsed = []
    for i, rec in enumerate(records):
        where = f"{path}: record {i} (case_id {rec.get('case_id', '?') if isinstance(rec, Mapping) else '?'})"
        if not isinstance(rec, Mapping) or "requested_rewrite" not in rec:
            raise HypernetDataError(f"{where}: missing field 'requested_rewrite'")
        if rec.get("case_id") is not None and int(rec["case_id"]) in excluded:
            continue
        rw = rec["requested_rewrite"]
        prompt = _need_str(rw, "prompt", where + ".requested_rewrite")
        subject = _need_str(rw, "subject", where + ".requested_rewrite")
        if prompt.count("{}") != 1:
            raise HypernetDataError(f"{where}: requested_rewrite.prompt must contain '{{}}' exactly once")
        target = _need_str(rw.get("target_new") or {}, "str", where + ".requested_rewrite.target_new")
        paras = [p for p in rec.get("paraphrase_prompts", []) if isinstance(p, str) and p.strip()]
        parsed.append((prompt.replace("{}", subject), target, paras, rec.get("case_id", i)))
    if not parsed:
        raise HypernetDataError(f"{path}: no usable COUNTERFACT training records")
    rng = random.Random(seed)
    out = []
    for j, (text, target, paras, cid) in enumerate(parsed):
        others = [parsed[k][0] for k in rng.sample(range(len(parsed)), min(len(parsed), n_locality + 1)) if k != j]
        out.append(HypernetExample(text, target, paras, others[:n_locality], f"counterfact:{cid}"))
    return out


def zsre_examples(path: str | os.PathLike, exclude_indices: Sequence[int] = ()) -> list[HypernetExample]:
    """Examples from MEND-format zsRE records (subject, src, rephrase, alt, answers, loc, loc_ans)."""
    records = read_json_list(path, "config key paths.zsre_train")
    excluded = set(exclude_indices)
    out = []
    for i, rec in enumerate(records):
        if i in excluded:
            continue
        where = f"{path}: record {i}"
        src = _need_str(rec, "src", where)
        loc = _need_str(rec, "loc", where)
        alt = rec.get("alt")
        if not isinstance(alt, str) or not alt.strip():
            answers = rec.get("answers")
            if not isinstance(answers, list) or not answers or not isinstance(answers[0], str):
                raise HypernetDataError(f"{where}: needs field 'alt' or a non-empty list 'answers'")
            alt = answers[0]
        paras = [rec["rephrase"]] if isinstance(rec.get("rephrase"), str) and rec["rephrase"].strip() else []
        out.append(HypernetExample(src, alt.strip(), paras, [loc], f"zsre:{i}"))
    if not out:
        raise HypernetDataError(f"{path}: no usable zsRE training records")
    return out


def corpus_prefixes(path: str | os.PathLike, n: int, seed: int = 0, min_words: int = 6,
                    max_words: int = 12) -> list[str]:
    """``n`` sentence prefixes (``min_words``-``max_words`` words) from a raw text corpus, seeded."""
    path = Path(path)
    try:
        from atomicio import read_utf8
        text = read_utf8(path)
    except FileNotFoundError:
        raise HypernetDataError(f"{path}: corpus file not found") from None
    sentences = []
    for line in text.splitlines():
        if not line.strip() or is_heading(line):
            continue
        for sent in re.split(r"(?<=[.!?])\s+", line.strip()):
            words = sent.replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".").split()
            if len(words) >= max_words + 2 and "<unk>" not in words:
                sentences.append(words)
    if not sentences:
        raise HypernetDataError(f"{path}: no sentences of at least {max_words + 2} words")
    rng = random.Random(seed)
    picks = rng.sample(range(len(sentences)), min(n, len(sentences)))
    return [" ".join(sentences[i][: rng.randint(min_words, max_words)]) for i in picks]


def _continuations(lm, prompts: Sequence[list[int]], n_tokens: int, top_k: int | None, seed: int,
                   chunk: int = 16) -> list[list[int]]:
    """``n_tokens`` greedy (``top_k`` None) or sampled ids after each prompt (one generation path)."""
    out: list[list[int]] = []
    for start in range(0, len(prompts), chunk):
        out += generate_ids(lm, prompts[start:start + chunk], n_tokens, top_k=top_k, seed=seed + start, eos="continue")
    return out


def generic_examples(lm, corpus: str | os.PathLike, n: int, seed: int = 0, n_tokens: int = 3,
                     top_k: int = 20, n_locality: int = 2, progress: bool = True, attempts: int = 5) -> list[HypernetExample]:
    """``plain`` examples: corpus prefix -> a sampled continuation different from the greedy one.

    All prefixes are continued greedily, then sampled (top-k, seeded); prefixes whose sample
    equals the greedy continuation are sampled again, up to ``attempts`` draws in all, and
    dropped if every draw was the greedy one.
    """
    from tqdm.auto import tqdm

    prefixes = corpus_prefixes(corpus, n + n_locality * 4, seed)
    chosen = prefixes[:n]
    enc = [encode_prompt(lm.tokenizer, p) for p in chosen]
    greedy = _continuations(lm, enc, n_tokens, None, seed)
    sampled = list(greedy)
    pending = list(range(len(chosen)))
    draw_seeds = random.Random(seed + 2)
    for _ in tqdm(range(attempts), desc="generic edits", disable=not progress):
        if not pending:
            break
        draws = _continuations(lm, [enc[i] for i in pending], n_tokens, top_k, draw_seeds.randrange(2**31))
        for i, d in zip(pending, draws):
            sampled[i] = d
        pending = [i for i in pending if sampled[i] == greedy[i]]
    rng = random.Random(seed + 1)
    out = []
    for i, prefix in enumerate(chosen):
        target = lm.tokenizer.decode(sampled[i], skip_special_tokens=True).strip()
        if not target or sampled[i] == greedy[i]:
            continue
        loc = [p for p in rng.sample(prefixes, n_locality + 1) if p != prefix][:n_locality]
        out.append(HypernetExample(prefix, target, [], loc, "corpus"))
    if not out:
        raise HypernetDataError(f"{corpus}: could not build any generic edit")
    return out


def save_examples(path: str | os.PathLike, examples: Sequence[HypernetExample]) -> None:
    from atomicio import atomic_write_json

    atomic_write_json(path, [asdict(e) for e in examples], indent=None)


# -- per-edit inputs ------------------------------------------------------------------------

def gradient_factors(lm, layers: Sequence[int], prompts: Sequence[str], target: str,
                     ) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """Rank-one factors of the fine-tuning gradient of each layer's edited projection.

    The loss is the summed NLL of ``" " + target`` after each prompt (original weights).
    Returns ``{layer: (u, delta)}``, ``u`` (T, d_in) the projection inputs and ``delta``
    (T, d_out) the loss gradients w.r.t. its outputs, at the T positions that predict
    target tokens, so that ``dL/dW_out_in = delta.T @ u``. Both are detached.
    """
    spec, model = lm.spec, lm.model
    batch = build_target_batch(lm, list(prompts), [target] * len(prompts))
    names = [spec.layer_name("edit", l) for l in layers]
    probes: dict[str, torch.Tensor] = {}

    def add_probe(out: torch.Tensor, name: str) -> torch.Tensor:
        probes[name] = torch.zeros_like(out, requires_grad=True)
        return out + probes[name]

    with TraceDict(model, names, retain_output=False, retain_input=True, edit_output=add_probe) as td:
        loss = -target_token_logprobs(lm, batch).sum()
        inputs = {n: td[n].input for n in names}
    grads = torch.autograd.grad(loss, [probes[n] for n in names])
    out = {}
    for layer, n, g in zip(layers, names, grads):
        out[layer] = (inputs[n][batch.rows, batch.cols].detach(), g[batch.rows, batch.cols].detach())
    return out


@contextlib.contextmanager
def added_weight_deltas(lm, deltas_out_in: Mapping[int, torch.Tensor]) -> Iterator[None]:
    """Run ``lm`` as if each layer's edited projection were ``W + dW`` (``dW`` in [out, in] layout).

    The output of the projection gets ``x @ dW.T`` added, so gradients flow into ``dW``
    while the stored weights stay untouched.
    """
    spec = lm.spec
    names = {spec.layer_name("edit", l): l for l in deltas_out_in}
    holder: dict[str, TraceDict] = {}

    def add(out: torch.Tensor, name: str) -> torch.Tensor:
        x = holder["td"][name].input
        dw = deltas_out_in[names[name]]
        return out + torch.nn.functional.linear(x, dw.to(x.dtype))

    with TraceDict(lm.model, list(names), retain_output=False, retain_input=True, edit_output=add) as td:
        holder["td"] = td
        yield


def to_param_layout(spec, delta_out_in: torch.Tensor) -> torch.Tensor:
    """A [out, in] delta in the edited weight's own layout (Conv1D stores [in, out])."""
    return spec.as_out_in(delta_out_in)


# -- trained hyper-networks: files and the editor ------------------------------------------
