"""Reference score RS (consistency, the paper's metric definitions, section 3.4).

TF-IDF cosine similarity between all generated texts of a record joined and all
reference texts about subjects that truly have ``(relation, target_new)`` joined. The
reference texts and the fitted TF-IDF model (vocabulary + IDF) are plain files written
by the dataset package (:mod:`counterfact.reference_texts`); a record without any
reference text has RS ``None`` (missing, counted separately), never 0.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class ReferenceModel:
    """Reference texts keyed by ``"<relation>\\t<object>"`` plus a TF-IDF model."""

    references: dict[str, list]
    vocab: Any
    idf: Any
    source: str = ""

    @classmethod
    def load(cls, directory: str | os.PathLike) -> ReferenceModel:
        """From a folder holding ``reference_texts.json``, ``tfidf_vocab.json``, ``tfidf_idf.npz``."""
        from counterfact.reference_texts import load_reference_texts, load_tfidf

        d = Path(directory)
        missing = [n for n in ("reference_texts.json", "tfidf_vocab.json", "tfidf_idf.npz") if not (d / n).is_file()]
        if missing:
            raise FileNotFoundError(
                f"reference-text folder {d} lacks {', '.join(missing)} (build it with the counterfact package)")
        vocab, idf = load_tfidf(d)
        return cls(references=load_reference_texts(d / "reference_texts.json"),
                   vocab={t: i for i, t in enumerate(vocab)}, idf=idf, source=str(d))

    def score(self, texts: Sequence[str], relation_id: str | None, target_new: str) -> float | None:
        if relation_id is None:
            return None
        from counterfact.reference_texts import reference_score

        return reference_score(list(texts), self.references, relation_id, target_new, self.vocab, self.idf)


def tfidf_similarity(text_a: str, text_b: str, vocab, idf) -> float:
    """TF-IDF cosine of two texts (the dataset package's definition)."""
    from counterfact.reference_texts import tfidf_cosine

    return tfidf_cosine(text_a, text_b, vocab, idf)
