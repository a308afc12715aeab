"""``rome report``: an HTML index of every rendered figure and table with its provenance.

For each file under the figures folder the index shows the catalogue entry (paper number,
title, published value), the rule that wrote it, the configuration parameters, model, data
checksums and package version from the provenance records.
"""
from __future__ import annotations

import argparse
import html
from collections import defaultdict
from pathlib import Path

from atomicio import atomic_write_text

from ..cli import paths as cli_paths
from ..results.provenance import load_provenance, package_version
from .catalogue import CATALOGUE, catalogue_id

SHOWN = {".png", ".md", ".csv", ".tex", ".pdf", ".html", ".json"}


def build_index(figures: Path, provenance_dir: Path, title: str = "ROME replication") -> str:
    records = load_provenance(provenance_dir) if provenance_dir.is_dir() else []
    by_output = {}
    for rec in records:
        for out in rec.get("outputs", {}):
            by_output[str(Path(out).resolve())] = rec
            for f in Path(out).rglob("*") if Path(out).is_dir() else []:
                by_output[str(f.resolve())] = rec
    groups: dict[str, list[Path]] = defaultdict(list)
    for f in sorted(figures.rglob("*")):
        if f.is_file() and f.suffix in SHOWN and f.name != "index.html":
            groups[catalogue_id(f.stem) or "other"].append(f)
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{esc(title)}</title><style>body{{font-family:sans-serif;max-width:1100px;margin:auto}}"
        "img{max-width:100%;border:1px solid #ddd}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;font-size:12px}code{font-size:11px}</style></head><body>",
        f"<h1>{esc(title)}</h1><p>package version {esc(package_version())}; "
        f"{sum(len(v) for v in groups.values())} files; {len(records)} provenance records.</p>",
    ]
    order = [k for k in CATALOGUE if k in groups] + (["other"] if "other" in groups else [])
    for key in order:
        entry = CATALOGUE.get(key, {"title": "other outputs", "paper": ""})
        parts.append(f"<h2 id='{esc(key)}'>{esc(key)}: {esc(entry['title'])}</h2>")
        if entry.get("paper"):
            parts.append(f"<p><b>paper:</b> {esc(entry['paper'])}</p>")
        for f in groups[key]:
            rel = f.relative_to(figures)
            parts.append(f"<h3><a href='{esc(str(rel))}'>{esc(str(rel))}</a></h3>")
            if f.suffix == ".png":
                parts.append(f"<img src='{esc(str(rel))}' loading='lazy'>")
            elif f.suffix == ".md" and f.stat().st_size < 20000:
                parts.append(f"<pre>{esc(f.read_text(encoding='utf-8'))}</pre>")
            prov = by_output.get(str(f.resolve()))
            if prov:
                params = prov.get("params", {})
                inputs = "".join(
                    f"<tr><td><code>{esc(p)}</code></td><td><code>{esc(d[:16])}</code></td></tr>"
                    for p, d in prov.get("inputs", {}).items()
                )
                parts.append(
                    f"<details><summary>provenance: rule <code>{esc(prov.get('rule', '?'))}</code>, "
                    f"model <code>{esc(str(params.get('model', '')))}</code>, version "
                    f"{esc(prov.get('package_version', '?'))}</summary>"
                    f"<pre>{esc(str(params))}</pre><table><tr><th>input</th><th>sha256</th></tr>{inputs}</table></details>"
                )
            else:
                parts.append("<p><i>no provenance record</i></p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--figures", default=str(cli_paths.FIGURES_DIR))
    parser.add_argument("--provenance", default=str(cli_paths.PROVENANCE_DIR))
    parser.add_argument("--out", default=None, help="default: <figures>/index.html")
    parser.add_argument("--title", default="ROME replication: figures and tables")


def run(args: argparse.Namespace) -> int:
    figures = Path(args.figures)
    out = Path(args.out) if args.out else figures / "index.html"
    atomic_write_text(out, build_index(figures, Path(args.provenance), args.title))
    print(f"report: {out}")
    return 0
