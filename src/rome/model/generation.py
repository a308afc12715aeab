"""The package's one way to generate tokens: Hugging Face ``model.generate`` with a
:class:`~transformers.GenerationConfig`.

Every caller that needs text from a model goes through :func:`generate_ids`: the texts GE
and RS are computed from (paper section 3.4, Table 4), the text figures, ROME's context
templates (section 3.1) and the hyper-networks' generic training edits. What differs
between them is only the configuration:

* ``top_k`` set: top-k sampling (the paper samples with top-k 5, as the official
  ``generate_fast``: the next token is drawn from the softmax over the ``k`` largest
  logits), temperature 1, no nucleus cut; ``top_k`` ``None``: greedy decoding;
* ``eos="suppress"``: end-of-sequence ids are never produced, so every row has exactly
  ``new_tokens`` tokens (the paper's fixed-length generations); ``eos="continue"``:
  end-of-sequence may be sampled and generation goes on past it (the official context
  templates); ``eos="stop"``: a row ends at end-of-sequence and is padded after it.

Sampling is seeded without touching the caller's random state: the draw runs inside
:func:`torch.random.fork_rng` seeded with ``seed``, so the same prompts, model and seed give
the same tokens, and the global generators are as they were afterwards. Prompts of different
lengths are left-padded into one batch with an attention mask; ``generate`` derives the
positions from the mask and keeps a key/value cache.
"""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext

import torch

from .teacher_forcing import pad_id

EOS_MODES = ("suppress", "continue", "stop")
# Part of the cache key of every result holding generated text: bump it when a change here
# changes which tokens a seed draws.
SAMPLER_VERSION = "hf-generate-1"


def eos_ids(lm) -> list[int]:
    """End-of-sequence ids of the tokenizer and of the model's generation config."""
    ids: set[int] = set()
    for source in (lm.tokenizer.eos_token_id, getattr(getattr(lm.model, "generation_config", None), "eos_token_id", None)):
        if source is None:
            continue
        ids.update(source if isinstance(source, (list, tuple)) else [source])
    return sorted(int(i) for i in ids)


def generation_config(lm, new_tokens: int, top_k: int | None, eos: str = "suppress"):
    """The :class:`~transformers.GenerationConfig` of one call (see the module docstring)."""
    from transformers import GenerationConfig

    if new_tokens < 1:
        raise ValueError(f"new_tokens must be >= 1, got {new_tokens}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1 or None (greedy), got {top_k}")
    if eos not in EOS_MODES:
        raise ValueError(f"eos must be one of {EOS_MODES}, got {eos!r}")
    sampling = dict(do_sample=True, top_k=int(top_k), top_p=1.0, temperature=1.0) if top_k else dict(do_sample=False)
    ends = eos_ids(lm)
    # "no end-of-sequence id" is an empty list, not None: ``generate`` fills a None field of
    # the config from the model's own generation config, whose EOS would stop the rows
    if eos == "stop":
        stops: dict = dict(eos_token_id=ends or [])
    elif eos == "suppress":
        stops = dict(eos_token_id=[], suppress_tokens=ends or None)
    else:
        stops = dict(eos_token_id=[])
    return GenerationConfig(max_new_tokens=int(new_tokens), num_beams=1, pad_token_id=pad_id(lm.tokenizer), **sampling, **stops)


def _forked_rng(device: torch.device):
    """A forked random state of the CPU and of ``device`` (restored on exit)."""
    if device.type == "cpu":
        return torch.random.fork_rng(devices=[])
    if device.type == "cuda":
        return torch.random.fork_rng(devices=[device.index or 0], device_type="cuda")
    if device.type in ("mps", "xpu"):
        return torch.random.fork_rng(device_type=device.type)
    return nullcontext()


@torch.no_grad()
def generate_ids(lm, encoded: Sequence[Sequence[int]], new_tokens: int, *, top_k: int | None, seed: int = 0,
                 eos: str = "suppress") -> list[list[int]]:
    """The generated token ids (prompt excluded) after each encoded prompt, one batch.

    Rows are ``new_tokens`` long, except with ``eos="stop"``, where each row ends at its
    first end-of-sequence token (kept).
    """
    if not encoded:
        return []
    if any(len(e) == 0 for e in encoded):
        raise ValueError("generate_ids: an encoded prompt is empty (nothing to condition on)")
    config = generation_config(lm, new_tokens, top_k, eos)
    dev = lm.device
    width = max(len(e) for e in encoded)
    ids = torch.full((len(encoded), width), config.pad_token_id, dtype=torch.long, device=dev)
    mask = torch.zeros((len(encoded), width), dtype=torch.long, device=dev)
    for i, e in enumerate(encoded):
        ids[i, width - len(e):] = torch.tensor(list(e), dtype=torch.long, device=dev)
        mask[i, width - len(e):] = 1
    with _forked_rng(dev):
        torch.manual_seed(int(seed))
        out = lm.model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
    rows = out[:, width:].tolist()
    if eos == "stop":
        ends = set(eos_ids(lm))
        rows = [row[: next((j + 1 for j, t in enumerate(row) if t in ends), len(row))] for row in rows]
    return rows
