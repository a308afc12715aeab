"""The paper's figures and tables: file stems, titles and published values; and the items
after the paper (successors' analyses, keyed by their file stem's first word).

Rendering functions name their outputs by these stems, and the report groups files by
them, so a figure on disk can always be traced back to the paper's numbering (or, for a
successor, to its paper).
"""
from __future__ import annotations

import re

CATALOGUE: dict[str, dict[str, str]] = {
    "fig01": {"title": "One causal trace (hidden, MLP, attention)", "paper": "GPT-2 XL, 'The Space Needle is in downtown' -> Seattle"},
    "fig02": {"title": "Average indirect effect heatmaps", "paper": "GPT-2 XL: hidden AIE 8.7% at last subject token, layer 15; MLP peak 6.6% (centre 17)"},
    "fig03": {"title": "Severed paths at the last subject token", "paper": "MLP severing removes most of the mid-layer effect"},
    "fig04": {"title": "ROME diagram", "paper": "illustration only: not rendered"},
    "fig05": {"title": "ROME at each layer x token choice", "paper": "GPT-2 XL: best at the last subject token around layer 17"},
    "fig06": {"title": "Generated text after one edit, all methods", "paper": "Pierre Curie's area of work is medicine"},
    "fig07": {"title": "AIE line plots with 95% bands", "paper": "ATE 18.6%, clean 27.0%, corrupted 8.47% (GPT-2 XL)"},
    "fig08": {"title": "Causal traces of other models", "paper": "GPT-J, NeoX-20B"},
    "fig09": {"title": "AIE line plots of other model sizes", "paper": "GPT-2 Medium, Large"},
    "fig10": {"title": "Individual causal traces", "paper": ""},
    "fig11": {"title": "Atypical individual traces", "paper": ""},
    "fig12": {"title": "Individual traces with the token after the subject corrupted", "paper": ""},
    "fig13": {"title": "AIE under other noise rules", "paper": "multivariate Gaussian, uniform"},
    "fig14": {"title": "Severed MLP per fact", "paper": ""},
    "fig15": {"title": "AIE with one extra corrupted token", "paper": ""},
    "fig16": {"title": "Integrated-gradients saliency", "paper": ""},
    "fig17": {"title": "FT / FT+L sweep over layers and epsilon", "paper": "GPT-2 XL"},
    "fig18": {"title": "FT / FT+L sweep (second model)", "paper": "GPT-J"},
    "fig19": {"title": "Generated texts of all methods for four records", "paper": "records 1338, 1741, 1024, 1178"},
    "fig20": {"title": "Generated texts (second model)", "paper": "GPT-J"},
    "fig21": {"title": "One COUNTERFACT record in full", "paper": ""},
    "fig22": {"title": "One zsRE record in full", "paper": ""},
    "fig23": {"title": "AttnEdit epsilon sweep", "paper": ""},
    "fig24": {"title": "Box plots: pre-edit, ROME, AttnEdit", "paper": ""},
    "fig25": {"title": "Generated text: AttnEdit vs ROME", "paper": ""},
    "fig26": {"title": "Human evaluation", "paper": "ROME more consistent 1.8x as often as FT+L; FT+L more fluent 1.3x"},
    "fig27": {"title": "Human-evaluation samples (sheets)", "paper": ""},
    "fig30": {"title": "Rater instructions", "paper": ""},
    "table1": {"title": "zsRE editing results", "paper": "ROME 99.8 / 88.1 / 24.2 (GPT-2 XL)"},
    "table2": {"title": "COUNTERFACT statistics", "paper": "21,919 records, 20,391 subjects, 749 objects"},
    "table3": {"title": "Benchmark comparison (qualitative)", "paper": ""},
    "table4": {"title": "COUNTERFACT editing results", "paper": "ROME S 89.2 (GPT-2 XL), 91.5 (GPT-J)"},
    "table5": {"title": "COUNTERFACT, GPT-2 Medium / Large", "paper": "ROME S 87.4 / 88.2"},
    "table6": {"title": "zsRE, GPT-2 Medium / Large", "paper": "ROME 96.6/79.8/21.3, 99.6/84.7/22.5"},
    # not in the paper: Table 4's companion with the stricter metrics of later work (docs/evaluation.md)
    "table4-strict": {"title": "COUNTERFACT editing results, the paper's metrics beside stricter ones "
                               "(CounterFact+ NS+/NM+, NKL, greedy ES-gen/PS-gen, token accuracy)",
                      "paper": "the paper publishes none of the strict columns; its Table 4 rows stand beside ours"},
    # after the paper: a stem starting with the key belongs to the entry
    "localization": {"title": "Localization vs editing (Hase et al., NeurIPS 2023)",
                     "paper": "Hase et al., GPT-J, 652 COUNTERFACT facts: the tracing effect barely predicts ROME's "
                              "rewrite score at the edited layer (correlation near zero); the edit layer explains "
                              "far more of its variance than the tracing effect adds (their Figs. 1 and 5)"},
    # not in the ROME paper: its successors' sequential / mass editing (docs/sequential.md)
    "sequential": {"title": "metrics, perplexity and ‖ΔW‖ against the number of edits; mass-editing table",
                   "paper": "MEMIT, GPT-J, 10,000 COUNTERFACT edits in one batch: ES 98.9, PS 88.6, NS 73.7 "
                            "(Meng et al., ICLR 2023)"},
}
# Entries not numbered in the paper (a companion of a paper item, or work after the paper): a
# file stem that begins with the key belongs to the entry (checked before the numbered items).
AFTER_THE_PAPER = ("table4-strict", "localization", "sequential")


def catalogue_id(stem: str) -> str | None:
    """The catalogue entry a file stem belongs to (``fig2-aie-heatmaps``, ``fig02_x`` -> ``fig02``;
    ``table4-strict`` -> ``table4-strict``; ``localization-vs-editing`` -> ``localization``;
    ``sequential-metrics`` -> ``sequential``)."""
    low = stem.lower()
    for key in AFTER_THE_PAPER:
        if low.startswith(key):
            return key
    m = re.match(r"(fig|table)(\d+)", low)
    if not m:
        return None
    key = f"fig{int(m.group(2)):02d}" if m.group(1) == "fig" else f"table{int(m.group(2))}"
    return key if key in CATALOGUE else None
