"""Markdown, CSV and LaTeX table text with one LaTeX escaper (used by every table writer).

Cells are strings; a :class:`Latex` cell is already LaTeX and is written as is (colour
commands, ``$\\pm$``); every other cell goes through :func:`latex_escape`.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}
_LATEX_RE = re.compile("|".join(re.escape(c) for c in _LATEX_SPECIAL))


class Latex(str):
    """A cell that already is LaTeX: :func:`latex_cell` leaves it unchanged."""


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters ``\\ & % $ # _ { } ~ ^`` escaped (one pass)."""
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIAL[m.group(0)], str(text))


def latex_cell(cell: object) -> str:
    return cell if isinstance(cell, Latex) else latex_escape(str(cell))


def latex_row(cells: Iterable[object]) -> str:
    return " & ".join(latex_cell(c) for c in cells) + r" \\"


def latex_tabular(header: Sequence[object], rows: Iterable[Sequence[object]], colspec: str | None = None) -> list[str]:
    """The lines of a booktabs ``tabular`` (first column left, the rest right unless ``colspec``)."""
    colspec = colspec or "l" + "r" * (len(header) - 1)
    lines = [rf"\begin{{tabular}}{{{colspec}}}", r"\toprule", latex_row(header), r"\midrule"]
    lines += [latex_row(r) for r in rows]
    return lines + [r"\bottomrule", r"\end{tabular}"]


def markdown_cell(cell: object) -> str:
    return str(cell).replace("|", r"\|").replace("\n", " ")


def markdown_row(cells: Iterable[object]) -> str:
    return "| " + " | ".join(markdown_cell(c) for c in cells) + " |"


def markdown_table(header: Sequence[object], rows: Iterable[Sequence[object]], align: str | None = None) -> str:
    """A pipe table; ``align`` has one letter per column (``l``, ``r``, ``c``; default: none)."""
    marks = {"l": ":---", "r": "---:", "c": ":---:"}
    rule = "|" + "|".join(marks.get(a, "---") for a in (align or "-" * len(header))) + "|"
    return "\n".join([markdown_row(header), rule, *(markdown_row(r) for r in rows)]) + "\n"


def csv_text(rows: Iterable[Sequence[object]]) -> str:
    """CSV with ``\\n`` line ends (deterministic across platforms)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()
