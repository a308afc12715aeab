"""Stricter COUNTERFACT metrics beside the paper's: CounterFact+, NKL, scores
without teacher forcing and token accuracy. ``docs/evaluation.md`` explains how to read them.

Each metric follows the code of the work that introduced it (read, not copied; commits named):

* **CounterFact+ (NS+, NM+)** — Hoelscher-Obermaier et al., *Detecting Edit Failures in Large
  Language Models: An Improved Specificity Benchmark*, Findings of ACL 2023;
  github.com/apartresearch/specificityplus at 0e36a97, ``experiments/py/eval_utils_counterfact.py``,
  ``compute_rewrite_quality_counterfact``: every neighbourhood prompt is prefixed by the record's
  rewrite prompt (filled with the subject), one space, the *new* target, a full stop and one space
  (``f"{rewrite} {target_new}. " + prompt``). The prompts are scored like the neighbourhood
  prompts (``target_true`` should stay more probable); ``experiments/summarize.py`` averages
  ``P(true) > P(new)`` (NS+) and ``P(true) − P(new)`` (NM+) over them.
* **NKL** — same work, ``experiments/e2e_analyze.py``, ``get_case_df``: per neighbourhood prompt
  ``torch.nn.functional.kl_div(log P_unedited, log P_edited, log_target=True)``, where each ``P``
  is the *next-token* distribution after the prompt (``eval_utils_counterfact.test_batch_prediction``
  saves ``log_softmax(logits[i, prefix_len - 1])``, the position that predicts the first target
  token). ``kl_div(input, target)`` sums ``exp(target)·(target − input)``, so the code computes
  **KL(P_edited ‖ P_unedited)** = Σ_w P_post(w)·(ln P_post(w) − ln P_pre(w)), natural log
  (nats), and this module does the same (:func:`next_token_kl`). Two differences, both stated in
  ``docs/evaluation.md``: their ``reduction="batchmean"`` on a 1-D vector divides the sum by the
  vocabulary size (50,257 for GPT-2), which makes values depend on the tokenizer, so the sum is kept
  here (their value = ours / |V|); and the per-prompt KLs are averaged per record, then over
  records, as every other column (their ``compute_statistic`` does the same two means). NKL+ is the
  same on the CounterFact+ prompts. Lower is better; the unedited model has 0.
* **Generation efficacy / generalisation (ES-gen, PS-gen)** — Yang et al., *The Mirage of Model
  Editing: Revisiting Evaluation in the Wild*, ACL 2025: the edited model must produce the new
  target itself, without teacher forcing (no target tokens fed, no length leaked). Here: the greedy
  continuation (:func:`rome.model.generation.generate_ids`, ``top_k=None``, ending at end-of-sequence)
  of the rewrite and each paraphrase prompt, ``len(target tokens) + slack`` tokens long, must *begin
  with* the new target after :func:`normalise` (case folded and whitespace collapsed, as the
  ``lower`` and ``white_space_fix`` steps of the exact match their WILD framework contributed to
  EasyEdit, ``easyeditor/evaluate/evaluate_utils.py::normalize_answer``) and end there at a word
  boundary (``"Paris"`` does not match ``"Parisian"``). Share of prompts that match.
* **Token accuracy (ES-acc, PS-acc, NS-acc)** — EasyEdit (github.com/zjunlp/EasyEdit at 14cea82),
  ``easyeditor/evaluate/evaluate_utils.py::test_prediction_acc`` as called by
  ``evaluate.py::compute_rewrite_or_rephrase_quality``: teacher-forced argmax at each target
  position compared to the target token, averaged over the target's tokens (per prompt), then over
  prompts. ES-acc / PS-acc: ``target_new`` after the rewrite / paraphrase prompts. NS-acc is
  EasyEdit's locality (``compute_locality_quality`` with the neighbourhood's ground truth, here
  ``target_true``, then ``editors/editor.py``: ``mean(pre_tokens == post_tokens)``): the share of
  ``target_true`` positions whose post-edit argmax equals the pre-edit argmax.

Every definition uses the package's one target tokenisation (:func:`rome.model.scoring.score_targets`)
and its one generation path; none of them changes a number of the paper's columns (the CounterFact+
prompts are scored in a separate pass so the paper's prompts are batched exactly as before).
"""
from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from counterfact.errors import BadInputError

from ..model.generation import generate_ids
from ..model.record_prompts import RecordError, record_prompts, record_targets
from ..model.scoring import TargetScore, encode_prompt, encode_target, score_targets
from ..results.paper_values import NKL_DIRECTIONS, NKL_REDUCTIONS
from ..results.prompt_metrics import magnitude, success
from .metrics import token_accuracy

# Part of every COUNTERFACT record's cache key (with the settings): bump it when a change here
# changes what the strict fields hold, so that records written earlier are recomputed.
STRICT_VERSION = "strict-2"  # 2: NKL direction and reduction are settings (default: the code's /|V|)
# Per-record fields (in a result block) that this module writes.
PLUS_KIND = "distracting_neighborhood_prompts"      # the specificityplus code's name for CounterFact+ prompts
GEN_KINDS = ("rewrite_prompts", "paraphrase_prompts")


@dataclass
class StrictSettings:
    """Whether the strict metrics are computed, and the greedy generation's extra tokens."""

    enabled: bool = True
    match_slack: int = 1     # greedy tokens beyond the target's own token count (one shows where the word ends)
    # NKL (docs/evaluation.md): the specificityplus code's KL(edited || unedited) divided by the
    # vocabulary size (its reduction="batchmean" on one vector) by default; the paper text's
    # KL(unedited || edited) and the plain sum are settings
    nkl_direction: str = "edited_unedited"
    nkl_reduction: str = "batchmean"

    def __post_init__(self):
        if self.nkl_direction not in NKL_DIRECTIONS:
            raise ValueError(f"nkl_direction (evaluation.nkl_direction, --nkl-direction) must be one of "
                             f"{', '.join(NKL_DIRECTIONS)}, got {self.nkl_direction!r}")
        if self.nkl_reduction not in NKL_REDUCTIONS:
            raise ValueError(f"nkl_reduction (evaluation.nkl_reduction, --nkl-reduction) must be one of "
                             f"{', '.join(NKL_REDUCTIONS)}, got {self.nkl_reduction!r}")
        if not isinstance(self.match_slack, int) or self.match_slack < 0:
            raise ValueError(f"match_slack (evaluation.generation_match_slack, --match-slack) must be an integer >= 0, "
                             f"got {self.match_slack!r}")


class EmptyGenerationError(BadInputError, ValueError):
    """A continuation (or target) that is empty after normalisation: nothing to compare."""


def counterfact_plus_prompts(record: Mapping[str, Any]) -> list[str]:
    """The CounterFact+ prompts of a record: ``"<rewrite prompt with subject> <target_new>. "``
    before each neighbourhood prompt (specificityplus ``compute_rewrite_quality_counterfact``)."""
    prompts = record_prompts(record)
    new, _ = record_targets(record)
    prefix = f"{prompts['rewrite_prompts'][0]} {new}. "
    return [prefix + p for p in prompts["neighborhood_prompts"]]


def next_token_kl(pre_logp: torch.Tensor, post_logp: torch.Tensor, direction: str = "edited_unedited",
                  reduction: str = "batchmean") -> float:
    """KL divergence in nats between two next-token log-probability vectors over one vocabulary.

    ``direction="edited_unedited"``: KL(P_post ‖ P_pre) = Σ_w P_post(w)·(ln P_post(w) − ln P_pre(w)),
    what the specificityplus code's ``kl_div(log P_pre, log P_post, log_target=True)`` computes;
    ``"unedited_edited"``: KL(P_pre ‖ P_post), the direction its paper's text writes.
    ``reduction="batchmean"``: that sum divided by the vocabulary size, as the code's
    ``reduction="batchmean"`` does on a 1-D vector; ``"sum"``: the divergence itself. Float64.
    """
    if pre_logp.shape != post_logp.shape or pre_logp.dim() != 1:
        raise ValueError(f"next_token_kl needs two vectors of one shape, got {tuple(pre_logp.shape)} and "
                         f"{tuple(post_logp.shape)}")
    if direction not in NKL_DIRECTIONS or reduction not in NKL_REDUCTIONS:
        raise ValueError(f"next_token_kl: direction {direction!r} / reduction {reduction!r} unknown")
    a, b = pre_logp.double(), post_logp.double()
    if direction == "unedited_edited":
        a, b = b, a
    kl = float((b.exp() * (b - a)).sum().clamp_min(0.0))
    return kl / pre_logp.numel() if reduction == "batchmean" else kl


def normalise(text: str) -> str:
    """Unicode NFKC, case folded, runs of whitespace as one space, no leading or trailing space."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def generation_match(continuation: str, target: str) -> bool:
    """Whether ``continuation`` begins with ``target`` after :func:`normalise`, ending at a word boundary.

    An empty continuation (or target) has nothing to compare: :class:`EmptyGenerationError`.
    """
    text, want = normalise(continuation), normalise(target)
    if not want:
        raise EmptyGenerationError(f"target {target!r} is empty after normalisation")
    if not text:
        raise EmptyGenerationError(f"generation {continuation!r} is empty after normalisation")
    if not text.startswith(want):
        return False
    rest = text[len(want):]
    # a word-final target must end a word: "paris" does not match "parisian" (a target ending
    # in punctuation, e.g. "u.s.", needs no boundary)
    return not rest or not want[-1].isalnum() or not rest[0].isalnum()


def greedy_continuations(lm, prompts: Sequence[str], n_tokens: int) -> list[str]:
    """The greedy continuation (prompt excluded, up to end-of-sequence) of each prompt, decoded."""
    if not prompts:
        return []
    enc = [encode_prompt(lm.tokenizer, p) for p in prompts]
    rows = generate_ids(lm, enc, n_tokens, top_k=None, eos="stop")
    return [lm.tokenizer.decode(r, skip_special_tokens=True) for r in rows]


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _score_plus(lm, prompts: Sequence[str], new: str, true: str, batch_size: int) -> tuple[list[dict], list]:
    """``[{"target_new": nll, "target_true": nll}]`` and the next-token log-probabilities of each
    CounterFact+ prompt, in one pass of one row per prompt when both targets are one token.

    A one-token target's NLL is minus the next-token log-probability of that token, which the
    row of ``" " + target_true`` already holds (``next_logp``, the same log-softmax row the
    scoring reads it from), so the ``target_new`` row would repeat the same input. Longer targets
    get both rows, as in the paper's pass.
    """
    tok = lm.tokenizer
    new_ids, true_ids = encode_target(tok, new), encode_target(tok, true)
    if len(new_ids) == 1 and len(true_ids) == 1:
        scores = score_targets(lm, [(p, " " + true) for p in prompts], batch_size=batch_size,
                               keep_next=range(len(prompts)))
        probs = [{"target_new": -float(s.next_logp[new_ids[0]]), "target_true": s.nll} for s in scores]  # type: ignore[index]
        return probs, [s.next_logp for s in scores]
    pairs = [(p, " " + t) for p in prompts for t in (new, true)]
    scores = score_targets(lm, pairs, batch_size=batch_size, keep_next=range(1, len(pairs), 2))
    probs = [{"target_new": scores[2 * j].nll, "target_true": scores[2 * j + 1].nll} for j in range(len(prompts))]
    return probs, [scores[2 * j + 1].next_logp for j in range(len(prompts))]


def add_strict_fields(lm, record: Mapping[str, Any], block: dict, where: Sequence[tuple[str, int, str]],
                      scores: Sequence[TargetScore], settings: StrictSettings, *, generate: bool,
                      dists: dict | None = None, batch_size: int = 64,
                      report: Callable[[str], None] | None = None) -> None:
    """Add the strict per-record fields to ``block`` (one evaluation of the model as it is now).

    From the paper's scoring pass (``where``/``scores``, as built by ``score_record``):
    ``rewrite_prompts_correct`` / ``paraphrase_prompts_correct`` (0/1 per ``target_new`` token) and
    ``neighborhood_prompts_argmax`` (argmax id per ``target_true`` token). One more pass:
    ``distracting_neighborhood_prompts_probs`` (CounterFact+, both targets). With ``generate``:
    ``<kind>_greedy`` (continuations) and ``<kind>_gen_match`` (0/1) for rewrite and paraphrase
    prompts. ``dists`` (a dict) receives the next-token log-probabilities of the neighbourhood and
    CounterFact+ prompts for :func:`add_cross_fields`; they are never written to a file.
    """
    cid = record.get("case_id", "?")
    new, true = record_targets(record)
    by_kind: dict[str, dict[int, dict[str, TargetScore]]] = {}
    for (kind, i, which), s in zip(where, scores):
        by_kind.setdefault(kind, {}).setdefault(i, {})[which] = s
    for kind in GEN_KINDS:
        got = by_kind.get(kind, {})
        block[f"{kind}_correct"] = [got[i]["target_new"].correct for i in sorted(got)]
    nb = by_kind.get("neighborhood_prompts", {})
    if not nb:
        raise RecordError(f"record {cid}: field 'neighborhood_prompts' is empty: NS, NS+ and NKL need at least one "
                          "neighbourhood prompt")
    block["neighborhood_prompts_argmax"] = [nb[i]["target_true"].argmax for i in sorted(nb)]
    plus = counterfact_plus_prompts(record)
    block[f"{PLUS_KIND}_probs"], plus_next = _score_plus(lm, plus, new, true, batch_size)
    if dists is not None:
        dists["neighborhood_prompts"] = [nb[i]["target_true"].next_logp for i in sorted(nb)]
        dists[PLUS_KIND] = plus_next
    if not generate:
        return
    n_tokens = len(encode_target(lm.tokenizer, new)) + settings.match_slack
    prompts = record_prompts(record)
    gen_prompts = [(kind, i, p) for kind in GEN_KINDS for i, p in enumerate(prompts[kind])]
    texts = greedy_continuations(lm, [p for _, _, p in gen_prompts], n_tokens)
    for kind in GEN_KINDS:
        block[f"{kind}_greedy"], block[f"{kind}_gen_match"] = [], []
    for (kind, i, _), text in zip(gen_prompts, texts):
        try:
            hit = generation_match(text, new)
        except EmptyGenerationError as err:
            hit = False
            if report is not None:
                report(f"rome evaluate: record {cid}, field '{kind}[{i}]': {err} (the greedy continuation ended "
                       "at once); counted as not beginning with the target")
        block[f"{kind}_greedy"].append(text)
        block[f"{kind}_gen_match"].append(int(hit))


def add_cross_fields(post: dict, pre: Mapping[str, Any], pre_dists: Mapping[str, Sequence],
                     post_dists: Mapping[str, Sequence], settings: StrictSettings | None = None) -> None:
    """Fields of ``post`` that compare it with the unedited model: ``neighborhood_prompts_kl`` and
    ``distracting_neighborhood_prompts_kl`` (KL per prompt, nats, direction and reduction from
    ``settings``) and ``neighborhood_prompts_agree`` (1 where the post-edit argmax equals the
    pre-edit one, per ``target_true`` token)."""
    st = settings or StrictSettings()
    for kind in ("neighborhood_prompts", PLUS_KIND):
        a, b = pre_dists.get(kind) or [], post_dists.get(kind) or []
        if len(a) != len(b) or any(x is None for x in (*a, *b)):
            raise ValueError(f"{kind}: next-token distributions missing or unpaired ({len(a)} before, {len(b)} after)")
        post[f"{kind}_kl"] = [next_token_kl(x, y, st.nkl_direction, st.nkl_reduction) for x, y in zip(a, b)]
    before, after = pre.get("neighborhood_prompts_argmax"), post.get("neighborhood_prompts_argmax")
    if before is None or after is None or len(before) != len(after):
        raise ValueError("neighborhood_prompts_argmax missing or unpaired before/after the edit")
    post["neighborhood_prompts_agree"] = [[int(x == y) for x, y in zip(u, v)] for u, v in zip(before, after)]


def strict_record_metrics(block: Mapping[str, Any]) -> dict[str, float | None]:
    """The strict columns of one block (fractions; NKL in nats); ``None`` where the block lacks the field."""
    plus = block.get(f"{PLUS_KIND}_probs")

    def mean_of(key: str) -> float | None:       # per-prompt values (KL, 0/1 match): their mean
        v = block.get(key)
        return _mean([float(x) for x in v]) if v else None

    def acc(key: str) -> float | None:           # per-token 0/1 lists: EasyEdit's token accuracy
        v = block.get(key)
        return token_accuracy(v) if v else None

    out = {
        "NS+": success(plus, "target_true") if plus else None,
        "NM+": magnitude(plus, "target_true") if plus else None,
        "NKL": mean_of("neighborhood_prompts_kl"), "NKL+": mean_of(f"{PLUS_KIND}_kl"),
        "ES-gen": mean_of("rewrite_prompts_gen_match"), "PS-gen": mean_of("paraphrase_prompts_gen_match"),
        "ES-acc": acc("rewrite_prompts_correct"), "PS-acc": acc("paraphrase_prompts_correct"),
        "NS-acc": acc("neighborhood_prompts_agree"),
    }
    return {k: (None if v is not None and math.isnan(v) else v) for k, v in out.items()}
