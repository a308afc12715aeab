"""The files of causal tracing, as the tracing steps write them and the renderers read them.

A :class:`TraceResult` is one prompt's trace (per kind a [tokens x layers] grid of restored
scores, the clean and corrupted scores, settings and provenance), saved as ``.npz`` (no
pickles) or JSON; :func:`result_path` is where a batch puts a fact's trace of one kind;
:func:`save_average` / :func:`load_average` write and read the averaged effects of a summary.
No model and no torch are needed to read them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from atomicio import atomic_save_npz, load_npz, safe_child

from ..model.tokens import Encoded, token_categories


@dataclass
class TraceResult:
    prompt: str
    subject: str
    tokens: list[str]
    subject_range: tuple[int, int]
    corrupt_range: tuple[int, int]
    answer: str
    answer_id: int
    clean: float
    corrupted: float
    scores: dict[str, np.ndarray] = field(default_factory=dict)  # kind -> [T, L]
    settings: dict = field(default_factory=dict)
    noise_nu: float = float("nan")
    model: str = ""
    engine: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def categories(self) -> list[str]:
        enc = Encoded("", list(range(len(self.tokens))), *self.subject_range)
        return token_categories(enc)

    def indirect_effect(self, kind: str) -> np.ndarray:
        return self.scores[kind] - self.corrupted

    def to_arrays(self) -> dict[str, np.ndarray]:
        header = dict(prompt=self.prompt, subject=self.subject, tokens=self.tokens,
                      subject_range=list(self.subject_range), corrupt_range=list(self.corrupt_range),
                      answer=self.answer, answer_id=self.answer_id, clean=self.clean,
                      corrupted=self.corrupted, settings=self.settings, noise_nu=self.noise_nu,
                      model=self.model, engine=self.engine, meta=self.meta)
        arrays = {"header_json": np.array(json.dumps(header, ensure_ascii=False))}
        for kind, grid in self.scores.items():
            arrays[f"scores_{kind}"] = np.asarray(grid, dtype=np.float64)
        return arrays

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.suffix == ".json":
            from atomicio import atomic_write_json
            d = json.loads(str(self.to_arrays()["header_json"]))
            d["scores"] = {k: np.asarray(v).tolist() for k, v in self.scores.items()}
            return atomic_write_json(path, d)
        return atomic_save_npz(path, self.to_arrays())

    @classmethod
    def load(cls, path: str | Path) -> TraceResult:
        path = Path(path)
        if path.suffix == ".json":
            from atomicio import load_json
            d = load_json(path)
            scores = {k: np.asarray(v) for k, v in d.pop("scores").items()}
        else:
            arr = load_npz(path)
            d = json.loads(str(arr.pop("header_json")))
            scores = {k[len("scores_"):]: v for k, v in arr.items() if k.startswith("scores_")}
        d["subject_range"] = tuple(d["subject_range"])
        d["corrupt_range"] = tuple(d["corrupt_range"])
        return cls(scores=scores, **d)


def result_path(out_dir: str | Path, kind: str, known_id) -> Path:
    """``<out_dir>/<kind>/<known_id>.npz``; ids and kinds must be plain tokens that stay
    inside the folder (else :class:`atomicio.UnsafeNameError` naming the fact)."""
    folder = safe_child(out_dir, kind, "trace kind")
    return safe_child(folder, known_id, f"fact {known_id!r}: field known_id", suffix=".npz")


def save_average(avg: dict, path: str | Path) -> Path:
    from atomicio import atomic_write_json
    d = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in avg.items()}
    return atomic_write_json(path, d)


def load_average(path: str | Path) -> dict:
    from atomicio import load_json
    d = load_json(path)
    for k in ("aie", "ci95", "n_per_category", "single", "attn_severed", "mlp_severed",
              "single_ci95", "attn_severed_ci95", "mlp_severed_ci95"):
        if k in d:
            d[k] = np.asarray(d[k], dtype=float)
    return d
