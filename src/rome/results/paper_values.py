"""The paper's published numbers (the paper's figures and tables) as data: Tables 1, 4, 5, 6 and Table 4's colouring.

Rows are ``(label, method, values)``; ``method`` is ``"none"`` for the unedited model.
Keys of :data:`PAPER_TABLES` are ``(table, model)`` with the model's Hugging Face id.
"""
from __future__ import annotations

COUNTERFACT_COLUMNS = ("S", "ES", "EM", "PS", "PM", "NS", "NM", "GE", "RS")
ZSRE_COLUMNS = ("Efficacy", "Paraphrase", "Specificity")

# The stricter COUNTERFACT columns of later work (rome.evaluation.strict, docs/evaluation.md); the
# paper publishes none of them. NKL / NKL+ are KL divergences in nats (not × 100, lower is better).
STRICT_COLUMNS = ("NS+", "NM+", "NKL", "NKL+", "ES-gen", "PS-gen", "ES-acc", "PS-acc", "NS-acc")
UNSCALED_COLUMNS = frozenset({"NKL", "NKL+"})
LOWER_IS_BETTER = frozenset({"NKL", "NKL+"})


# NKL settings (rome.evaluation.strict): KL(P_edited || P_unedited) as the specificityplus code, or the
# reverse as its paper's text; the sum divided by the vocabulary size as that code, or the sum itself.
NKL_DIRECTIONS = ("edited_unedited", "unedited_edited")
NKL_REDUCTIONS = ("batchmean", "sum")


def nkl_definition(direction: str = "edited_unedited", reduction: str = "batchmean") -> str:
    """What the NKL columns hold under the evaluation's ``nkl_direction`` / ``nkl_reduction``
    (defaults: the specificityplus code's KL(edited ‖ unedited) divided by the vocabulary size)."""
    kl = "KL(edited ‖ unedited)" if direction == "edited_unedited" else "KL(unedited ‖ edited)"
    return kl + (" / |V|" if reduction == "batchmean" else "")

# The strict table beside Table 4: the paper's efficacy / generalisation / specificity columns,
# then the strict ones (same N, intervals and caption rules as Table 4).
STRICT_TABLE_COLUMNS = ("S", "ES", "PS", "NS", "NM", *STRICT_COLUMNS)

# Red (below threshold) in Table 4; the best editor per column is green.
THRESHOLDS = {"S": 50.0, "ES": 75.0, "EM": 20.0, "PS": 60.0, "PM": 10.0, "NS": 45.0, "NM": -5.0, "GE": 600.0,
              "RS": 31.0}
# GE and RS measure generated text, so their level depends on the generation length and the model
# as much as on the edit (Gemma 3 270M's unedited GE is 437 over 30 tokens). Their thresholds are
# read relative to the unedited model: in a block with an unedited row, threshold × unedited value /
# GPT-2 XL's unedited value in the paper (below), which leaves the paper's own colouring unchanged.
RELATIVE_THRESHOLD_BASE = {"GE": 626.6, "RS": 31.9}


def _cf(*rows):
    return [(label, method, dict(zip(COUNTERFACT_COLUMNS, vals))) for label, method, vals in rows]


def _zs(*rows):
    return [(label, method, dict(zip(ZSRE_COLUMNS, vals))) for label, method, vals in rows]


PAPER_TABLES: dict[tuple[str, str], list[tuple[str, str, dict[str, float]]]] = {
    ("table1", "gpt2-xl"): _zs(
        ("GPT-2 XL", "none", (22.2, 21.3, 24.2)), ("FT", "FT", (99.6, 82.1, 23.2)),
        ("FT+L", "FT+L", (92.3, 47.2, 23.4)), ("KE", "KE", (65.5, 61.4, 24.9)),
        ("KE-zsRE", "KE-zsRE", (92.4, 90.0, 23.8)), ("MEND", "MEND", (75.9, 65.3, 24.1)),
        ("MEND-zsRE", "MEND-zsRE", (99.4, 99.3, 24.1)), ("ROME", "ROME", (99.8, 88.1, 24.2))),
    ("table4", "gpt2-xl"): _cf(
        ("GPT-2 XL", "none", (30.5, 22.2, -4.8, 24.7, -5.0, 78.1, 5.0, 626.6, 31.9)),
        ("FT", "FT", (65.1, 100.0, 98.8, 87.9, 46.6, 40.4, -6.2, 607.1, 40.5)),
        ("FT+L", "FT+L", (66.9, 99.1, 91.5, 48.7, 28.9, 70.3, 3.5, 621.4, 37.4)),
        ("KN", "KN", (35.6, 28.7, -3.4, 28.0, -3.3, 72.9, 3.7, 570.4, 30.3)),
        ("KE", "KE", (52.2, 84.3, 33.9, 75.4, 14.6, 30.9, -11.0, 586.6, 31.2)),
        ("KE-CF", "KE-CF", (18.1, 99.9, 97.0, 95.8, 59.2, 6.9, -63.2, 383.0, 24.5)),
        ("MEND", "MEND", (57.9, 99.1, 70.9, 65.4, 12.2, 37.9, -11.6, 624.2, 34.8)),
        ("MEND-CF", "MEND-CF", (14.9, 100.0, 99.2, 97.0, 65.6, 5.5, -69.9, 570.0, 33.2)),
        ("ROME", "ROME", (89.2, 100.0, 97.9, 96.4, 62.7, 75.4, 4.2, 621.9, 41.9))),
    ("table4", "EleutherAI/gpt-j-6B"): _cf(
        ("GPT-J", "none", (23.6, 16.3, -7.2, 18.6, -7.4, 83.0, 7.3, 621.8, 29.8)),
        ("FT", "FT", (25.5, 100.0, 99.9, 96.6, 71.0, 10.3, -50.7, 387.8, 24.6)),
        ("FT+L", "FT+L", (68.7, 99.6, 95.0, 47.9, 30.4, 78.6, 6.8, 622.8, 35.5)),
        ("MEND", "MEND", (63.2, 97.4, 71.5, 53.6, 11.0, 53.9, -6.0, 620.5, 32.6)),
        ("ROME", "ROME", (91.5, 99.9, 99.4, 99.1, 74.1, 78.9, 5.2, 620.1, 43.0))),
    ("table5", "gpt2-medium"): _cf(
        ("GPT-2 M", "none", (33.4, 25.0, -3.3, 27.4, -3.0, 74.9, 3.6, 625.8, 31.4)),
        ("FT+L", "FT+L", (68.0, 100.0, 94.9, 68.5, 6.1, 51.3, -1.7, 626.1, 39.3)),
        ("ROME", "ROME", (87.4, 100.0, 94.9, 96.4, 56.9, 71.8, 2.8, 625.0, 41.7))),
    ("table5", "gpt2-large"): _cf(
        ("GPT-2 L", "none", (32.8, 23.9, -4.0, 27.4, -3.5, 75.7, 4.3, 625.4, 31.8)),
        ("FT+L", "FT+L", (71.2, 100.0, 96.3, 63.0, 5.1, 61.5, 1.1, 625.2, 39.3)),
        ("ROME", "ROME", (88.2, 100.0, 98.2, 96.3, 60.4, 73.4, 3.5, 622.5, 41.9))),
    ("table6", "gpt2-medium"): _zs(
        ("GPT-2 M", "none", (18.8, 18.1, 21.3)), ("FT+L", "FT+L", (97.2, 59.4, 20.9)),
        ("ROME", "ROME", (96.6, 79.8, 21.3))),
    ("table6", "gpt2-large"): _zs(
        ("GPT-2 L", "none", (20.6, 19.8, 22.5)), ("FT+L", "FT+L", (98.3, 56.8, 22.4)),
        ("ROME", "ROME", (99.6, 84.7, 22.5))),
}

# Which model's published rows sit beside ours when our model is not a paper model.
ORIENTATION_MODEL = {"table1": "gpt2-xl", "table4": "gpt2-xl", "table5": "gpt2-medium", "table6": "gpt2-medium"}

PAPER_MODEL_ALIASES = {"gpt2-xl": "gpt2-xl", "openai-community/gpt2-xl": "gpt2-xl",
                       "gpt2-medium": "gpt2-medium", "openai-community/gpt2-medium": "gpt2-medium",
                       "gpt2-large": "gpt2-large", "openai-community/gpt2-large": "gpt2-large",
                       "eleutherai/gpt-j-6b": "EleutherAI/gpt-j-6B", "gpt-j-6b": "EleutherAI/gpt-j-6B"}

HUMAN_EVAL = {"consistency_rome_vs_ftl": 1.8, "fluency_ftl_vs_rome": 1.3}


def paper_model(name: str) -> str | None:
    """The paper model a model name stands for (case-insensitive; local folders by their last part)."""
    key = name.strip().rstrip("/").lower()
    if key in PAPER_MODEL_ALIASES:
        return PAPER_MODEL_ALIASES[key]
    tail = key.rsplit("/", 1)[-1]
    return PAPER_MODEL_ALIASES.get(tail)


def paper_rows(table: str, model: str) -> list[tuple[str, str, dict[str, float]]] | None:
    pm = paper_model(model)
    return PAPER_TABLES.get((table, pm)) if pm else None

# Mass / sequential editing beside `rome sequential`'s table (figures/<run>/sequential-table.*).
# Rows ``(label, method, n_edits, batch_size, values)``, ES/PS/NS in percent, GE x 100 as Table 4.
# - MEMIT on GPT-J with 10,000 COUNTERFACT edits (Meng et al., *Mass-Editing Memory in a
#   Transformer*, ICLR 2023, section 5.2, the 10,000-edit COUNTERFACT table): the edits go in as
#   ONE batch there, not a sequence, so the row is the mass-editing reference, not a sequential one.
# - AlphaEdit and MEMIT on GPT-J with 2,000 COUNTERFACT edits applied sequentially in batches of
#   100 (Fang et al., *AlphaEdit*, ICLR 2025, Table 1; its Eff./Gen./Spe./Flu. are the MEMIT
#   code's ES/PS/NS/GE). The AlphaEdit README gives no numbers and the paper's PDF could not be
#   opened here: the values were read from a third-party summary of a later paper (BLUE) that
#   reprints Table 1's GPT-J rows as its baselines, not from the PDF itself (docs/sequential.md).
MASS_EDITING_COLUMNS = ("ES", "PS", "NS")
MASS_EDITING: dict[str, list[tuple[str, str, int, int, dict[str, float]]]] = {
    "EleutherAI/gpt-j-6B": [
        ("MEMIT (GPT-J, 10,000 edits in one batch; Meng et al. 2023)", "memit", 10000, 10000,
         {"ES": 98.9, "PS": 88.6, "NS": 73.7}),
        ("MEMIT (GPT-J, 2,000 sequential edits; AlphaEdit Table 1)", "memit", 2000, 100,
         {"ES": 98.55, "PS": 95.50, "NS": 63.64, "GE": 546.28}),
        ("AlphaEdit (GPT-J, 2,000 sequential edits; Fang et al. 2025)", "alphaedit", 2000, 100,
         {"ES": 99.75, "PS": 96.38, "NS": 75.48, "GE": 618.50}),
    ],
}
MASS_EDITING_ORIENTATION = "EleutherAI/gpt-j-6B"


def mass_editing_rows(model: str) -> list[tuple[str, str, int, int, dict[str, float]]]:
    """The published mass-editing rows for ``model``; for a model without any, GPT-J's (for orientation)."""
    return MASS_EDITING.get(paper_model(model) or "", MASS_EDITING[MASS_EDITING_ORIENTATION])
