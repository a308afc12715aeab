"""Token positions of a subject inside a prompt, from the tokenizer's character offsets.

The subject's character span is known exactly from the template (where ``{}`` is), so a
subject that also occurs elsewhere in the prompt is never confused with itself. Tokens
whose character range overlaps the subject's are the subject tokens; special tokens
(BOS) have empty ranges and never count. This is right for byte-level BPE (GPT-2, whose
tokens carry their leading space), SentencePiece (Gemma, Llama) and any tokenizer that
reports offsets; slow tokenizers without offsets fall back to decoding prefixes.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from counterfact.errors import BadInputError


class SubjectNotFoundError(BadInputError, ValueError):
    """The subject does not occur in the prompt (or the template has no ``{}``)."""


@dataclass(frozen=True)
class Encoded:
    """A tokenized prompt with the subject's token span ``[start, end)``."""

    text: str
    input_ids: list[int]
    subject_start: int
    subject_end: int

    @property
    def last_subject(self) -> int:
        return self.subject_end - 1

    @property
    def subject_positions(self) -> list[int]:
        return list(range(self.subject_start, self.subject_end))

    def __len__(self) -> int:
        return len(self.input_ids)


def fill_template(template: str, subject: str) -> tuple[str, int, int]:
    """Fill ``{}`` with ``subject``; return the text and the subject's character span."""
    if template.count("{}") != 1:
        raise SubjectNotFoundError(
            f"prompt template must contain '{{}}' exactly once, got {template!r}"
        )
    start = template.index("{}")
    text = template[:start] + subject + template[start + 2:]
    return text, start, start + len(subject)


def char_span_of(text: str, subject: str, occurrence: int = -1) -> tuple[int, int]:
    """Character span of ``subject`` in ``text`` (``occurrence``: 0 first, -1 last)."""
    if not subject:
        raise SubjectNotFoundError("the subject is empty")
    starts = []
    i = text.find(subject)
    while i >= 0:
        starts.append(i)
        i = text.find(subject, i + 1)
    if not starts:
        raise SubjectNotFoundError(f"subject {subject!r} does not occur in prompt {text!r}")
    s = starts[occurrence]
    return s, s + len(subject)


def _offsets(tokenizer, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    if getattr(tokenizer, "is_fast", False):
        enc = tokenizer(text, return_offsets_mapping=True, add_special_tokens=True)
        return list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]
    ids = list(tokenizer(text, add_special_tokens=True)["input_ids"])
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    offsets, prev = [], 0
    for i, tok_id in enumerate(ids):
        if tok_id in special:
            offsets.append((prev, prev))
            continue
        end = len(tokenizer.decode([t for t in ids[: i + 1] if t not in special]))
        offsets.append((prev, end))
        prev = end
    return ids, offsets


def token_span(tokenizer, text: str, char_start: int, char_end: int) -> tuple[list[int], int, int]:
    """Token ids of ``text`` and the token span ``[start, end)`` covering the characters."""
    ids, offsets = _offsets(tokenizer, text)
    hit = [i for i, (s, e) in enumerate(offsets) if e > s and s < char_end and e > char_start]
    if not hit:
        raise SubjectNotFoundError(
            f"no token of {text!r} covers characters {char_start}-{char_end} "
            f"({text[char_start:char_end]!r})"
        )
    return ids, hit[0], hit[-1] + 1


def encode_with_subject(tokenizer, template: str, subject: str, prefix: str = "") -> Encoded:
    """Tokenize ``prefix + template.format(subject)`` and locate the subject's tokens.

    ``template`` contains ``{}`` once; a ``prefix`` (e.g. a ROME context text) may contain
    the subject too without confusing the search.
    """
    if not subject or not subject.strip():
        raise SubjectNotFoundError("the subject is empty")
    text, s, e = fill_template(template, subject)
    text = prefix + text
    ids, start, end = token_span(tokenizer, text, s + len(prefix), e + len(prefix))
    return Encoded(text, ids, start, end)


def encode_text_with_subject(tokenizer, text: str, subject: str, occurrence: int = -1) -> Encoded:
    """Tokenize a finished ``text`` and locate ``subject`` (its last occurrence by default)."""
    s, e = char_span_of(text, subject, occurrence)
    ids, start, end = token_span(tokenizer, text, s, e)
    return Encoded(text, ids, start, end)


class TargetTokenError(ValueError):
    """A target that tokenizes to nothing (empty or blank)."""


def target_text(target: str) -> str:
    """The text a target is scored or trained as: exactly one leading space before it."""
    return " " + target.lstrip()


def target_token_ids(tokenizer, target: str) -> list[int]:
    """Token ids of a target continuation (an edit's new object, an answer to score).

    The only way a target becomes token ids in this package. One rule, as in the official
    code: one leading space before the target (``rome_main.execute_rome`` prefixes ``" "``
    to the new object; ``eval_utils_counterfact`` and ``eval_utils_zsre`` tokenize
    ``" " + target``), no special tokens (a BOS inside a continuation would be wrong for
    tokenizers that add one, e.g. Gemma's). ``"Paris"``, ``" Paris"`` and ``"  Paris"``
    all give the ids of ``" Paris"``.
    """
    if not isinstance(target, str) or not target.strip():
        raise TargetTokenError(f"target {target!r} is empty")
    ids = list(tokenizer(target_text(target), add_special_tokens=False)["input_ids"])
    if not ids:
        raise TargetTokenError(f"target {target!r} tokenizes to nothing")
    return ids


def token_categories(enc: Encoded) -> list[str]:
    """The six token categories of the paper (paper section 2) for each position of ``enc``.

    first_subject, middle_subject, last_subject, first_subsequent, further, last;
    positions before the subject (e.g. BOS, "The") are "before". The last token wins
    over every other category, as in the paper's grouping.
    """
    cats = []
    n = len(enc)
    for i in range(n):
        if i == n - 1:
            cats.append("last")
        elif i < enc.subject_start:
            cats.append("before")
        elif i == enc.subject_end - 1:
            cats.append("last_subject")
        elif i == enc.subject_start:
            cats.append("first_subject")
        elif i < enc.subject_end:
            cats.append("middle_subject")
        elif i == enc.subject_end:
            cats.append("first_subsequent")
        else:
            cats.append("further")
    return cats


TOKEN_CATEGORIES: Sequence[str] = (
    "first_subject", "middle_subject", "last_subject", "first_subsequent", "further", "last",
)


class ContextLengthError(BadInputError, ValueError):
    """A text with more tokens than the model's context (it would otherwise fail deep in the
    position embedding with an ``IndexError``)."""


def check_fits_context(lm, text: str, where: str, field_name: str = "prompt",
                       error: type[ContextLengthError] = ContextLengthError) -> None:
    """Refuse ``text`` when it has more tokens than ``lm`` supports, naming ``where`` (the
    file and record), the field, the length and the limit."""
    limit = getattr(lm, "context_length", None)
    tokenizer = getattr(lm, "tokenizer", None)
    if not limit or tokenizer is None:
        return
    n = len(tokenizer(text)["input_ids"])
    if n > limit:
        raise error(f"{where}: field {field_name}: {n} tokens, longer than the model's context of {limit} tokens")

