"""Deterministic train/eval split of COUNTERFACT by case_id.

The hyper-network baselines (KE-CF, MEND-CF) train on a split disjoint from the evaluated
records. :func:`split_case_ids` shuffles the sorted case ids with ``numpy``'s
``default_rng(seed)`` and gives the first ``round(eval_fraction * n)`` to *eval*; both
lists come back sorted. Optionally some case ids are forced into eval (e.g. the first
7,500 records Table 4 evaluates), and the fraction is then filled from the rest.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from atomicio import atomic_write_json

from .errors import DataError
from .records import load_records, write_records


def split_case_ids(case_ids, eval_fraction: float = 0.5, seed: int = 0,
                   force_eval=()) -> tuple[list[int], list[int]]:
    """``(train_ids, eval_ids)``, disjoint, sorted, together all of ``case_ids``."""
    if not 0.0 <= eval_fraction <= 1.0:
        raise ValueError(f"eval_fraction must be in [0, 1], got {eval_fraction}")
    ids = sorted(set(int(c) for c in case_ids))
    forced = sorted(set(int(c) for c in force_eval) & set(ids))
    n_eval = max(int(round(eval_fraction * len(ids))), len(forced))
    rest = [c for c in ids if c not in set(forced)]
    order = np.random.default_rng(seed).permutation(len(rest))
    extra = [rest[int(i)] for i in order[: n_eval - len(forced)]]
    eval_ids = sorted(forced + extra)
    eval_set = set(eval_ids)
    return [c for c in ids if c not in eval_set], eval_ids


def split_records(records: list[dict], eval_fraction: float = 0.5, seed: int = 0, force_eval=()):
    """``(train_records, eval_records)`` in file order."""
    train_ids, eval_ids = split_case_ids([r["case_id"] for r in records], eval_fraction, seed, force_eval)
    eval_set = set(eval_ids)
    return ([r for r in records if r["case_id"] not in eval_set], [r for r in records if r["case_id"] in eval_set])


def write_split(records_path: str | os.PathLike, out: str | os.PathLike, eval_fraction: float = 0.5,
                seed: int = 0, eval_first: int = 0, train_out: str | os.PathLike | None = None,
                eval_out: str | os.PathLike | None = None) -> dict:
    """Write ``{"seed", "eval_fraction", "eval_first", "n", "train": [...], "eval": [...]}``.

    ``eval_first``: force case ids ``0 .. eval_first-1`` into eval. ``train_out`` /
    ``eval_out``: also write the records of each part (COUNTERFACT format, case ids kept,
    in case-id order) for the commands that take a records file.
    """
    records = load_records(records_path)
    try:
        ids = [int(r["case_id"]) for r in records]
    except (KeyError, TypeError, ValueError):
        raise DataError(records_path, "every record needs an integer case_id to be split") from None
    train_ids, eval_ids = split_case_ids(ids, eval_fraction, seed, force_eval=range(eval_first))
    result = {"records": str(Path(records_path)), "seed": seed, "eval_fraction": eval_fraction,
              "eval_first": eval_first, "n": len(ids), "n_train": len(train_ids), "n_eval": len(eval_ids),
              "train": train_ids, "eval": eval_ids}
    atomic_write_json(out, result, indent=None)
    for path, ids in ((train_out, train_ids), (eval_out, eval_ids)):
        if path is not None:
            wanted = set(ids)
            write_records(path, [r for r in records if int(r["case_id"]) in wanted])
    return result


def load_split(path: str | os.PathLike) -> tuple[list[int], list[int]]:
    from .errors import DataError, read_json

    data = read_json(path)
    try:
        return list(data["train"]), list(data["eval"])
    except (KeyError, TypeError):
        raise DataError(path, "expected an object with the lists 'train' and 'eval'") from None
