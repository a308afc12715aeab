"""Teacher-forced scoring of target continuations, batched.

For every ``(prompt, target)`` pair the sequence ``ids(prompt) + ids(target)`` is built
(the target tokenized on its own, without special tokens, so the boundary is exact),
all pairs are right-padded into batches, and one forward pass per batch runs only up to
the model's final norm (:func:`rome.model.vocab_projection.final_hidden` stops the pass there). The
unembedding and the log-softmax are then applied only at the positions that predict a
target token: Gemma's vocabulary has 262k entries, so vocabulary logits for every
position would dominate the cost.

Two results per pair are available: the mean per-token negative log-likelihood of the
target (COUNTERFACT, paper Table 4) and the per-token top-1 correctness under teacher forcing
(zsRE, paper Table 1). The same pass also gives, at no extra forward, the argmax token at
every target position and, for the pairs asked for (``keep_next``), the whole next-token
log-probability vector after the prompt (the position that predicts the first target
token), which the stricter COUNTERFACT metrics read (:mod:`rome.evaluation.strict`).
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import torch

from .teacher_forcing import pack_targets, pad_id
from .tokens import target_token_ids
from .vocab_projection import final_hidden, head_logits


@dataclass
class TargetScore:
    """Score of one target after one prompt."""

    nll: float                 # mean per-token negative log-likelihood (natural log)
    token_nll: list[float]     # per target token
    correct: list[int]         # 1 where the argmax at that position is the target token
    argmax: list[int] = field(default_factory=list)  # the argmax token id at each target position
    next_logp: torch.Tensor | None = None  # log-probabilities of the next token after the prompt (keep_next)

    @property
    def accuracy(self) -> float:
        return sum(self.correct) / len(self.correct) if self.correct else 0.0


def encode_prompt(tokenizer, prompt: str) -> list[int]:
    """Token ids of a prompt, with the tokenizer's own special tokens (e.g. Gemma's BOS)."""
    ids = tokenizer(prompt)["input_ids"]
    if not ids:
        raise ValueError(f"prompt {prompt!r} encodes to no tokens")
    return list(ids)


def encode_target(tokenizer, target: str) -> list[int]:
    """Token ids of ``" " + target`` (:func:`rome.model.tokens.target_token_ids`: one leading
    space whether or not the target has one), no special tokens."""
    return target_token_ids(tokenizer, target)


def score_targets(lm, pairs: Sequence[tuple[str, str]], batch_size: int = 64,
                  keep_next: Collection[int] = ()) -> list[TargetScore]:
    """Score each ``(prompt, target)``; the target gets one leading space (:func:`encode_target`).

    ``lm`` is a :class:`rome.model.loading.LoadedModel`. Returns one :class:`TargetScore` per pair
    in input order; the pairs whose index is in ``keep_next`` also carry ``next_logp``.
    """
    tok = lm.tokenizer
    prompt_cache: dict[str, list[int]] = {}
    target_cache: dict[str, list[int]] = {}
    seqs = []
    for prompt, target in pairs:
        if prompt not in prompt_cache:
            prompt_cache[prompt] = encode_prompt(tok, prompt)
        if target not in target_cache:
            target_cache[target] = encode_target(tok, target)
        seqs.append((prompt_cache[prompt], target_cache[target]))
    return score_token_ids(lm, seqs, batch_size=batch_size, keep_next=keep_next)


@torch.no_grad()
def score_token_ids(lm, seqs: Sequence[tuple[Sequence[int], Sequence[int]]], batch_size: int = 64,
                    keep_next: Collection[int] = ()) -> list[TargetScore]:
    """Like :func:`score_targets` for already tokenized ``(prompt_ids, target_ids)`` pairs.

    ``next_logp`` (pairs in ``keep_next``) is a float32 CPU vector over the vocabulary: the
    log-softmax at the last prompt position, the one that predicts the first target token.
    """
    keep = set(keep_next)
    if not seqs:
        return []
    pad = pad_id(lm.tokenizer)
    for p, t in seqs:
        if not len(p) or not len(t):
            raise ValueError("score_token_ids needs non-empty prompt and target token lists")
    seqs = [(list(p), list(t)) for p, t in seqs]
    results: list[TargetScore | None] = [None] * len(seqs)
    for idx in plan_batches([len(p) + len(t) - 1 for p, t in seqs], batch_size):
        chunk = [seqs[i] for i in idx]
        batch = pack_targets(chunk, pad).to(lm.device)
        hidden = final_hidden(lm, batch.input_ids, batch.attention_mask)[batch.rows, batch.cols]
        logits = head_logits(lm, hidden)
        logp = torch.log_softmax(logits, dim=-1)
        gold_t = batch.gold
        token_nll = (-logp.gather(1, gold_t[:, None])[:, 0]).tolist()
        top = logits.argmax(dim=-1)
        correct = (top == gold_t).long().tolist()
        top_ids = top.tolist()
        k = 0
        for i, (_p, t) in zip(idx, chunk):
            n = len(t)
            tn = token_nll[k:k + n]
            first = logp[k].detach().float().cpu() if i in keep else None
            results[i] = TargetScore(nll=sum(tn) / n, token_nll=tn, correct=correct[k:k + n],
                                     argmax=top_ids[k:k + n], next_logp=first)
            k += n
    return results  # type: ignore[return-value]


def plan_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into padded batches: sorted by length, at most ``batch_size`` each,
    and within that, one cut placed where it saves the most padding (so a record's short
    neighborhood prompts are not padded to its long paraphrase prompts)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups = [order[s:s + batch_size] for s in range(0, len(order), batch_size)]
    out = []
    for g in groups:
        ls = [lengths[i] for i in g]
        whole = len(g) * ls[-1]
        cost, cut = min(((c * ls[c - 1] + (len(g) - c) * ls[-1], c) for c in range(1, len(g))), default=(whole, 0))
        # a second pass must save at least a fifth of the padded tokens
        out += [g[:cut], g[cut:]] if cut and cost < 0.8 * whole else [g]
    return out
