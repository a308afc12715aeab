import pytest

from rome.model.tokens import (
    SubjectNotFoundError,
    encode_text_with_subject,
    encode_with_subject,
    token_categories,
)

CASES = [
    # (template, subject) — the decoded subject tokens must spell the subject
    ("{} is located in the city of", "The Eiffel Tower"),  # start of prompt
    ("The mother tongue of {} is", "Danielle Darrieux"),
    ("{} plays the sport of", "LeBron James"),
    ("The The {} is", "The The"),  # subject identical to surrounding words
    ("{}'s capital is", "France"),  # possessive right after the subject
    ("The capital of {}'s neighbour is", "Côte d'Ivoire"),  # accents and apostrophe
    ("{} was born in", "Antonín Dvořák"),  # accents
    ("In {}, the language spoken is", "São Paulo"),
    ("{} and {} again".replace("{} again", "Paris again"), "Paris"),  # subject repeats later
    ("Toyota makes {}", "Toyota Corolla"),  # subject shares its first word with the prefix
    ("{}", "Ab"),  # the subject is the whole prompt
    ("The headquarters of {} are in", "AT&T"),
]


def _check(tok, template, subject, prefix=""):
    enc = encode_with_subject(tok, template, subject, prefix=prefix)
    pieces = tok.decode(enc.input_ids[enc.subject_start: enc.subject_end])
    assert pieces.strip() == subject, (template, subject, pieces)
    # nothing outside the span belongs to the subject's characters
    before = tok.decode(enc.input_ids[: enc.subject_start], skip_special_tokens=True)
    assert before.strip() == (prefix + template[: template.index("{}")]).strip()
    return enc


@pytest.mark.parametrize("template,subject", CASES)
def test_gpt2_subject_spans(gpt2_tok, template, subject):
    _check(gpt2_tok, template, subject)


@pytest.mark.gemma
@pytest.mark.parametrize("template,subject", CASES)
def test_gemma_subject_spans(gemma_tok, template, subject):
    enc = _check(gemma_tok, template, subject)
    assert enc.input_ids[0] == gemma_tok.bos_token_id  # BOS is there and is not the subject
    assert enc.subject_start >= 1


def test_subject_in_prefix_is_not_confused(gpt2_tok, bos_tok):
    for tok in (gpt2_tok, bos_tok):
        enc = _check(tok, "{} is in", "Paris", prefix="Paris is lovely. ")
        assert enc.subject_start > 2


def test_repeated_subject_in_text_takes_requested_occurrence(gpt2_tok):
    first = encode_text_with_subject(gpt2_tok, "Paris, Paris is in", "Paris", occurrence=0)
    last = encode_text_with_subject(gpt2_tok, "Paris, Paris is in", "Paris", occurrence=-1)
    assert first.subject_start == 0 and last.subject_start == 2


def test_absent_subject_and_bad_template(gpt2_tok):
    with pytest.raises(SubjectNotFoundError, match="does not occur"):
        encode_text_with_subject(gpt2_tok, "The capital of France is", "Germany")
    with pytest.raises(SubjectNotFoundError, match="exactly once"):
        encode_with_subject(gpt2_tok, "The capital of France is", "France")
    with pytest.raises(SubjectNotFoundError, match="empty"):
        encode_with_subject(gpt2_tok, "{} is", "  ")


@pytest.mark.gemma
def test_token_categories(gemma_tok):
    enc = encode_with_subject(gemma_tok, "The {} is located in the city of", "Space Needle of Seattle")
    cats = token_categories(enc)
    assert cats[0] == "before" and cats[-1] == "last"
    assert cats[enc.subject_start] == "first_subject"
    assert cats[enc.subject_end - 1] == "last_subject"
    assert cats[enc.subject_end] == "first_subsequent"
    assert set(cats[enc.subject_start + 1: enc.subject_end - 1]) == {"middle_subject"}
    assert "further" in cats
