"""ROME's context templates (paper section 3.1): ``"{}"`` plus short texts
sampled from the model, each used as ``"<text>. {}"``.

For each ``[length, count]`` pair, ``count`` texts are sampled (top-k) from the model's
start token (GPT-2's ``<|endoftext|>``, Gemma's BOS). Two readings of ``length``:

* ``official`` (default): the official code (``rome_main.get_context_templates`` with
  ``util/generate.generate_fast``) generates until the sequence, *start token included*,
  is ``length`` tokens long, so each text has ``length − 1`` new tokens. Generation does
  not stop at the end-of-text token (one sampled mid-way is dropped from the text, as the
  official code removes ``"<|endoftext|>"``). The decoded text is kept as it is, leading
  space included (GPT-2's first sampled token usually starts with one), after NFKD
  normalisation and replacing ``"\\n\\n"`` by ``" "``; braces are removed so a template
  holds exactly one ``{}``.
* ``new_tokens``: ``length`` new tokens, end-of-text suppressed, braces and newlines
  replaced by spaces, text stripped (this package's earlier reading of the paper's text).

Sampling is seeded (a forked RNG, so the caller's global RNG is untouched) and the result
is cached as a JSON file, keyed by model, seed, every setting above and the sampler's
version (:data:`rome.model.generation.SAMPLER_VERSION`: another sampling implementation draws
other texts from the same seed), in the folder the caller gives (``cache_dir``; the command
lines' default is in :mod:`rome.cli.paths`). The texts themselves are an input of every
ROME result: evaluation and sweep files carry the file's checksum in their cache key.
"""
from __future__ import annotations

import os
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from atomicio import atomic_write_json, stable_key

from ..model import generation
from .statistics import model_slug

TEMPLATE_MODES = ("official", "new_tokens")


def check_mode(mode: str) -> str:
    if mode not in TEMPLATE_MODES:
        raise ValueError(f"context_template_mode must be one of {TEMPLATE_MODES}, got {mode!r}")
    return mode


def new_token_count(length: int, mode: str) -> int:
    """Tokens sampled for a text of length setting ``length`` (see the module docstring)."""
    n = int(length) - 1 if check_mode(mode) == "official" else int(length)
    if n < 1:
        raise ValueError(f"context template length {length} leaves no token to sample ({mode} mode)")
    return n


def templates_file(lm, lengths: Sequence[Sequence[int]], top_k: int, seed: int, cache_dir=None,
                   mode: str = "official", starts: Sequence[str] = ()) -> Path:
    if not cache_dir:
        raise ValueError("context templates need a cache folder and none was given: pass cache_dir "
                         "(ROMEEditor: templates_dir; command line: --templates-dir)")
    root = Path(cache_dir)
    parts: list = [[list(map(int, x)) for x in lengths], int(top_k), int(seed), check_mode(mode),
                   generation.SAMPLER_VERSION]
    if starts:  # MEMIT's start words (ROME's files keep their names)
        parts.append([str(w) for w in starts])
    key = stable_key(*parts, length=10)
    return root / f"{model_slug(lm)}-seed{seed}-{key}.json"


def start_token(tok) -> int:
    start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    if start is None:
        raise ValueError("the tokenizer has neither a BOS nor an EOS token to start sampling from")
    return int(start)


def sample_ids(lm, n_new: int, count: int, top_k: int, seed: int, stop_at_eos: bool = False) -> list[list[int]]:
    """``count`` rows of ``n_new`` token ids sampled with top-k from the start token (seeded).

    ``stop_at_eos`` False: end-of-text may be sampled and generation goes on (official);
    True: end-of-text is suppressed so every text has ``n_new`` real tokens.
    """
    start = [start_token(lm.tokenizer)]
    return generation.generate_ids(lm, [start] * count, n_new, top_k=top_k, seed=seed,
                                   eos="suppress" if stop_at_eos else "continue")


def clean_text(text: str, mode: str) -> str:
    """A decoded sample as it goes into ``"<text>. {}"`` (see the module docstring)."""
    if check_mode(mode) == "official":
        text = unicodedata.normalize("NFKD", text).replace("\n\n", " ")
        return text.replace("{", "").replace("}", "")
    return text.replace("{", " ").replace("}", " ").replace("\n", " ").strip()


def sample_texts(lm, length: int, count: int, top_k: int, seed: int, mode: str = "official") -> list[str]:
    """``count`` texts for length setting ``length`` (see the module docstring)."""
    ids = sample_ids(lm, new_token_count(length, mode), count, top_k, seed, stop_at_eos=(mode == "new_tokens"))
    texts = lm.tokenizer.batch_decode(ids, skip_special_tokens=True)
    return [clean_text(t, mode) for t in texts]


def context_templates(
    lm,
    lengths: Sequence[Sequence[int]] = ((5, 10), (10, 10)),
    top_k: int = 5,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    mode: str = "official",
    starts: Sequence[str] = (),
) -> list[str]:
    """``["{}", "<text>. {}", ...]``, from the JSON cache or sampled and cached.

    ``starts`` (MEMIT, official ``memit_main.get_context_templates``): each ``[length, count]``
    samples ``count // len(starts)`` texts from each start word (its tokens, the tokenizer's
    start token included, count towards ``length`` in official mode, as ``generate_fast``'s
    ``max_out_len``), and the text keeps the word. Empty: sampled from the start token (ROME)."""
    path = templates_file(lm, lengths, top_k, seed, cache_dir, mode, starts)
    if path.is_file():
        from atomicio import load_json
        return load_json(path)["templates"]
    templates = ["{}"]
    for i, (length, count) in enumerate(lengths):
        if starts:
            texts = start_word_texts(lm, starts, int(length), int(count) // len(starts), top_k, seed + 1000 * i, mode)
        else:
            texts = sample_texts(lm, int(length), int(count), top_k, seed + 1000 * i, mode)
        templates += [f"{t}. {{}}" for t in texts]
    atomic_write_json(path, {
        "model": str(lm.name), "lengths": [list(map(int, x)) for x in lengths],
        "top_k": int(top_k), "seed": int(seed), "mode": mode, "templates": templates,
        **({"starts": list(starts)} if starts else {}),
    })
    return templates


def start_word_texts(lm, starts: Sequence[str], length: int, per_word: int, top_k: int, seed: int,
                     mode: str = "official") -> list[str]:
    """``per_word`` texts from each start word, in the order of ``starts`` (see :func:`context_templates`)."""
    texts = []
    for j, word in enumerate(starts):
        ids = list(lm.tokenizer(word)["input_ids"])
        n_new = length - len(ids) if check_mode(mode) == "official" else int(length)
        if n_new < 1:
            raise ValueError(f"context template length {length} leaves no token to sample after {word!r}")
        new = generation.generate_ids(lm, [ids] * per_word, n_new, top_k=top_k, seed=seed + j,
                                      eos="suppress" if mode == "new_tokens" else "continue")
        decoded = lm.tokenizer.batch_decode([ids + list(row) for row in new], skip_special_tokens=True)
        texts += [clean_text(t, mode) for t in decoded]
    return texts


def template_groups(lengths: Sequence[Sequence[int]], starts: Sequence[str] = ()) -> list[int]:
    """Sizes of the template groups in :func:`context_templates`' list: ``"{}"`` alone, then one
    group per ``[length, count]`` (official ``compute_ks`` averages within, then across groups)."""
    per = (lambda c: (int(c) // len(starts)) * len(starts)) if starts else int
    return [1] + [per(count) for _, count in lengths]
