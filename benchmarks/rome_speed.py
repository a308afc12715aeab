"""ROME speed on the embedded Gemma 3 270M: seconds per edit, and statistics throughput.

    python benchmarks/rome_speed.py [--tokens 8000] [--edits 2] [--threads 2] [--device cpu]

Prints
* seconds per edit (paper hyperparameters: 21 context templates, <= 20 steps; the
  statistics come from a small cached budget, computed first and not timed);
* statistics throughput (tokens/s) for the edit layer and for all 18 layers, against a
  plain forward pass of the whole model (logits included) on the same token chunks,
  as a ratio. Goals: an edit under 10 s; statistics >= 0.8 x plain forward speed.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from rome.cli import paths as cli_paths
from rome.editing.base import EditRequest
from rome.editing.hparams import load_hparams
from rome.editing.rome import ROMEEditor
from rome.editing.statistics import (
    StatsProvider,
    StatsSettings,
    _batches,
    accumulate_second_moments,
    load_documents,
    tokenize_chunks,
)
from rome.model.loading import load_model

FACTS = [EditRequest("{} plays the sport of", "LeBron James", "football"),
         EditRequest("The capital city of {} is", "France", "Rome"),
         EditRequest("{} was developed by", "iPhone", "Microsoft")]


def plain_forward_rate(lm, chunks, batch_size) -> float:
    pad = lm.tokenizer.pad_token_id or 0
    t0, n = time.perf_counter(), 0
    with torch.no_grad():
        for _, ids, mask in _batches(chunks, batch_size, pad, 0):
            lm.model(input_ids=ids.to(lm.device), attention_mask=mask.to(lm.device), use_cache=False)
            n += int(mask.sum())
    return n / (time.perf_counter() - t0)


def stats_rate(lm, layers, chunks, batch_size) -> float:
    t0 = time.perf_counter()
    _, n = accumulate_second_moments(lm, layers, chunks, batch_size=batch_size, progress=False)
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="gemma-3-270m")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--tokens", type=int, default=8000, help="tokens for the throughput comparison")
    ap.add_argument("--edits", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=512)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_model(args.model, device=args.device, cache=cli_paths.models_dir())
    corpus = cli_paths.corpus(None)
    hp = load_hparams("rome", lm.name)
    print(f"model {args.model} on {lm.device}, {torch.get_num_threads()} threads, edit layer {hp['layer']}")

    chunks = tokenize_chunks(lm.tokenizer, load_documents(corpus), args.max_length, args.tokens)
    plain = plain_forward_rate(lm, chunks, args.batch_size)
    one = stats_rate(lm, [hp["layer"]], chunks, args.batch_size)
    every = stats_rate(lm, list(range(lm.n_layers)), chunks, args.batch_size)
    print(f"plain forward:              {plain:9.0f} tokens/s")
    print(f"statistics, layer {hp['layer']:<2}:       {one:9.0f} tokens/s  ratio {one / plain:.2f}")
    print(f"statistics, all {lm.n_layers} layers:   {every:9.0f} tokens/s  ratio {every / plain:.2f}")

    with tempfile.TemporaryDirectory() as cache:
        provider = StatsProvider(StatsSettings(corpus=corpus, max_tokens=args.tokens, max_length=args.max_length), cache, progress=False)
        editor = ROMEEditor(hp, provider, templates_dir=cache)
        provider(lm, hp["layer"])  # statistics and templates are cached inputs, not part of an edit
        editor.templates(lm)
        times = []
        for req in FACTS[: args.edits]:
            t0 = time.perf_counter()
            result = editor.apply(lm, [req])
            times.append(time.perf_counter() - t0)
            info = result.info["requests"][0]
            result.restore(lm.model)
            print(f"edit {req.subject!r} -> {req.target_new!r}: {times[-1]:.1f} s, {info['steps']} steps, "
                  f"p(new) {info['p_new_before']:.3f} -> {info['p_new_after']:.3f}")
    print(f"seconds per edit: {sum(times) / len(times):.1f} (goal < 10 s)")


if __name__ == "__main__":
    main()
