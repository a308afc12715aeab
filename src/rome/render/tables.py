"""Tables 1, 4, 5 and 6 (the paper's figures and tables) as Markdown, CSV and LaTeX, from summary files only.

Each input summary (``rome summarize``) is one model block. Our rows show mean ± 95%
interval; when the model is a paper model the paper's row for the same method sits right
below ours ("paper"); otherwise the paper's rows of a reference model follow in their own
block, labelled as a different model.

Colouring (paper's rule, COUNTERFACT tables): in each block the best editor per column
(highest; the pre-edit row does not compete) is green, values below the thresholds of
:data:`rome.results.paper_values.THRESHOLDS` are red. The GE and RS thresholds scale with the
block's unedited row (:func:`block_thresholds`), because generation length and model
set those metrics' level; for the paper's GPT-2 XL rows the scale is 1. LaTeX uses ``\\cellcolor`` (needs
``\\usepackage[table]{xcolor}``); Markdown marks best as **bold** and below-threshold
with a trailing ``↓``; CSV has a ``<metric>_mark`` column (``best``, ``below``).
zsRE tables mark only the best per column.

``table4-strict`` is Table 4's strict companion: the same summary, N, intervals,
blocks and colouring rule, with the paper's S, ES, PS, NS, NM beside the strict columns of
:data:`rome.results.paper_values.STRICT_COLUMNS` (CounterFact+, NKL, generation efficacy, token
accuracy; ``docs/evaluation.md``). The paper published none of the strict columns, so its rows
show them as "–"; no thresholds apply to them; the lowest NKL is the best. A column whose N is
smaller than its row's (records without that metric) is named under the block.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from atomicio import atomic_write_text, load_json
from counterfact.errors import DataError
from replkit.tables import Latex, csv_text, latex_escape, latex_row, markdown_row

from ..results.layout import display_name
from ..results.paper_values import (
    COUNTERFACT_COLUMNS,
    LOWER_IS_BETTER,
    ORIENTATION_MODEL,
    RELATIVE_THRESHOLD_BASE,
    STRICT_TABLE_COLUMNS,
    THRESHOLDS,
    UNSCALED_COLUMNS,
    ZSRE_COLUMNS,
    nkl_definition,
    paper_rows,
)
from ..results.stats_util import CI95_CAPTION

TABLES = {"table1": "zsre", "table4": "counterfact", "table5": "counterfact", "table6": "zsre",
          "table4-strict": "counterfact"}
TITLES = {"table1": "Table 1: zsRE editing results", "table4": "Table 4: COUNTERFACT editing results",
          "table5": "Table 5: COUNTERFACT, other GPT-2 sizes", "table6": "Table 6: zsRE, other GPT-2 sizes",
          "table4-strict": "Table 4, strict: COUNTERFACT editing results, the paper's metrics beside stricter ones"}
# A table that shows another table's published rows (and orientation model).
PAPER_TABLE = {"table4-strict": "table4"}
display_method = display_name  # the paper's name of a method (rome.results.layout)


@dataclass
class Row:
    label: str
    method: str                      # display name; "none" = unedited
    source: str                      # "ours" or "paper"
    values: dict                     # column -> value (or None)
    cis: dict = field(default_factory=dict)
    n: int | None = None
    marks: dict = field(default_factory=dict)  # column -> set of "best"/"below"
    ns: dict = field(default_factory=dict)     # column -> its own N (summaries: records with that metric)


@dataclass
class Block:
    title: str
    model: str
    rows: list
    thresholds: dict | None = None   # the thresholds its red marks used
    nkl: tuple = ()                  # what its NKL columns hold (_nkl_definitions); () for the paper's blocks


def _ours(summary: dict, columns) -> list[Row]:
    rows = []
    for r in summary["rows"]:
        method = "none" if r["role"] == "pre-edit" else display_method(r["method"])
        label = r["label"] if r["role"] == "pre-edit" else method
        rows.append(Row(label, method, "ours", {c: (r["metrics"].get(c) or {}).get("value") for c in columns},
                        {c: (r["metrics"].get(c) or {}).get("ci") for c in columns}, r.get("n_records"),
                        ns={c: (r["metrics"].get(c) or {}).get("n") for c in columns}))
    return rows


def table_columns(table: str) -> tuple[str, ...]:
    """The columns of ``table``: Table 4's or Table 1's, or the strict table's."""
    if table == "table4-strict":
        return STRICT_TABLE_COLUMNS
    return COUNTERFACT_COLUMNS if TABLES[table] == "counterfact" else ZSRE_COLUMNS


def _paper(rows_) -> list[Row]:
    return [Row(label, method, "paper", dict(vals)) for label, method, vals in rows_]


def block_thresholds(rows: Sequence[Row], thresholds: dict | None) -> dict | None:
    """``thresholds`` with GE and RS scaled by the unedited row's value over GPT-2 XL's in the paper.

    Without an unedited row (or its value) the paper's absolute threshold stays.
    """
    if not thresholds:
        return thresholds
    out = dict(thresholds)
    base = next((r for r in rows if r.method == "none"), None)
    for c, paper_value in RELATIVE_THRESHOLD_BASE.items():
        v = base.values.get(c) if base else None
        if c in out and v is not None and not math.isnan(v):
            out[c] = thresholds[c] * v / paper_value
    return out


def mark(rows: Sequence[Row], columns, thresholds: dict | None) -> None:
    """Set ``row.marks`` for one group of rows: best editor per column, and below-threshold."""
    editors = [r for r in rows if r.method != "none"]
    for c in columns:
        vals = [v for r in editors if (v := r.values.get(c)) is not None and not math.isnan(v)]
        best = (min(vals) if c in LOWER_IS_BETTER else max(vals)) if vals else None
        for r in rows:
            v = r.values.get(c)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            if r.method != "none" and best is not None and _num(c, v) == _num(c, best):
                r.marks.setdefault(c, set()).add("best")
            if thresholds and c in thresholds and v < thresholds[c]:
                r.marks.setdefault(c, set()).add("below")


def build_blocks(table: str, summaries: Sequence[dict], paper_beside: bool = True) -> list[Block]:
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; one of {sorted(TABLES)}")
    dataset = TABLES[table]
    columns = table_columns(table)
    thresholds = THRESHOLDS if dataset == "counterfact" else None
    published = PAPER_TABLE.get(table, table)
    blocks = []
    for s in summaries:
        if s.get("dataset") != dataset:
            raise ValueError(f"{table} needs {dataset} summaries; {s.get('source', '?')} is {s.get('dataset')!r}")
        ours = _ours(s, columns)
        ours_th = block_thresholds(ours, thresholds)
        mark(ours, columns, ours_th)
        prows = paper_rows(published, s["model"]) if paper_beside else None
        rows = []
        if prows:
            paper = _paper(prows)
            mark(paper, columns, block_thresholds(paper, thresholds))
            by_method = {p.method: p for p in paper}
            for r in ours:
                rows.append(r)
                if r.method in by_method:
                    rows.append(by_method[r.method])
        else:
            rows = ours
        ns = sorted({r.n or 0 for r in ours})
        if len(ns) > 1:            # an unfinished run: say each editor's N in its row
            for r in ours:
                r.label = f"{r.label} (N = {r.n or 0})"
            n_text = f"N = {ns[0]}-{ns[-1]}, per row"
        else:
            n_text = f"N = {ns[0] if ns else 0}"
        blocks.append(Block(f"{s['model']} (ours, {n_text})", s["model"], rows, ours_th, _nkl_definitions(s)))
        if not prows and paper_beside:
            ref = ORIENTATION_MODEL[published]
            ref_rows = paper_rows(published, ref)
            if ref_rows and not any(b.model == f"paper:{ref}" for b in blocks):
                paper = _paper(ref_rows)
                ref_th = block_thresholds(paper, thresholds)
                mark(paper, columns, ref_th)
                blocks.append(Block(f"paper, {ref} (a different model; for orientation only)", f"paper:{ref}", paper,
                                    ref_th))
    return blocks


def _num(column: str, v: float) -> str:
    """A value as shown: 1 decimal for values × 100; 3 significant digits for the KL columns (nats,
    which the code's division by the vocabulary size makes as small as 1e-6)."""
    return f"{v:#.3g}" if column in UNSCALED_COLUMNS else f"{v:.1f}"


def _fmt(v, ci=None, column: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    s = _num(column, v)
    if ci is not None and not (isinstance(ci, float) and math.isnan(ci)):
        s += f" ± {_num(column, ci)}"
    return s


def _nkl_definitions(summary: dict) -> tuple[str, ...]:
    """What the NKL columns of ``summary`` hold, from each run's settings (a summary written before
    the setting existed held the sum in the code's direction); distinct, in order."""
    found = []
    for st in (summary.get("settings") or {}).values():
        strict = (st or {}).get("strict") or {}
        if not strict.get("enabled", True):
            continue
        old = strict.get("version") == "strict-1"
        found.append(nkl_definition(strict.get("nkl_direction", "edited_unedited"),
                                    strict.get("nkl_reduction", "sum" if old else "batchmean")))
    return tuple(dict.fromkeys(found))


def _column_ns(b: Block, columns) -> str:
    """Text such as ``ROME: RS N = 3`` for the cells of our rows whose N is below the row's N."""
    parts = []
    for r in b.rows:
        if r.source != "ours" or r.n is None:
            continue
        short = [f"{c} N = {r.ns[c]}" for c in columns if r.ns.get(c) is not None and r.ns[c] < r.n]
        if short:
            parts.append(f"{r.label}: " + ", ".join(short))
    return "; ".join(parts)


def _scaled_thresholds(b: Block) -> str:
    """Text such as ``GE < 418.6, RS < 26.8`` for the thresholds that differ from the paper's absolute ones."""
    th = b.thresholds or {}
    return ", ".join(f"{c} < {th[c]:.1f}" for c in RELATIVE_THRESHOLD_BASE
                     if c in th and round(th[c], 1) != round(THRESHOLDS[c], 1))


def _blocks_nkl(blocks: Sequence[Block]) -> str:
    found = list(dict.fromkeys(d for b in blocks for d in b.nkl))
    return " or ".join(found) if found else nkl_definition()


def _row_label(r: Row) -> str:
    return f"{r.label} (paper)" if r.source == "paper" and not r.label.endswith("(paper)") else r.label


def to_markdown(table: str, blocks: Sequence[Block]) -> str:
    columns = table_columns(table)
    lines = [f"## {TITLES[table]}", ""]
    for b in blocks:
        lines += [f"### {b.title}", "", markdown_row(["Editor", *columns]),
                  "|---|" + "---:|" * len(columns)]
        for r in b.rows:
            cells = []
            for c in columns:
                t = _fmt(r.values.get(c), r.cis.get(c), c)
                m = r.marks.get(c, set())
                if "best" in m:
                    t = f"**{t}**"
                if "below" in m:
                    t += " ↓"
                cells.append(t)
            lines.append(markdown_row([_row_label(r), *cells]))
        lines.append("")
        scaled = _scaled_thresholds(b)
        if scaled:
            lines += [f"↓ for {scaled} in this block (scaled to its unedited row).", ""]
        fewer = _column_ns(b, columns) if table == "table4-strict" else ""
        if fewer:
            lines += [f"Columns with fewer records than their row: {fewer}.", ""]
    unit = "NKL, NKL+: nats, not × 100" if table == "table4-strict" else "GE: n-gram entropy × 100"
    legend = f"Values × 100 ({unit}), mean ± {CI95_CAPTION}. **bold**: best editor per column"
    if TABLES[table] == "counterfact":
        legend += ("; ↓: below the paper's threshold (" + ", ".join(f"{k} {v:g}" for k, v in THRESHOLDS.items())
                   + "; GE and RS scaled by the block's unedited value over GPT-2 XL's "
                   + ", ".join(f"{k} {v:g}" for k, v in RELATIVE_THRESHOLD_BASE.items()) + ")")
    if table == "table4-strict":
        legend += (". Strict columns (docs/evaluation.md): NS+ / NM+ on the CounterFact+ prompts (the rewrite "
                   "prompt and new target before each neighbourhood prompt; Hoelscher-Obermaier et al. 2023); "
                   f"NKL / NKL+: {_blocks_nkl(blocks)} of the next-token distribution on the neighbourhood / "
                   "CounterFact+ prompts, in nats, lower is better (same work); ES-gen / PS-gen: the greedy "
                   "continuation begins with the new target, no teacher forcing (Yang et al., ACL 2025); "
                   "ES-acc / PS-acc / NS-acc: teacher-forced token accuracy as EasyEdit computes it (NS-acc: "
                   "argmax unchanged by the edit). The paper published none of them (–)")
    lines.append(legend + ".")
    return "\n".join(lines) + "\n"


def _csv_num(column: str, v: float) -> str:
    return f"{v:.6g}" if column in UNSCALED_COLUMNS else f"{v:.4f}"


def to_csv(table: str, blocks: Sequence[Block]) -> str:
    columns = table_columns(table)
    per_column_n = table == "table4-strict"
    head = ["block", "model", "source", "editor", "n_records"]
    for c in columns:
        head += [c, f"{c}_ci", f"{c}_mark"] + ([f"{c}_n"] if per_column_n else [])
    out = [head]
    for b in blocks:
        for r in b.rows:
            line = [b.title, b.model, r.source, r.label, "" if r.n is None else r.n]
            for c in columns:
                v, ci = r.values.get(c), r.cis.get(c)
                line += ["" if v is None else _csv_num(c, v), "" if ci is None else _csv_num(c, ci),
                         ",".join(sorted(r.marks.get(c, set())))]
                if per_column_n:
                    line.append("" if r.ns.get(c) is None else r.ns[c])
            out.append(line)
    return csv_text(out)


def to_latex(table: str, blocks: Sequence[Block]) -> str:
    columns = table_columns(table)
    lines = [f"% {TITLES[table]} -- needs \\usepackage[table]{{xcolor}}",
             f"% values x 100, mean $\\pm$ {CI95_CAPTION}",
             *([f"% NKL, NKL+: {_blocks_nkl(blocks)}, nats (not x 100), lower is better; sources of the strict "
                "columns: docs/evaluation.md"]
               if table == "table4-strict" else []),
             "\\begin{tabular}{l" + "r" * len(columns) + "}", "\\toprule",
             latex_row(["Editor", *columns])]
    for b in blocks:
        lines += ["\\midrule", f"\\multicolumn{{{len(columns) + 1}}}{{l}}{{\\emph{{{latex_escape(b.title)}}}}} \\\\"]
        if _scaled_thresholds(b):
            lines.append(f"% red for {_scaled_thresholds(b)} in this block (scaled to its unedited row)")
        for r in b.rows:
            cells = []
            for c in columns:
                v, ci = r.values.get(c), r.cis.get(c)
                t = "--" if v is None else (_num(c, v) + (f"$\\pm${_num(c, ci)}" if ci is not None else ""))
                m = r.marks.get(c, set())
                if "below" in m:
                    t = "\\cellcolor{red!25}" + t
                elif "best" in m:
                    t = "\\cellcolor{green!25}" + t
                cells.append(Latex(t))
            lines.append(latex_row([_row_label(r), *cells]))
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def load_summary(path: str | Path) -> dict:
    path = Path(path)
    try:
        doc = load_json(path)
    except FileNotFoundError:
        raise DataError(path, "summary file not found (run `rome summarize` first)") from None
    hint = "not a summary file (write it with `rome summarize`)"
    if not isinstance(doc, dict):
        raise DataError(path, f"{hint}: expected an object, got {type(doc).__name__}")
    for key in ("model", "dataset"):
        if not isinstance(doc.get(key), str):
            raise DataError(path, f"{hint}: missing or not a string", field=key)
    if not isinstance(doc.get("rows"), list):
        raise DataError(path, f"{hint}: missing or not a list", field="rows")
    for i, row in enumerate(doc["rows"]):
        if not isinstance(row, dict):
            raise DataError(path, f"{hint}: a row is {type(row).__name__}, not an object",
                            index=i, unit="row", field="rows")
        for key, kind in (("role", str), ("method", str), ("metrics", dict)):
            if not isinstance(row.get(key), kind):
                raise DataError(path, f"{hint}: missing or not a{'n object' if kind is dict else ' string'}",
                                index=i, unit="row", field=f"rows.{key}")
        if row["role"] == "pre-edit" and not isinstance(row.get("label"), str):
            raise DataError(path, f"{hint}: the unedited row needs a label", index=i, unit="row", field="rows.label")
    return doc


def render_table(table: str, summary_paths: Sequence[str | Path], out_dir: str | Path,
                 paper_beside: bool = True) -> list[Path]:
    """Write ``<out_dir>/<table>.md``, ``.csv`` and ``.tex``; returns the paths."""
    blocks = build_blocks(table, [load_summary(p) for p in summary_paths], paper_beside)
    out_dir = Path(out_dir)
    return [atomic_write_text(out_dir / f"{table}.md", to_markdown(table, blocks)),
            atomic_write_text(out_dir / f"{table}.csv", to_csv(table, blocks)),
            atomic_write_text(out_dir / f"{table}.tex", to_latex(table, blocks))]
