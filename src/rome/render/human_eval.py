"""Fig. 26: human-evaluation bars from a tally of real ratings, or a plain notice that none exist."""
from __future__ import annotations

from pathlib import Path

from .style import method_colours, save_figure, styled


@styled
def render_fig26(tally: dict | None, out_stem: str | Path) -> list[Path]:
    import matplotlib.pyplot as plt

    if not tally or not tally.get("ratings"):
        fig, ax = plt.subplots(figsize=(6, 2))
        ax.axis("off")
        ax.text(0.5, 0.5, "Fig. 26: no human ratings exist for this replication.\n"
                          "The kit (rome human-eval --action export) produces sheets for raters;\n"
                          "the figure is drawn only from a ratings file they return.",
                ha="center", va="center", fontsize=9)
        return save_figure(fig, out_stem)
    methods = sorted(set(tally["consistency"]) | set(tally["fluency"]))
    keys = ["none" if m == "unedited" else m for m in methods]
    colours = method_colours(keys)
    fig, axes = plt.subplots(1, 2, figsize=(7, 2.8), sharey=True)
    for ax, q in zip(axes, ("consistency", "fluency")):
        vals = [tally[q].get(m, 0) for m in methods]
        ax.bar(methods, vals, color=[colours[k] for k in keys])
        ax.set_title(f"most {'consistent' if q == 'consistency' else 'fluent'}")
        ax.set_ylabel("times chosen")
    rome, ftl = tally["consistency"].get("ROME", 0), tally["consistency"].get("FT+L", 0)
    fr, ff = tally["fluency"].get("ROME", 0), tally["fluency"].get("FT+L", 0)
    note = (f"{tally['ratings']} ratings. ROME/FT+L consistency ratio "
            f"{rome / ftl:.2f}" if ftl else f"{tally['ratings']} ratings") + \
           (f"; FT+L/ROME fluency ratio {ff / fr:.2f}" if fr else "") + " (paper: 1.8, 1.3)"
    fig.suptitle(note, fontsize=8)
    return save_figure(fig, out_stem)
