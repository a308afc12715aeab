"""One plotting style for every figure, and saving as PDF + PNG atomically.

Importing this module changes no global matplotlib state: :func:`styled` applies the
style (:data:`RC`) inside ``matplotlib.rc_context`` while one figure function runs, and
the backend is matplotlib's own choice (Agg where there is no display).
"""
from __future__ import annotations

import functools
import io
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from atomicio import atomic_write_bytes

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

F = TypeVar("F", bound=Callable[..., Any])

# Colours per token category / method, used consistently across figures.
CATEGORY_COLOURS = {
    "first_subject": "#8c564b", "middle_subject": "#e377c2", "last_subject": "#d62728",
    "first_subsequent": "#2ca02c", "further": "#7f7f7f", "last": "#1f77b4",
}
KIND_CMAPS = {"hidden": "Purples", "mlp": "Greens", "attn": "Reds"}
KIND_LABELS = {"hidden": "single restored layer", "mlp": "restored MLP", "attn": "restored attention"}
METHOD_COLOURS = {
    "none": "#7f7f7f", "ROME": "#1f77b4", "FT": "#ff7f0e", "FT+L": "#2ca02c", "KN": "#9467bd",
    "KE": "#8c564b", "KE-CF": "#c49c94", "MEND": "#e377c2", "MEND-CF": "#f7b6d2", "AttnEdit": "#d62728",
    "r-ROME": "#17becf", "MEMIT": "#bcbd22", "AlphaEdit": "#222222",
}
_SPARE_COLOURS = ("#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354")


def method_colours(names: Iterable[str]) -> dict[str, str]:
    """One colour per editor name of a figure: the editor's own in :data:`METHOD_COLOURS`, else a spare one
    that no other name of the figure uses (grey once the spares run out)."""
    names = list(dict.fromkeys(names))
    out = {n: METHOD_COLOURS[n] for n in names if n in METHOD_COLOURS}
    spare = iter(c for c in _SPARE_COLOURS if c not in out.values())
    return {n: out[n] if n in out else next(spare, "#999999") for n in names}

RC: dict[RcKeyType, Any] = {
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
    "figure.dpi": 100, "savefig.dpi": 200, "axes.spines.top": False, "axes.spines.right": False,
    "pdf.fonttype": 42, "svg.hashsalt": "rome", "path.simplify": False,
}


def styled(func: F) -> F:
    """Run ``func`` (a function that draws and saves figures) with the package style applied."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import matplotlib

        with matplotlib.rc_context(RC):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def save_figure(fig, stem: str | Path, formats: Iterable[str] = ("pdf", "png")) -> list[Path]:
    """Save ``fig`` as ``stem.pdf`` and ``stem.png`` (atomic, deterministic metadata); close it."""
    import matplotlib.pyplot as plt

    stem = Path(stem)
    out = []
    for fmt in formats:
        buf = io.BytesIO()
        meta = {"CreationDate": None} if fmt == "pdf" else ({"Software": None} if fmt == "png" else None)
        fig.savefig(buf, format=fmt, bbox_inches="tight", metadata=meta)
        out.append(atomic_write_bytes(stem.with_suffix(f".{fmt}"), buf.getvalue()))
    plt.close(fig)
    return out
