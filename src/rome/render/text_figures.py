"""Text figures (the paper's figures and tables): generations after an edit (Figs. 6, 19, 20, 25) and whole records
(Fig. 21: COUNTERFACT, Fig. 22: zsRE), as Markdown and as PDF/PNG (matplotlib text layout).

Everything is read from cached files: per-record result files of ``rome evaluate`` and the
records files. No model is loaded here.
"""
from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from pathlib import Path

from atomicio import atomic_write_text

from ..results.layout import case_file, load_current
from ..results.layout import display_name as display_method
from .style import save_figure, styled

WRAP = 110


def _result_file(eval_dir: Path, method: str, case_id) -> Path:
    return case_file(eval_dir, method, case_id)


def load_generations(eval_dir: str | Path, methods: Sequence[str], case_id, n_texts: int = 1) -> dict:
    """``{"rewrite": {...}, "texts": [(method label, [texts])]}`` for one record."""
    sections, rewrite = [], None
    for m in methods:
        path = _result_file(Path(eval_dir), m, case_id)
        doc = load_current(eval_dir, m, case_id)
        texts = (doc.get("post") or {}).get("text")
        if not texts:
            raise ValueError(f"{path}: no generated texts (was it run with --no-generation?)")
        rewrite = rewrite or doc.get("requested_rewrite")
        label = doc.get("model", "unedited") if m.lower() in ("none", "unedited") else display_method(m)
        sections.append((label, texts[:n_texts]))
    return {"rewrite": rewrite, "texts": sections}


def edit_statement(rw: dict | None) -> str:
    if not rw:
        return "(edit unknown)"
    prompt = rw["prompt"].replace("{}", rw["subject"])
    true = (rw.get("target_true") or {}).get("str")
    return f"{prompt} {rw['target_new']['str']}" + (f"   (was: {true})" if true else "")


def generations_markdown(title: str, items: Sequence[tuple[object, dict]]) -> str:
    lines = [f"## {title}", ""]
    for case_id, g in items:
        lines += [f"### Record {case_id}: {edit_statement(g['rewrite'])}", ""]
        for label, texts in g["texts"]:
            for t in texts:
                lines.append(f"- **{label}**: {t.strip()}")
        lines.append("")
    return "\n".join(lines)


@styled
def _text_figure(stem: str | Path, paragraphs: Sequence[tuple[str, str]], title: str) -> list[Path]:
    """Lay out ``(heading, body)`` paragraphs top to bottom in one figure and save it."""
    import matplotlib.pyplot as plt

    blocks = []
    for head, body in paragraphs:
        wrapped = []
        for para in body.split("\n"):
            wrapped += textwrap.wrap(para, WRAP) or [""]
        blocks.append((head, wrapped))
    n_lines = 2 + sum(1 + len(w) + 0.5 for _, w in blocks)
    height = max(2.0, 0.19 * n_lines)
    fig = plt.figure(figsize=(9.0, height))
    step = 1.0 / n_lines
    y = 1.0 - step
    fig.text(0.01, y, title, fontsize=10, fontweight="bold", va="top")
    y -= 1.5 * step
    for head, wrapped in blocks:
        if head:
            fig.text(0.01, y, head, fontsize=8.5, fontweight="bold", va="top")
            y -= step
        for line in wrapped:
            fig.text(0.03, y, line, fontsize=8, va="top", family="DejaVu Sans")
            y -= step
        y -= 0.5 * step
    return save_figure(fig, stem)


def render_generations(eval_dir: str | Path, methods: Sequence[str], case_ids: Sequence, out_stem: str | Path,
                       title: str, n_texts: int = 1) -> list[Path]:
    """Figs. 6 / 19 / 20 / 25: generated text of each method after the edit of each record."""
    items = [(cid, load_generations(eval_dir, methods, cid, n_texts)) for cid in case_ids]
    out_stem = Path(out_stem)
    paths = [atomic_write_text(out_stem.with_suffix(".md"), generations_markdown(title, items))]
    paras = []
    for cid, g in items:
        paras.append((f"Record {cid} — edit: {edit_statement(g['rewrite'])}", ""))
        for label, texts in g["texts"]:
            paras.append((label, "\n".join(t.strip() for t in texts)))
    return paths + _text_figure(out_stem, paras, title)


def _find_record(records: list[dict], case_id, path) -> dict:
    for r in records:
        if r.get("case_id") == case_id:
            return r
    raise KeyError(f"{path}: no record with case_id {case_id}")


def counterfact_record_paragraphs(r: dict) -> list[tuple[str, str]]:
    rw = r["requested_rewrite"]
    return [
        ("Requested rewrite", f"prompt: {rw['prompt']}\nsubject: {rw['subject']}\nrelation: {rw.get('relation_id')}\n"
                              f"target_true: {rw['target_true']['str']}\ntarget_new: {rw['target_new']['str']}"),
        ("Paraphrase prompts", "\n".join(r.get("paraphrase_prompts", []))),
        ("Neighborhood prompts", "\n".join(r.get("neighborhood_prompts", []))),
        ("Attribute prompts", "\n".join(r.get("attribute_prompts", []))),
        ("Generation prompts", "\n".join(r.get("generation_prompts", []))),
    ]


def zsre_record_paragraphs(r: dict) -> list[tuple[str, str]]:
    if "src" in r:  # MEND format
        return [("Question (src)", r["src"]), ("Subject", r["subject"]), ("Answers", ", ".join(r["answers"])),
                ("Rephrased question", r["rephrase"]), ("Unrelated question (loc)", r["loc"]),
                ("Its answer (loc_ans)", r["loc_ans"])]
    rw = r["requested_rewrite"]
    return [("Question", rw["prompt"].replace("{}", rw["subject"])), ("Subject", rw["subject"]),
            ("Answer (target_new)", rw["target_new"]["str"]),
            ("Rephrased question", "\n".join(r.get("paraphrase_prompts", []))),
            ("Unrelated question (loc)", r["neighborhood"]["prompt"]),
            ("Its answer (loc_ans)", r["neighborhood"]["target"])]


def render_record(records_path: str | Path, case_id: int, dataset: str, out_stem: str | Path) -> list[Path]:
    """Fig. 21 (COUNTERFACT) or Fig. 22 (zsRE, raw MEND index = case id): one record in full."""
    records = json.loads(Path(records_path).read_text(encoding="utf-8"))
    if dataset == "zsre" and records and "src" in records[0]:
        if not 0 <= case_id < len(records):
            raise KeyError(f"{records_path}: no zsRE record {case_id} (has {len(records)})")
        r = records[case_id]
        paras, title = zsre_record_paragraphs(r), f"zsRE record {case_id}"
    else:
        r = _find_record(records, case_id, records_path)
        if dataset == "zsre":
            paras, title = zsre_record_paragraphs(r), f"zsRE record {case_id}"
        else:
            paras, title = counterfact_record_paragraphs(r), f"COUNTERFACT record {case_id}"
    md = [f"## {title}", ""]
    for head, body in paras:
        md += [f"**{head}**", ""] + [f"- {line}" for line in body.split("\n") if line] + [""]
    out_stem = Path(out_stem)
    return [atomic_write_text(out_stem.with_suffix(".md"), "\n".join(md))] + _text_figure(out_stem, paras, title)
