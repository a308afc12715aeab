"""Human-evaluation kit (paper Figs. 26-30): sample sheets, answer key, instructions, ratings.

``export_kit`` takes generated texts of the chosen methods (default ROME, FT+L and the
unedited model) for chosen records from cached result files, shuffles the texts of each
item with a seeded generator, labels them A, B, C, ... (anonymised), and writes

* ``sheets.csv`` / ``sheets.html``: what raters see (no method names);
* ``answer_key.csv``: item, label → method (keep away from raters);
* ``instructions.html``: the rater instructions (template in ``rome/resources``);
* ``ratings_template.csv``: the header raters fill in
  (``item_id, rater_id, most_consistent, most_fluent``).

``tally_ratings`` joins a filled-in ratings CSV with the answer key. Ratings are never
invented: without a ratings file there is nothing to tally.
"""
from __future__ import annotations

import csv
import html
import io
import random
from collections import Counter
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from atomicio import atomic_write_text

from ..results.layout import case_file, is_unedited, load_current

DEFAULT_METHODS = ("ROME", "FT+L", "none")
RATING_FIELDS = ("item_id", "rater_id", "most_consistent", "most_fluent")


def _csv(rows: Sequence[Sequence], header: Sequence[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _statement(rw: dict) -> str:
    return f"{rw['prompt'].replace('{}', rw['subject'])} {rw['target_new']['str']}."


def collect_items(eval_dir: str | Path, case_ids: Sequence[int], methods: Sequence[str] = DEFAULT_METHODS,
                  text_index: int = 0) -> list[dict]:
    """One item per record: the edit statement and one generated text per method."""
    items = []
    for cid in case_ids:
        texts, rw = {}, None
        for m in methods:
            path = case_file(eval_dir, m, cid)
            doc = load_current(eval_dir, m, cid)
            gen = (doc.get("post") or {}).get("text") or []
            if len(gen) <= text_index:
                raise ValueError(f"{path}: has {len(gen)} generated texts, needs index {text_index}")
            texts["unedited" if is_unedited(m) else m] = gen[text_index].strip()
            rw = rw or doc.get("requested_rewrite")
        if rw is None:
            raise ValueError(f"{eval_dir}: no result file of record {cid} has the field 'requested_rewrite'")
        items.append({"case_id": cid, "statement": _statement(rw), "texts": texts})
    return items


def export_kit(eval_dir: str | Path, case_ids: Sequence[int], out_dir: str | Path, seed: int = 0,
               methods: Sequence[str] = DEFAULT_METHODS, text_index: int = 0) -> list[Path]:
    items = collect_items(eval_dir, case_ids, methods, text_index)
    rng = random.Random(seed)
    rng.shuffle(items)
    labels = [chr(ord("A") + i) for i in range(len(methods))]
    sheet_rows, key_rows = [], []
    html_items = []
    for n, it in enumerate(items, 1):
        item_id = f"item{n:03d}"
        order = list(it["texts"].items())
        rng.shuffle(order)
        sheet_rows.append([item_id, it["statement"]] + [t for _, t in order])
        key_rows += [[item_id, it["case_id"], lab, m] for lab, (m, _) in zip(labels, order)]
        body = "".join(f"<p><b>{lab}.</b> {html.escape(t)}</p>" for lab, (_, t) in zip(labels, order))
        html_items.append(f"<section><h2>{item_id}</h2><p><i>Statement:</i> <b>{html.escape(it['statement'])}</b></p>"
                          f"{body}</section><hr>")
    out = Path(out_dir)
    instructions = resources.files("rome").joinpath("resources/human_eval_instructions.html").read_text(encoding="utf-8")
    instructions = instructions.replace("$N_SAMPLES$", str(len(labels))).replace("$LABELS$", ", ".join(labels))
    page = ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Samples</title></head>"
            "<body style='font-family:sans-serif;max-width:46em;margin:2em auto'>" + "".join(html_items) + "</body></html>\n")
    return [
        atomic_write_text(out / "sheets.csv", _csv(sheet_rows, ["item_id", "statement"] + [f"sample_{l}" for l in labels])),
        atomic_write_text(out / "sheets.html", page),
        atomic_write_text(out / "answer_key.csv", _csv(key_rows, ["item_id", "case_id", "label", "method"])),
        atomic_write_text(out / "instructions.html", instructions),
        atomic_write_text(out / "ratings_template.csv", _csv([], RATING_FIELDS)),
    ]


def _read_csv(path: str | Path, required: Sequence[str]) -> list[dict]:
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [f for f in required if f not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}")
        return list(reader)


def tally_ratings(ratings_csv: str | Path, answer_key_csv: str | Path) -> dict:
    """Counts of how often each method was chosen most consistent / most fluent."""
    key = {(r["item_id"], r["label"].strip().upper()): r["method"]
           for r in _read_csv(answer_key_csv, ("item_id", "label", "method"))}
    counts: dict[str, Counter[str]] = {"consistency": Counter(), "fluency": Counter()}
    n = 0
    for i, r in enumerate(_read_csv(ratings_csv, RATING_FIELDS), start=2):
        n += 1
        for col, q in (("most_consistent", "consistency"), ("most_fluent", "fluency")):
            lab = (r.get(col) or "").strip().upper()
            if not lab:
                continue
            if (r["item_id"], lab) not in key:
                raise ValueError(f"{ratings_csv}, line {i}: label {lab!r} of item {r['item_id']!r} is not in the answer key")
            counts[q][key[(r["item_id"], lab)]] += 1
    return {"ratings": n, "consistency": dict(counts["consistency"]), "fluency": dict(counts["fluency"])}
