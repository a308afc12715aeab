"""Right padding and teacher-forcing batches: which positions predict which target tokens."""
from __future__ import annotations

import pytest
import torch

from rome.model.teacher_forcing import pack_targets, right_pad


def test_right_pad_pads_on_the_right_and_masks_the_padding():
    ids, mask = right_pad([[5, 6, 7], [8]], pad=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert ids.dtype == mask.dtype == torch.long
    with pytest.raises(ValueError, match="no sequences"):
        right_pad([], pad=0)


def test_pack_targets_positions_predict_the_target_tokens():
    batch = pack_targets([([1, 2], [3, 4]), ([9], [7])], pad=0)
    # the last target token is never an input
    assert batch.input_ids.tolist() == [[1, 2, 3], [9, 0, 0]]
    assert batch.attention_mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    # position len(prompt) - 1 + j predicts target token j
    assert list(zip(batch.rows.tolist(), batch.cols.tolist(), batch.gold.tolist())) == [(0, 1, 3), (0, 2, 4), (1, 0, 7)]
    assert batch.prompt_lengths == [2, 1] and batch.n_seqs == 2
    with pytest.raises(ValueError, match="non-empty"):
        pack_targets([([1], [])], pad=0)
