"""Helpers and synthetic data for the COUNTERFACT tests (imported by conftest and tests)."""
from __future__ import annotations

import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def shared_data() -> Path:
    return Path(os.environ.get("ROME_SHARED_DATA", REPO.parent / "shared" / "data"))


def write_jsonl(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# P1: "language"; objects: French ×6, English ×4, German ×2, Latin ×1 (singleton);
# one ambiguous subject (two objects), one duplicate line.
P1_FACTS = ([(f"Fr{i}", "French") for i in range(6)] + [(f"En{i}", "English") for i in range(4)]
            + [("De0", "German"), ("De1", "German"), ("La0", "Latin"), ("Amb", "French"), ("Amb", "English"),
               ("Fr0", "French")])
P1_PATTERNS = ["The language of [X] is [Y].", "[X] speaks [Y] .", "[Y] is spoken by [X].",
               "[X] is a native speaker of [Y]", "In [X]'s home, people speak [Y]."]
# P2: only one object: no counterfactual possible.
P2_FACTS = [(f"Only{i}", "Mono") for i in range(3)]
P2_PATTERNS = ["[X] belongs to [Y].", "[X] is part of [Y].", "[X], part of [Y]."]

CORPUS = """
 = First Article =

 The quick brown fox jumps over the lazy dog near the river bank . It was a sunny day in the old town .
 Many people came to see the parade , which lasted for three hours . The mayor gave a short speech .

 = = Section = =

 Scientists studied the rocks for many years before publishing results . The results were surprising to all .
 = Second Article =

 Fr0 is a small village with a long history of wine making . Its people mostly speak French at home .
"""


def make_pararel(root: Path, extra_relations: dict | None = None) -> Path:
    write_jsonl(root / "facts" / "P1.jsonl", [{"sub_label": s, "obj_label": o, "uuid": f"u{i}"}
                                              for i, (s, o) in enumerate(P1_FACTS)])
    write_jsonl(root / "patterns" / "P1.jsonl", [{"pattern": p, "lemma": "x", "tense": "present"} for p in P1_PATTERNS])
    write_jsonl(root / "facts" / "P2.jsonl", [{"sub_label": s, "obj_label": o, "uuid": f"v{i}"}
                                              for i, (s, o) in enumerate(P2_FACTS)])
    write_jsonl(root / "patterns" / "P2.jsonl", [{"pattern": p} for p in P2_PATTERNS])
    for rel, (facts, patterns) in (extra_relations or {}).items():
        write_jsonl(root / "facts" / f"{rel}.jsonl", [{"sub_label": s, "obj_label": o, "uuid": "x"} for s, o in facts])
        write_jsonl(root / "patterns" / f"{rel}.jsonl", [{"pattern": p} for p in patterns])
    return root


TEMPLATE_RESOURCES = {
    "P1": {"rewrites": ["{} grew up speaking", "The mother tongue of {} is", "{}, a speaker of"],
           "generation": ["{}'s favourite language is", "Where {} lives, people speak"]},
    "P2": {"rewrites": [], "generation": ["{} is"]},
}


def good_record(case_id: int = 0, subject: str = "Danielle Darrieux") -> dict:
    from counterfact.schema import make_record

    return make_record(
        case_id, 7, "The mother tongue of {} is", "P103", subject, "English", "French",
        [f"Some sentence. {subject} speaks", f"Another one. {subject}, a native speaker of"],
        [f"The mother tongue of Person{i} is" for i in range(10)],
        [f"Speaker{i} grew up speaking" for i in range(10)],
        [f"{subject}'s mother tongue is"] * 10,
    )
