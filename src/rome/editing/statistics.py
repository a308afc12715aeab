"""Second-moment key statistics C = E[k kᵀ] (paper section 3.1, paper section 3.1).

The key is the input of the edited MLP output projection (``spec.layer_name("edit", l)``).
One streaming pass over a text corpus fills C for every requested layer: a pre-hook on
each layer's edit module adds ``KᵀK`` of the batch's non-padding keys (one matmul per
layer and batch) to a running sum, and the forward pass stops right after the last
needed layer's edit module.

Corpora (:func:`load_documents`): a local text file (WikiText raw format: split into
articles at top-level `` = Title = `` headings; other files: at blank lines) or a
``datasets`` corpus (``wikitext-103``, ``wikipedia``), fetched only when asked for. The
caller names the file: the library knows no default location (the command lines map
``wikitext-2`` to the local copy, see :mod:`rome.cli.paths`). Documents are tokenized and cut into
chunks of at most ``max_length`` tokens, in corpus order; the budget takes chunks until
it has ``max_tokens`` tokens (the last chunk is shortened to hit it exactly) or
``max_samples`` documents.

Results are plain ``.npz`` files (``C``, ``count``) under the caller's
``<cache_dir>/<model>/<corpus sha256[:16]>/<dtype>-t<tokens>-s<samples>-len<L>/layer-<l>.npz``.
A run checkpoints the partial sums and its position in the chunk list atomically every
``checkpoint_every`` batches, and a later run with the same settings resumes from there.
"""
from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from atomicio import atomic_save_npz, load_npz, stable_key

from ..model.corpus import (  # noqa: F401 (the corpus names and errors are re-exported)
    HF_CORPORA,
    LOCAL_CORPORA,
    StatisticsError,
    StatsSettingsError,
    corpus_fingerprint,
    load_documents,
    resolve_corpus,
    split_paragraphs,
    split_wikitext,
)
from ..model.hooks import TraceDict
from ..model.runtime import resolve_dtype
from ..model.teacher_forcing import right_pad
from .hparams import Hparams, ROMEHparams, normalise_model_name


def tokenize_chunks(
    tokenizer, documents: Sequence[str], max_length: int, max_tokens: int | None = None,
) -> list[list[int]]:
    """Token chunks of at most ``max_length`` tokens, cut to a total of ``max_tokens``."""
    if max_length < 2:
        raise StatisticsError(f"max_length must be at least 2, got {max_length}")
    chunks: list[list[int]] = []
    total = 0
    for doc in documents:
        ids = list(tokenizer(doc, add_special_tokens=True)["input_ids"])
        for start in range(0, len(ids), max_length):
            piece = ids[start:start + max_length]
            if max_tokens is not None and total + len(piece) > max_tokens:
                piece = piece[: max_tokens - total]
            if piece:
                chunks.append(piece)
                total += len(piece)
            if max_tokens is not None and total >= max_tokens:
                return chunks
    return chunks


# -- settings and files ------------------------------------------------------------------

@dataclass(frozen=True)
class StatsSettings:
    """Everything that decides the value of C (besides model and layer)."""

    corpus: str | None = None  # text file or network corpus name; must be given before use
    max_tokens: int | None = 100_000
    max_samples: int | None = None  # documents
    dtype: str = "float32"  # accumulation dtype: float32 or float64
    max_length: int = 512
    batch_size: int = 8

    def __post_init__(self) -> None:
        if self.dtype not in ("float32", "float64"):
            raise StatisticsError(f"statistics dtype must be float32 or float64, got {self.dtype!r}")
        # (setting, where it comes from): a non-positive budget silently gave another C before
        for value, name, optional in ((self.max_tokens, "token budget (stats.tokens, --tokens / --stats-tokens, "
                                       "hparams mom2_tokens)", True),
                                      (self.max_samples, "document budget (--samples, hparams mom2_samples)", True),
                                      (self.max_length, "sequence length (--max-length, hparams mom2_max_length)", False),
                                      (self.batch_size, "batch size (--batch-size)", False)):
            if value is None and optional:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise StatsSettingsError(f"statistics {name} must be a positive integer, got {value!r}")

    def folder_name(self) -> str:
        t = "all" if self.max_tokens is None else str(self.max_tokens)
        s = "all" if self.max_samples is None else str(self.max_samples)
        return f"{self.dtype}-t{t}-s{s}-len{self.max_length}"


def model_slug(lm) -> str:
    """Cache folder of a model: its normalised name plus a hash of its config."""
    config = getattr(lm.model, "config", None)
    cfg = config.to_dict() if config is not None else {}
    cfg = {k: v for k, v in cfg.items() if not k.startswith("_") and k not in ("transformers_version", "dtype", "torch_dtype")}
    name = normalise_model_name(lm.name)
    if name == "tiny":
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(lm.name))
    return f"{name}-{stable_key(cfg, length=8)}"


def stats_dir(lm, settings: StatsSettings, cache_dir: str | os.PathLike) -> Path:
    """The folder of C for ``lm`` and ``settings`` under the caller's ``cache_dir``."""
    if not cache_dir:
        raise StatsSettingsError("key statistics need a cache folder and none was given "
                                 "(command line: --stats-dir)")
    return Path(cache_dir) / model_slug(lm) / corpus_fingerprint(settings.corpus)[:16] / settings.folder_name()


def layer_file(folder: Path, layer: int) -> Path:
    return folder / f"layer-{layer:02d}.npz"


def _checkpoint_file(folder: Path, layers: Sequence[int]) -> Path:
    return folder / f"partial-{stable_key(list(layers), length=10)}.npz"


# -- the streaming pass ------------------------------------------------------------------

def _batches(chunks: Sequence[Sequence[int]], batch_size: int, pad_id: int, start: int) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    for i in range(start, len(chunks), batch_size):
        part = chunks[i:i + batch_size]
        ids, mask = right_pad(part, pad_id)
        yield i + len(part), ids, mask


def accumulate_second_moments(
    lm,
    layers: Sequence[int],
    chunks: Sequence[Sequence[int]],
    *,
    dtype: str = "float32",
    batch_size: int = 8,
    checkpoint: Path | None = None,
    checkpoint_every: int = 20,
    progress: bool = True,
    after_batch: Callable[[int], None] | None = None,
) -> tuple[dict[int, torch.Tensor], int]:
    """Sums ``Σ k kᵀ`` per layer and the number of keys, over ``chunks``.

    With ``checkpoint`` the partial sums and the next chunk index are saved there every
    ``checkpoint_every`` batches and read back first when present (resume after a kill).
    ``after_batch(n_batches_done)`` is called after each batch (tests use it to simulate
    a kill).
    """
    layers = sorted(set(int(l) for l in layers))
    if not layers:
        raise StatisticsError("no layers requested")
    n = lm.n_layers
    bad = [l for l in layers if not 0 <= l < n]
    if bad:
        raise StatisticsError(f"layers {bad} out of range for a model with {n} layers")
    acc_dtype = resolve_dtype(dtype)
    spec, model = lm.spec, lm.model
    dims = {l: spec.key_dim(model, l) for l in layers}
    sums = {l: torch.zeros(dims[l], dims[l], dtype=acc_dtype, device=lm.device) for l in layers}
    count, start = 0, 0
    if checkpoint is not None and checkpoint.is_file():
        saved = load_npz(checkpoint)
        start, count = int(saved["next_chunk"]), int(saved["count"])
        for l in layers:
            sums[l] = torch.from_numpy(saved[f"sum_{l}"]).to(device=lm.device, dtype=acc_dtype)

    names = {spec.layer_name("edit", l): l for l in layers}
    state: dict[str, torch.Tensor] = {}

    def add_keys(x: torch.Tensor, name: str) -> torch.Tensor:
        keys = x[state["mask"]].to(acc_dtype)  # [n_real_tokens, d]; padding excluded
        sums[names[name]].addmm_(keys.T, keys)
        return x

    pad_id = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
    total_tokens = sum(len(c) for c in chunks)
    done_tokens = sum(len(c) for c in chunks[:start])
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=total_tokens, initial=done_tokens, unit="tok", desc=f"stats layers {layers[0]}-{layers[-1]}")
    n_batches = 0
    try:
        for nxt, ids, mask in _batches(chunks, batch_size, pad_id, start):
            ids, mask = ids.to(lm.device), mask.to(lm.device)
            state["mask"] = mask.bool()
            with torch.no_grad(), TraceDict(model, list(names), retain_output=False, edit_input=add_keys, stop=True):
                model(input_ids=ids, attention_mask=mask, use_cache=False)
            n_real = int(mask.sum())
            count += n_real
            n_batches += 1
            if bar is not None:
                bar.update(n_real)
            if checkpoint is not None and n_batches % checkpoint_every == 0 and nxt < len(chunks):
                _save_checkpoint(checkpoint, sums, count, nxt)
            if after_batch is not None:
                after_batch(n_batches)
    finally:
        if bar is not None:
            bar.close()
    return sums, count


def _save_checkpoint(path: Path, sums: dict[int, torch.Tensor], count: int, next_chunk: int) -> None:
    arrays = {f"sum_{l}": s.detach().cpu().numpy() for l, s in sums.items()}
    arrays.update(count=np.array(count, dtype=np.int64), next_chunk=np.array(next_chunk, dtype=np.int64))
    atomic_save_npz(path, arrays)


def compute_statistics(
    lm,
    layers: Sequence[int],
    settings: StatsSettings,
    cache_dir: str | os.PathLike,
    *,
    checkpoint_every: int = 20,
    progress: bool = True,
    after_batch: Callable[[int], None] | None = None,
    force: bool = False,
) -> dict[int, Path]:
    """Compute (or find cached) C for ``layers`` in one pass; return the file per layer."""
    folder = stats_dir(lm, settings, cache_dir)
    layers = sorted(set(int(l) for l in layers))
    missing = [l for l in layers if force or not layer_file(folder, l).is_file()]
    if missing:
        t0 = time.time()
        docs = load_documents(settings.corpus, settings.max_samples)
        # sequences are cut at the model's context length (paper section 3.1) when that is shorter
        max_length = min(settings.max_length, getattr(lm, "context_length", None) or settings.max_length)
        chunks = tokenize_chunks(lm.tokenizer, docs, max_length, settings.max_tokens)
        ckpt = _checkpoint_file(folder, missing)
        sums, count = accumulate_second_moments(
            lm, missing, chunks, dtype=settings.dtype, batch_size=settings.batch_size,
            checkpoint=ckpt, checkpoint_every=checkpoint_every, progress=progress, after_batch=after_batch,
        )
        if count == 0:
            raise StatisticsError("the corpus gave no tokens")
        meta = dict(
            model=str(lm.name), corpus=str(settings.corpus),
            corpus_sha256=corpus_fingerprint(settings.corpus), n_documents=len(docs),
            n_chunks=len(chunks), seconds=round(time.time() - t0, 2),
        )
        for l in missing:
            c = (sums[l] / count).cpu().numpy()
            atomic_save_npz(layer_file(folder, l), {
                "C": c, "count": np.array(count, dtype=np.int64), "layer": np.array(l),
                "meta": np.array(repr(sorted(meta.items()))),
            })
        ckpt.unlink(missing_ok=True)
    return {l: layer_file(folder, l) for l in layers}


def load_second_moment(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    data = load_npz(path)
    return data["C"], int(data["count"])


class StatsProvider:
    """Computes-or-loads C for editors: ``provider(lm, layer) -> torch.Tensor [d, d]``.

    ``prefetch_layers`` are computed together with the first requested layer (one pass
    serves a whole layer sweep).
    """

    def __init__(
        self,
        settings: StatsSettings,
        cache_dir: str | os.PathLike,
        prefetch_layers: Sequence[int] = (),
        progress: bool = True,
    ) -> None:
        self.settings = settings
        self.cache_dir = cache_dir
        self.prefetch_layers = list(prefetch_layers)
        self.progress = progress

    @classmethod
    def from_hparams(cls, hp: Hparams | Mapping[str, Any], cache_dir: str | os.PathLike, corpus=None,
                     tokens=None, *, local_corpus: str | os.PathLike | None = None, **kw) -> StatsProvider:
        """Settings from ROME hyperparameters, with optional command-line overrides.

        The corpus is ``corpus`` when given, else the hparams' ``mom2_corpus``; when that
        is ``wikitext-2`` (or unset) it is the local copy's file ``local_corpus``."""
        h: Any = hp if isinstance(hp, Hparams) else ROMEHparams.coerce(hp)  # any method with the mom2_* settings
        settings = StatsSettings(
            corpus=str(corpus) if corpus is not None else _hparams_corpus(h.mom2_corpus, local_corpus),
            max_tokens=tokens if tokens is not None else h.mom2_tokens,
            max_samples=None if tokens is not None else h.mom2_samples,
            dtype=h.mom2_dtype,
            max_length=h.mom2_max_length,
        )
        return cls(settings, cache_dir, **kw)

    def path(self, lm, layer: int) -> Path:
        return layer_file(stats_dir(lm, self.settings, self.cache_dir), layer)

    def __call__(self, lm, layer: int) -> torch.Tensor:
        path = self.path(lm, layer)
        if not path.is_file():
            wanted = sorted({layer, *[l for l in self.prefetch_layers if 0 <= l < lm.n_layers]})
            compute_statistics(lm, wanted, self.settings, self.cache_dir, progress=self.progress)
        c, _ = load_second_moment(path)
        return torch.from_numpy(c).to(lm.device)


def _hparams_corpus(name: str | None, local_corpus: str | os.PathLike | None) -> str:
    """An hparams corpus entry; ``wikitext-2`` (or none) is the caller's ``local_corpus`` file."""
    if name not in (None, *LOCAL_CORPORA):
        return str(name)
    if local_corpus is None:
        raise StatsSettingsError(
            f"the ROME hyperparameters ask for the local WikiText-2 copy (mom2_corpus {name!r}) but its file "
            "was not given (command line: --corpus PATH or $ROME_SHARED_DATA)")
    return str(local_corpus)
