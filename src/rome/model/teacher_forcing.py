"""Packing ``(prompt ids, target ids)`` pairs into one right-padded teacher-forcing batch.

Used wherever a target's likelihood is needed (evaluation scoring, fine-tuning losses,
hyper-network training): the last target token is never an input, and ``rows``/``cols``
say which position's logits predict each target token.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


def pad_id(tokenizer) -> int:
    """The tokenizer's pad id, else its EOS id, else 0."""
    pid = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return int(pid if pid is not None else 0)


def right_pad(seqs: Sequence[Sequence[int]], pad: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask)`` [n, longest] of token-id lists, padded on the right with ``pad``."""
    if not seqs:
        raise ValueError("no sequences to pad")
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(list(s), dtype=torch.long)
        mask[i, :len(s)] = 1
    return (ids, mask) if device is None else (ids.to(device), mask.to(device))


@dataclass
class TargetBatch:
    """Prompt+target sequences, right-padded, with the positions that predict target tokens."""

    input_ids: torch.Tensor        # (n, width)
    attention_mask: torch.Tensor   # (n, width)
    rows: torch.Tensor             # (T,) sequence of each target token
    cols: torch.Tensor             # (T,) position whose logits predict it
    gold: torch.Tensor             # (T,) the target token ids
    n_seqs: int
    prompt_lengths: list[int]

    def to(self, device) -> TargetBatch:
        return TargetBatch(self.input_ids.to(device), self.attention_mask.to(device), self.rows.to(device),
                           self.cols.to(device), self.gold.to(device), self.n_seqs, self.prompt_lengths)


def pack_targets(seqs: Sequence[tuple[Sequence[int], Sequence[int]]], pad: int) -> TargetBatch:
    """One batch (on the CPU) of ``prompt + target[:-1]`` rows for ``(prompt, target)`` id pairs."""
    if not seqs:
        raise ValueError("no (prompt, target) pairs to pack")
    if any(not len(p) or not len(t) for p, t in seqs):
        raise ValueError("teacher forcing needs non-empty prompt and target token lists")
    ids, mask = right_pad([(list(p) + list(t))[:-1] for p, t in seqs], pad)
    rows, cols, gold = [], [], []
    for i, (p, t) in enumerate(seqs):
        for j, tid in enumerate(t):
            rows.append(i)
            cols.append(len(p) - 1 + j)
            gold.append(tid)
    as_long = lambda x: torch.tensor(x, dtype=torch.long)  # noqa: E731
    return TargetBatch(ids, mask, as_long(rows), as_long(cols), as_long(gold), len(seqs), [len(p) for p, _ in seqs])
