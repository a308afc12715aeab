"""Rendering Table 2 (dataset statistics) and Table 3 (benchmark comparison) of the paper,
as Markdown, CSV and LaTeX, with the paper's values beside ours.

Only reads a statistics JSON (``counterfact stats --json``); never touches a model.
"""
from __future__ import annotations

import os
from pathlib import Path

from atomicio import atomic_write_text
from replkit.tables import Latex, csv_text, latex_escape, latex_tabular, markdown_table

# Table 2 of the paper: total / per relation / per record. "Objects" are the distinct new
# targets and "counterfactual statements" the distinct filled rewrite prompts (see stats.py).
PAPER_TABLE2 = {
    "records": (21919, 645, 1),
    "subjects": (20391, 624, 1),
    "objects": (749, 60, 1),
    "counterfactual_statements": (21595, 635, 1),
    "paraphrase_prompts": (42876, 1262, 2),
    "neighborhood_prompts": (82650, 2441, 10),
    "generation_prompts": (62346, 1841, 3),
}
ROW_LABELS = {
    "records": "Records", "subjects": "Subjects", "objects": "Objects (new targets)",
    "true_objects": "True objects (not in the paper)",
    "counterfactual_statements": "Counterfactual statements", "paraphrase_prompts": "Paraphrase prompts",
    "neighborhood_prompts": "Neighborhood prompts", "attribute_prompts": "Attribute prompts",
    "generation_prompts": "Generation prompts",
}

# Table 3 of the paper: which criteria each benchmark can measure (transcribed from the paper).
TABLE3_CRITERIA = ("Efficacy", "Generalization", "Bleedover", "Consistency", "Fluency")
TABLE3_BENCHMARKS = ("SQuAD", "zsRE", "FEVER", "WikiText", "ParaRel", "CF")
PAPER_TABLE3 = {
    "Efficacy":       (True, True, True, True, True, True),
    "Generalization": (True, True, True, False, True, True),
    "Bleedover":      (False, False, False, False, False, True),
    "Consistency":    (False, False, False, False, False, True),
    "Fluency":        (False, False, False, True, False, True),
}


def table2_rows(stats: dict) -> list[list[str]]:
    header = ["", "total (paper)", "total (ours)", "per relation (paper)", "per relation (ours)",
              "per record (paper)", "per record (ours)"]
    rows = [header]
    for key, ours in stats["rows"].items():
        paper = PAPER_TABLE2.get(key)
        p = [f"{paper[0]:,}", f"{paper[1]:,}", f"{paper[2]:,}"] if paper else ["n/a"] * 3
        rows.append([ROW_LABELS.get(key, key), p[0], f"{ours['total']:,}", p[1], f"{ours['per_relation']:,.0f}",
                     p[2], f"{ours['per_record']:g}"])
    return rows


def our_table3_column(stats: dict, rs_coverage: float | None = None) -> dict[str, bool]:
    """What our COUNTERFACT build lets the evaluation measure, from its statistics.

    Consistency needs attribute/generation prompts and reference texts; when the reference
    text coverage is known and zero it is not measurable.
    """
    r = stats["rows"]
    consistency = r["generation_prompts"]["total"] > 0 and (rs_coverage is None or rs_coverage > 0)
    return {
        "Efficacy": r["records"]["total"] > 0,
        "Generalization": r["paraphrase_prompts"]["total"] > 0,
        "Bleedover": r["neighborhood_prompts"]["total"] > 0,
        "Consistency": consistency,
        "Fluency": r["generation_prompts"]["total"] > 0,
    }


def table3_rows(stats: dict, rs_coverage: float | None = None, mark=("✓", "✗")) -> list[list[str]]:
    ours = our_table3_column(stats, rs_coverage)
    rows = [["Criterion", *TABLE3_BENCHMARKS, "CF (ours)"]]
    for crit in TABLE3_CRITERIA:
        rows.append([crit, *(mark[0] if v else mark[1] for v in PAPER_TABLE3[crit]), mark[0] if ours[crit] else mark[1]])
    return rows


def to_markdown(rows: list[list[str]]) -> str:
    return markdown_table(rows[0], rows[1:])


def to_csv(rows: list[list[str]]) -> str:
    return csv_text([[c.replace(",", "") if c[:1].isdigit() else c for c in r] for r in rows])


_MARKS = {"✓": Latex(r"\checkmark"), "✗": Latex(r"$\times$")}


def to_latex(rows: list[list[str]], caption: str, label: str) -> str:
    body = [[_MARKS.get(c, c) for c in r] for r in rows[1:]]
    lines = [r"\begin{table}[t]", r"\centering", rf"\caption{{{latex_escape(caption)}}}", rf"\label{{{label}}}",
             *latex_tabular(rows[0], body), r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_tables(stats: dict, out_dir: str | os.PathLike, rs_coverage: float | None = None) -> list[Path]:
    """Write ``table2.{md,csv,tex}`` and ``table3.{md,csv,tex}`` into ``out_dir``."""
    out_dir = Path(out_dir)
    written = []
    t2 = table2_rows(stats)
    t3 = table3_rows(stats, rs_coverage)
    for name, rows, caption in (("table2", t2, "COUNTERFACT statistics: paper vs. this build"),
                                ("table3", t3, "Criteria measured by each benchmark: paper vs. this build")):
        written.append(atomic_write_text(out_dir / f"{name}.md", to_markdown(rows)))
        written.append(atomic_write_text(out_dir / f"{name}.csv", to_csv(rows)))
        written.append(atomic_write_text(out_dir / f"{name}.tex", to_latex(rows, caption, f"tab:{name}")))
    return written
