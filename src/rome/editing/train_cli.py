"""``rome train``: train the KE / MEND hyper-networks (paper section 3.2 and its appendix on baselines), resumably.

Loss per training edit = edit loss (mean NLL of the new target after the edit prompt and
its paraphrases, with the network's update applied) + ``kl_weight`` x locality loss
(KL(p_before || p_after) of the next token after unrelated prompts). The model itself
stays frozen; only the hyper-network learns.

Files in ``--out-dir`` (``<stem>`` = ``<method>-<variant>-<key>``, key = stable_key of
the model (name, dtype and weights fingerprint, :func:`rome.results.cache_key.model_identity`),
method, variant, data sha256, hparams, seed, steps and batch size):

* ``<stem>.pt``      the trained network (plain tensors + JSON-able config);
* ``<stem>.json``    what went in and how it went (``finished: true`` once done);
* ``<stem>.ckpt.pt`` periodic checkpoint (network, optimiser state, step), for resuming;
* ``<stem>.loss.jsonl`` one line per step: step, loss, edit_loss, locality_loss;
* ``<stem>.examples.json`` the training edits used (for ``plain``, the sampled ones).
"""
from __future__ import annotations

import argparse
import io
import json
import random
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import torch

from atomicio import atomic_write_bytes, atomic_write_json, atomic_write_text, sha256_file, stable_key
from counterfact.cliargs import positive_int

from ..cli import paths as cli_paths
from .ft import build_target_batch, last_token_logits, target_nll
from .hypernet import net_class, save_hypernet
from .hypernet_data import (
    VARIANTS,
    HypernetExample,
    added_weight_deltas,
    counterfact_examples,
    generic_examples,
    save_examples,
    zsre_examples,
)


def example_losses(lm, net, ex: HypernetExample) -> tuple[torch.Tensor, torch.Tensor]:
    """(edit loss, locality loss) of one training edit, differentiable in ``net``."""
    deltas = net.deltas(lm, ex.prompt, ex.target)
    batch = build_target_batch(lm, ex.edit_prompts, [ex.target] * len(ex.edit_prompts))
    with added_weight_deltas(lm, deltas):
        edit = target_nll(lm, batch)
    if not ex.locality:
        return edit, torch.zeros((), device=edit.device)
    with torch.no_grad():
        before = torch.log_softmax(last_token_logits(lm, ex.locality), dim=-1)
    with added_weight_deltas(lm, deltas):
        after = torch.log_softmax(last_token_logits(lm, ex.locality), dim=-1)
    kl = (before.exp() * (before - after)).sum(dim=-1).mean()
    return edit, kl


def _torch_bytes(obj: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def train_hypernet(lm, net: torch.nn.Module, examples: Sequence[HypernetExample], *, steps: int,
                   batch_size: int, lr: float, kl_weight: float, seed: int, lr_lr: float = 0.02,
                   stem: Path | None = None,
                   checkpoint_every: int = 25, progress: bool = True) -> list[dict]:
    """Train ``net`` in place; returns the per-step log. With ``stem``, checkpoints and resumes."""
    from tqdm.auto import tqdm

    if not examples:
        raise ValueError("no training examples")
    net.to(lm.device).train()
    step_sizes = [p for n, p in net.named_parameters() if n == "log_lr"]
    others = [p for n, p in net.named_parameters() if n != "log_lr"]
    # The learned per-layer step sizes (log scale) get their own, larger learning rate (as in MEND).
    opt = torch.optim.Adam([{"params": others, "lr": lr}, {"params": step_sizes, "lr": lr_lr}])
    log: list[dict] = []
    start = 0
    ckpt = Path(f"{stem}.ckpt.pt") if stem else None
    log_path = Path(f"{stem}.loss.jsonl") if stem else None
    if ckpt is not None and ckpt.exists():
        state = torch.load(ckpt, map_location=lm.device, weights_only=True)
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["optimizer"])
        start = int(state["step"])
        assert log_path is not None  # set together with ckpt (both from stem)
        if log_path.exists():
            log = [json.loads(line) for line in log_path.read_text(encoding="utf-8").splitlines() if line.strip()]
            log = [row for row in log if row["step"] < start]

    def save_progress(step: int) -> None:
        if ckpt is None:
            return
        assert log_path is not None  # set together with ckpt (both from stem)
        atomic_write_text(log_path, "".join(json.dumps(r) + "\n" for r in log))
        atomic_write_bytes(ckpt, _torch_bytes({"net": net.state_dict(), "optimizer": opt.state_dict(),
                                               "step": step}))

    bar = tqdm(range(start, steps), desc=f"train {net.method}", disable=not progress, initial=start, total=steps)
    for step in bar:
        picks = random.Random(seed * 1_000_003 + step).sample(range(len(examples)), min(batch_size, len(examples)))
        opt.zero_grad(set_to_none=True)
        edit_sum = loc_sum = 0.0
        for i in picks:
            edit, loc = example_losses(lm, net, examples[i])
            ((edit + kl_weight * loc) / len(picks)).backward()
            edit_sum += float(edit.detach())
            loc_sum += float(loc.detach())
        torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        opt.step()
        row = {"step": step, "edit_loss": edit_sum / len(picks), "locality_loss": loc_sum / len(picks)}
        row["loss"] = row["edit_loss"] + kl_weight * row["locality_loss"]
        log.append(row)
        bar.set_postfix(loss=f"{row['loss']:.3f}")
        if (step + 1) % checkpoint_every == 0 and step + 1 < steps:
            save_progress(step + 1)
    save_progress(steps)
    net.eval()
    return log


def training_examples(lm, variant: str, *, records: str | None, corpus: str | None, n_plain: int,
                      seed: int, exclude_case_ids: Sequence[int] = (), progress: bool = True):
    """(examples, data sha256) for a variant."""
    if variant == "plain":
        if not corpus:
            raise ValueError("variant 'plain' needs --corpus (a raw text file)")
        return generic_examples(lm, corpus, n_plain, seed, progress=progress), sha256_file(corpus)
    if not records:
        raise ValueError(f"variant {variant!r} needs --records (the training-split file)")
    if variant == "cf":
        return counterfact_examples(records, seed, exclude_case_ids), sha256_file(records)
    if variant == "zsre":
        return zsre_examples(records), sha256_file(records)
    raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")


def run_training(lm, method: str, variant: str, hparams: Mapping[str, Any], *, steps: int, batch_size: int,
                 out_dir: str | Path, records: str | None = None, corpus: str | None = None, seed: int = 0,
                 exclude_case_ids: Sequence[int] = (), progress: bool = True) -> Path:
    """Train (or resume, or reuse) the hyper-network keyed by its inputs; returns the ``.pt`` path."""
    from ..model.runtime import seed_everything
    from .hparams import _HypernetHparams, hparams_class

    hparams = cast(_HypernetHparams, hparams_class(method).coerce(hparams))
    out_dir = Path(out_dir)
    # a run draws at most steps x batch_size examples: generating more generic edits is waste
    n_plain = min(hparams.n_plain_examples, steps * batch_size)
    data_file = corpus if variant == "plain" else records
    data_sha = sha256_file(data_file) if data_file else None
    from ..model.generation import SAMPLER_VERSION
    from ..results.cache_key import model_identity

    # the plain variant's edits are sampled from the model: the sampler is one of its inputs
    sampler = [SAMPLER_VERSION] if variant == "plain" else []
    key = stable_key(model_identity(lm), method, variant, data_sha, dict(hparams), seed, steps, batch_size,
                     sorted(int(c) for c in exclude_case_ids), *sampler)
    stem = out_dir / f"{method}-{variant}-{key}"
    final, meta_path = Path(f"{stem}.pt"), Path(f"{stem}.json")
    if final.exists() and meta_path.exists() and json.loads(meta_path.read_text()).get("finished"):
        return final
    seed_everything(seed)
    examples, data_sha = training_examples(lm, variant, records=records, corpus=corpus, n_plain=n_plain,
                                           seed=seed, exclude_case_ids=exclude_case_ids, progress=progress)
    save_examples(f"{stem}.examples.json", examples)
    torch.manual_seed(seed)
    net = net_class(method).for_model(lm, hparams)
    t0 = time.time()
    log = train_hypernet(lm, net, examples, steps=steps, batch_size=batch_size,
                         lr=hparams.train_lr, lr_lr=hparams.lr_lr, kl_weight=hparams.kl_weight,
                         seed=seed, stem=stem, checkpoint_every=hparams.checkpoint_every,
                         progress=progress)
    k = max(1, min(10, len(log) // 4))
    meta = {"model": lm.name, "method": method, "variant": variant, "key": key, "data_sha256": data_sha,
            "records": records, "corpus": corpus, "hparams": dict(hparams), "seed": seed, "steps": steps,
            "batch_size": batch_size, "n_examples": len(examples),
            "first_loss_mean": sum(r["loss"] for r in log[:k]) / k,
            "last_loss_mean": sum(r["loss"] for r in log[-k:]) / k, "finished": True}
    # no wall-clock time in the files: the same inputs and seed give the same bytes
    save_hypernet(final, net, meta)
    atomic_write_json(meta_path, meta)
    Path(f"{stem}.ckpt.pt").unlink(missing_ok=True)
    print(f"rome train {method}-{variant}: {steps} steps in {time.time() - t0:.1f} s", file=sys.stderr)
    return final


# -- CLI ------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    from replkit.cli import add_progress_option, add_set_option

    from ..model.info import add_model_arguments

    add_model_arguments(parser)
    parser.add_argument("--method", required=True, choices=["ke", "mend"])
    parser.add_argument("--variant", default="plain", choices=list(VARIANTS))
    parser.add_argument("--steps", type=positive_int, default=100)
    parser.add_argument("--batch-size", type=positive_int, default=4)
    parser.add_argument("--out-dir", default=str(cli_paths.HYPERNETS_DIR))
    parser.add_argument("--records", default=None, help="COUNTERFACT train-split JSON (cf) or zsRE train JSON (zsre)")
    parser.add_argument("--exclude-split", default=None,
                        help="split file ({'train': [...], 'eval': [...]}): its eval case ids are never trained on")
    parser.add_argument("--corpus", default=None, help="raw text corpus (variant plain)")
    parser.add_argument("--seed", type=int, default=0)
    add_set_option(parser)
    add_progress_option(parser)


def run(args: argparse.Namespace) -> int:
    from replkit.cli import parse_overrides

    from ..model.info import load_from_args
    from .hparams import load_hparams

    lm = load_from_args(args)
    hparams = load_hparams(args.method, args.model, parse_overrides(args.set))
    exclude: list[int] = []
    if args.exclude_split:
        exclude = list(json.loads(Path(args.exclude_split).read_text(encoding="utf-8"))["eval"])
    path = run_training(lm, args.method, args.variant, hparams, steps=args.steps, batch_size=args.batch_size,
                        out_dir=args.out_dir, records=args.records, corpus=args.corpus, seed=args.seed,
                        exclude_case_ids=exclude, progress=not args.no_progress)
    meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    print(json.dumps({"checkpoint": str(path), "first_loss_mean": meta["first_loss_mean"],
                      "last_loss_mean": meta["last_loss_mean"], "steps": meta["steps"]}, indent=2))
    return 0
