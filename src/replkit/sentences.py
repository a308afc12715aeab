"""The one sentence splitter: spaCy's rule-based ``sentencizer`` on a blank English pipeline.

Packaged with spaCy (no model download). ``counterfact`` splits WikiText paragraphs into the
sentences that prefix paraphrase prompts with it; ``rome.evaluation.fluency`` splits generated
text before word tokenization.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def sentencizer() -> Any:
    """The pipeline (built once; ``nlp(text).sents`` / ``nlp.pipe(texts)``)."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp
