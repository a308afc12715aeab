"""Sequential editing: figures and the mass-editing table, from ``rome sequential``'s result files only.

Reads ``<dir>/<method slug>/result.json`` (:mod:`rome.evaluation.sequential`; never loads a
model; with ``in_progress``, an unfinished run's checkpoint files) and writes, into the figures
folder:

* ``sequential-metrics.pdf/.png``: ES, PS, NS over the edits so far, NS and GE of the fixed
  probe records, and the count of disabling edits, each against the number of edits (log axis;
  the unedited model's probe values as dashed lines);
* ``sequential-perplexity.pdf/.png``: held-out WikiText-2 perplexity and ``‖ΔW‖/‖W‖`` of every
  edited matrix against the number of edits (log axes);
* ``sequential-table.md/.csv/.tex``: each method at its last checkpoint (N edits) beside the
  published mass-editing values (:data:`rome.results.paper_values.MASS_EDITING`);
* ``sequential-checkpoints.csv``: every checkpoint of every method, every number the figures and
  the table read, at full precision (:func:`checkpoint_rows`). The renderer reads it back
  (:func:`load_checkpoint_table`), so a run's figures can be redrawn from this one small file
  once its result folder is gone.
"""
from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from pathlib import Path

from atomicio import atomic_write_text, load_json
from counterfact.errors import DataError
from replkit.tables import csv_text, latex_tabular, markdown_table

from ..results.layout import MissingResultError, display_name, method_dir, sequential_checkpoints, sequential_point
from ..results.paper_values import MASS_EDITING_COLUMNS, mass_editing_rows
from .style import method_colours, save_figure, styled

STEMS = ("sequential-metrics", "sequential-perplexity", "sequential-table", "sequential-checkpoints")
PANELS = (("edits", "ES", "ES, edits so far"), ("edits", "PS", "PS, edits so far"),
          ("edits", "NS", "NS, edits so far"), ("probe", "NS", "NS, probe records"),
          (None, "GE", "GE, probe records"), (None, "disabling", "disabling edits (r-ROME)"))
TABLE_HEADER = ("method", "N", "batch", "ES", "PS", "NS", "probe NS", "GE", "perplexity (0 → N)", "disabling")
_SCORES = ("ES", "PS", "NS")  # what `efficacy` measures, over the edits so far and over the probe records
# sequential-checkpoints.csv: these columns, then one ``delta_norm_ratio[<matrix>]`` per edited matrix
CHECKPOINT_COLUMNS = ("method", "batch_size", "planned_edits", "n_edits", *(f"edits_{c}" for c in _SCORES),
                      *(f"probe_{c}" for c in _SCORES), "GE", "perplexity", "disabling")
_DELTA = re.compile(r"delta_norm_ratio\[(.+)\]")


def load_results(seq_dir: str | os.PathLike, methods: Sequence[str], in_progress: bool = False) -> list[dict]:
    """The result documents of ``methods`` (in that order); a missing or unreadable one is named.

    With ``in_progress``, a method whose run has not finished (no ``result.json``) is read from
    its checkpoint files instead (:func:`partial_result`), so a long run can be looked at while
    it goes on."""
    docs = []
    for m in methods:
        folder = method_dir(Path(seq_dir), m)
        path = folder / "result.json"
        if not path.is_file():
            if in_progress and sequential_checkpoints(folder):
                docs.append(partial_result(folder))
                continue
            raise MissingResultError(f"no sequential result for method {m!r}: {path} (run `rome sequential --method {m}`)")
        doc = load_json(path)
        if not isinstance(doc, dict) or not isinstance(doc.get("checkpoints"), list) or not doc["checkpoints"]:
            raise DataError(path, "expected a `rome sequential` result with a non-empty 'checkpoints' list",
                            field="checkpoints")
        docs.append(doc)
    return docs


def partial_result(folder: str | os.PathLike) -> dict:
    """A result document of an unfinished run, from its ``checkpoint-<n>.json`` files.

    The checkpoints must all carry one cache key (a run deletes those of other settings when it
    starts; a folder that still mixes keys is named, never merged). The document has
    ``"in_progress": true`` and the run's settings from the key, so the table can say how far
    the run has come."""
    folder = Path(folder)
    docs, digest, first = [], None, None
    for path in sequential_checkpoints(folder):
        doc = load_json(path)
        if not isinstance(doc, dict) or not isinstance(doc.get("metrics"), dict) \
                or not isinstance(doc.get("n_edits"), int):
            raise DataError(path, "expected a `rome sequential` checkpoint with 'n_edits' and 'metrics'",
                            field="metrics")
        key = doc.get("cache_key") or {}
        if first is None:
            digest, first = key.get("digest"), path.name
        elif key.get("digest") != digest:
            raise DataError(path, f"made under another cache key than {first} (rerun `rome sequential` to "
                            "clear the stale one)", field="cache_key.digest")
        docs.append(doc)
    if not docs:
        raise MissingResultError(f"no sequential checkpoints in {folder}")
    docs.sort(key=lambda d: d["n_edits"])
    settings = ((docs[0].get("cache_key") or {}).get("components") or {}).get("settings") or {}
    return {"producer": "rome sequential", "method": docs[0].get("method", folder.name), "settings": settings,
            "in_progress": True, "checkpoints": [sequential_point(d) for d in docs],
            "updates": [u for d in docs for u in d.get("updates") or []]}


def _value(point: dict, group: str | None, metric: str) -> float | None:
    v = point.get(metric) if group is None else (point.get(group) or {}).get(metric)
    return v if isinstance(v, (int, float)) and math.isfinite(v) else None


def _points(docs: Sequence[dict]) -> list[int]:
    return sorted({p["n_edits"] for d in docs for p in d["checkpoints"] if p["n_edits"] > 0})


def _log_x(ax, points: Sequence[int] = ()) -> None:
    """A log x axis labelled with plain numbers: the checkpoints when there are few, else decades."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax.set_xscale("log")
    if 0 < len(points) <= 8:
        ax.set_xticks(list(points))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())


def _plain_log_y(ax) -> None:
    """A log y axis labelled with plain numbers at 1, 2, 3 and 5 of each decade (no crowded minor labels)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 3.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _layer(name: str) -> str:
    m = re.search(r"\.(\d+)\.", name)
    return f"layer {m.group(1)}" if m else name


@styled
def render_metrics(docs: Sequence[dict], stem: str | os.PathLike, title: str | None = None) -> list[Path]:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(11, 5.5), sharex=True)
    colours = method_colours(display_name(d["method"]) for d in docs)
    for ax, (group, metric, label) in zip(axes.flat, PANELS):
        for doc in docs:
            pts = [(p["n_edits"], _value(p, group, metric)) for p in doc["checkpoints"] if p["n_edits"] > 0]
            pts = [(n, v) for n, v in pts if v is not None]
            name = display_name(doc["method"])
            if pts:
                ax.plot(*zip(*pts), marker=".", lw=1.2, color=colours[name], label=name)
            base = _value(doc["checkpoints"][0], group, metric) if doc["checkpoints"][0]["n_edits"] == 0 else None
            if base is not None and group != "edits" and metric != "disabling":
                ax.axhline(base, color=colours[name], ls="--", lw=0.7)
        _log_x(ax, _points(docs))
        ax.set_title(label)
        if metric in ("ES", "PS", "NS"):
            ax.set_ylim(-2, 102)
        elif metric == "disabling":  # a count: whole numbers from 0
            from matplotlib.ticker import MaxNLocator

            top = max(1.0, ax.get_ylim()[1])
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylim(-0.05 * top, 1.05 * top)
    for ax in axes[-1]:
        ax.set_xlabel("number of edits")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.0), ncol=max(1, len(labels)), frameon=False)
    fig.suptitle(title or "Sequential editing (dashed: unedited model)", y=1.01)
    fig.tight_layout()
    return save_figure(fig, Path(stem))


@styled
def render_perplexity(docs: Sequence[dict], stem: str | os.PathLike, title: str | None = None) -> list[Path]:
    import matplotlib.pyplot as plt

    fig, (ax_p, ax_n) = plt.subplots(1, 2, figsize=(9, 3.2))
    styles = ("-", "--", ":", "-.")
    colours = method_colours(display_name(d["method"]) for d in docs)
    for doc in docs:
        name = display_name(doc["method"])
        colour = colours[name]
        pts = [(p["n_edits"], p.get("perplexity")) for p in doc["checkpoints"] if p["n_edits"] > 0]
        pts = [(n, v) for n, v in pts if isinstance(v, (int, float))]
        if pts:
            ax_p.plot(*zip(*pts), marker=".", lw=1.2, color=colour, label=name)
        if doc["checkpoints"][0]["n_edits"] == 0 and isinstance(doc["checkpoints"][0].get("perplexity"), (int, float)):
            ax_p.axhline(doc["checkpoints"][0]["perplexity"], color=colour, ls="--", lw=0.7)
        names = sorted({k for p in doc["checkpoints"] for k in (p.get("delta_norm_ratio") or {})})
        for i, wname in enumerate(names):
            series = [(p["n_edits"], (p.get("delta_norm_ratio") or {}).get(wname)) for p in doc["checkpoints"]]
            series = [(n, v) for n, v in series if n > 0 and isinstance(v, (int, float)) and v > 0]
            if series:
                ax_n.plot(*zip(*series), marker=".", lw=1.0, color=colour, ls=styles[i % len(styles)],
                          label=f"{name} {_layer(wname)}")
    for ax in (ax_p, ax_n):
        _log_x(ax, _points(docs))
        ax.set_xlabel("number of edits")
    if ax_p.lines:
        _plain_log_y(ax_p)
    if ax_n.lines:
        _plain_log_y(ax_n)
    ax_p.set_title("held-out WikiText-2 perplexity (dashed: unedited)")
    ax_n.set_title("‖ΔW‖ / ‖W‖ per edited matrix")
    ax_p.legend(frameon=False)
    if ax_n.lines:
        ax_n.legend(frameon=False, fontsize=6)
    if title:
        fig.suptitle(title, y=1.02)
    fig.tight_layout()
    return save_figure(fig, Path(stem))


def _fmt(v, digits: int = 1) -> str:
    return "–" if not isinstance(v, (int, float)) or not math.isfinite(v) else f"{v:.{digits}f}"


def table_rows(docs: Sequence[dict], model: str) -> tuple[list[list[str]], list[list[str]]]:
    """``(our rows, published rows)`` of the mass-editing table."""
    ours = []
    for doc in docs:
        first, last = doc["checkpoints"][0], doc["checkpoints"][-1]
        s = doc.get("settings") or {}
        ppl = f"{_fmt(first.get('perplexity'))} → {_fmt(last.get('perplexity'))}"
        n = f"{last['n_edits']:,}"
        if doc.get("in_progress"):
            total = s.get("n_edits")
            n += f" of {total:,}" if isinstance(total, int) else " (unfinished)"
        ours.append([display_name(doc["method"]), n, str(s.get("batch_size", "?")),
                     *(_fmt((last.get("edits") or {}).get(c)) for c in MASS_EDITING_COLUMNS),
                     _fmt((last.get("probe") or {}).get("NS")), _fmt(last.get("GE")), ppl,
                     str(last.get("disabling", "–"))])
    paper = [[label, f"{n:,}", f"{b:,}", *(_fmt(v.get(c)) for c in MASS_EDITING_COLUMNS), "–", _fmt(v.get("GE")),
              "–", "–"] for label, _method, n, b, v in mass_editing_rows(model)]
    return ours, paper


def render_table(docs: Sequence[dict], stem: str | os.PathLike, model: str) -> list[Path]:
    ours, paper = table_rows(docs, model)
    stem = Path(stem)
    note = ("ES, PS, NS over every edit of the stream after the last one (percent); probe NS and GE on the fixed "
            "probe records; published rows: ES, PS, NS (and GE where given) of their N edits.")
    md = (f"**Sequential / mass editing** ({model}).\n\n" + markdown_table(TABLE_HEADER, ours + paper, "lrrrrrrrrr")
          + f"\n{note}\n")
    tex = "\n".join(latex_tabular(TABLE_HEADER, ours + paper)) + "\n"
    out = [atomic_write_text(stem.with_suffix(".md"), md),
           atomic_write_text(stem.with_suffix(".csv"), csv_text([list(TABLE_HEADER), *ours, *paper])),
           atomic_write_text(stem.with_suffix(".tex"), tex)]
    return out


def _cell(v, as_int: bool = False) -> str:
    """One cell of ``sequential-checkpoints.csv``: empty for none or non-finite, else the shortest
    text that reads back as the same number (``repr``)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return ""
    return str(int(v)) if as_int else repr(float(v))


def checkpoint_rows(docs: Sequence[dict]) -> list[list[str]]:
    """``sequential-checkpoints.csv`` as rows (header first): one row per checkpoint of each method,
    in the order of ``docs``; the matrices' ``‖ΔW‖/‖W‖`` columns are sorted by name."""
    matrices = sorted({k for d in docs for p in d["checkpoints"] for k in (p.get("delta_norm_ratio") or {})})
    rows = [[*CHECKPOINT_COLUMNS, *(f"delta_norm_ratio[{m}]" for m in matrices)]]
    for doc in docs:
        s = doc.get("settings") or {}
        for p in doc["checkpoints"]:
            edits, probe, dn = p.get("edits") or {}, p.get("probe") or {}, p.get("delta_norm_ratio") or {}
            rows.append([doc["method"], _cell(s.get("batch_size"), True), _cell(s.get("n_edits"), True),
                         _cell(p["n_edits"], True), *(_cell(edits.get(c)) for c in _SCORES),
                         *(_cell(probe.get(c)) for c in _SCORES), _cell(p.get("GE")),
                         _cell(p.get("perplexity")), _cell(p.get("disabling"), True),
                         *(_cell(dn.get(m)) for m in matrices)])
    return rows


def render_checkpoint_table(docs: Sequence[dict], path: str | os.PathLike) -> Path:
    return atomic_write_text(Path(path), csv_text(checkpoint_rows(docs)))


def _parse(path: Path, line: int, column: str, text: str, as_int: bool):
    if text == "":
        return None
    try:
        v = int(text) if as_int else float(text)
    except ValueError:
        raise DataError(path, f"{text!r} is not {'a whole number' if as_int else 'a number'}", line=line,
                        field=column) from None
    if not math.isfinite(v) or (as_int and v < 0):
        raise DataError(path, f"{text!r} is not {'a count' if as_int else 'a finite number'}", line=line, field=column)
    return v


def load_checkpoint_table(path: str | os.PathLike, methods: Sequence[str] | None = None) -> list[dict]:
    """Result documents, as :func:`load_results` gives them, from a ``sequential-checkpoints.csv``
    (:func:`checkpoint_rows`): ``methods`` in that order, or every method of the file in its order.

    A missing column, an unknown one, a cell that is not a number, a method whose rows disagree on
    ``batch_size`` or ``planned_edits``, a checkpoint listed twice, or a method not in the file is
    named with the file and line; nothing is skipped. A method whose last checkpoint is short of
    ``planned_edits`` reads as unfinished (the table's N column says ``n of N``)."""
    import csv

    path = Path(path)
    if not path.is_file():
        raise MissingResultError(f"no sequential checkpoint table: {path} (written by `rome render-sequential` "
                                 "as sequential-checkpoints.csv)")
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise DataError(path, "empty file; expected the header of sequential-checkpoints.csv", line=1)
    header = rows[0]
    for c in CHECKPOINT_COLUMNS:
        if c not in header:
            raise DataError(path, "missing column", line=1, field=c)
    matrices = {}
    for i, c in enumerate(header):
        match = _DELTA.fullmatch(c)
        if match:
            matrices[i] = match.group(1)
        elif c not in CHECKPOINT_COLUMNS:
            raise DataError(path, f"unknown column (expected {', '.join(CHECKPOINT_COLUMNS)} and "
                            "delta_norm_ratio[<matrix>])", line=1, field=c)
    col = {c: header.index(c) for c in CHECKPOINT_COLUMNS}
    ints = {"batch_size", "planned_edits", "n_edits", "disabling"}
    by_method: dict[str, dict] = {}
    first: dict[str, tuple[int, int | None, int | None]] = {}  # method -> (line, batch_size, planned_edits)
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DataError(path, f"{len(row)} cells for {len(header)} columns", line=line)
        v = {c: _parse(path, line, c, row[col[c]], c in ints) for c in CHECKPOINT_COLUMNS if c != "method"}
        name = row[col["method"]]
        if not name:
            raise DataError(path, "empty", line=line, field="method")
        if v["n_edits"] is None:
            raise DataError(path, "empty", line=line, field="n_edits")
        doc = by_method.setdefault(name, {"producer": "rome render-sequential (sequential-checkpoints.csv)",
                                          "method": name, "checkpoints": [], "updates": []})
        first_line, *settings = first.setdefault(name, (line, v["batch_size"], v["planned_edits"]))
        for c, expected in zip(("batch_size", "planned_edits"), settings):
            if v[c] != expected:
                raise DataError(path, f"method {name!r}: {v[c]} here, {expected} on line {first_line}", line=line,
                                field=c)
        if any(p["n_edits"] == v["n_edits"] for p in doc["checkpoints"]):
            raise DataError(path, f"method {name!r}: checkpoint {v['n_edits']} listed twice", line=line,
                            field="n_edits")
        point = {"n_edits": v["n_edits"],
                 "edits": {c: v[f"edits_{c}"] for c in _SCORES},
                 "probe": {c: v[f"probe_{c}"] for c in _SCORES},
                 "GE": v["GE"], "perplexity": v["perplexity"],
                 "delta_norm_ratio": {m: x for i, m in matrices.items()
                                      if (x := _parse(path, line, header[i], row[i], False)) is not None}}
        if v["disabling"] is not None:
            point["disabling"] = v["disabling"]
        doc["checkpoints"].append(point)
    wanted = list(by_method) if methods is None else list(methods)
    missing = [m for m in wanted if m not in by_method]
    if missing or not wanted:
        raise MissingResultError(f"{path}: no checkpoints of {', '.join(map(repr, missing)) or 'any method'} "
                                 f"(the file has {', '.join(map(repr, by_method)) or 'none'})")
    docs = []
    for m in wanted:
        doc = by_method[m]
        _line, batch, planned = first[m]
        doc["checkpoints"].sort(key=lambda p: p["n_edits"])
        doc["settings"] = {k: x for k, x in (("batch_size", batch), ("n_edits", planned)) if x is not None}
        doc["in_progress"] = planned is not None and doc["checkpoints"][-1]["n_edits"] < planned
        docs.append(doc)
    return docs


def render_docs(docs: Sequence[dict], out_dir: str | os.PathLike, model: str, title: str | None = None) -> list[Path]:
    """Every sequential figure, the table and the checkpoint table of ``docs`` (the module docstring)."""
    out = Path(out_dir)
    return [*render_metrics(docs, out / STEMS[0], title), *render_perplexity(docs, out / STEMS[1], title),
            *render_table(docs, out / STEMS[2], model),
            render_checkpoint_table(docs, out / f"{STEMS[3]}.csv")]


def render_all(seq_dir: str | os.PathLike, methods: Sequence[str], out_dir: str | os.PathLike, model: str,
               title: str | None = None, in_progress: bool = False) -> list[Path]:
    """:func:`render_docs` of ``rome sequential``'s result folder; ``in_progress`` as in
    :func:`load_results`."""
    return render_docs(load_results(seq_dir, methods, in_progress), out_dir, model, title)
