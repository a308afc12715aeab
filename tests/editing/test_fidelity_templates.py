"""Context templates as the official code makes them (rome_main.get_context_templates with
util/generate.generate_fast): the length setting counts the start token, so lengths 5
and 10 give 4 and 9 sampled tokens, and the decoded text keeps its leading space.
The ``new_tokens`` setting keeps this package's earlier reading (5 and 10 new tokens,
stripped)."""
from __future__ import annotations

import json

import pytest

from rome.editing.context_templates import clean_text, context_templates, new_token_count, sample_ids, templates_file
from rome.editing.hparams import load_hparams


def test_lengths_count_the_start_token():
    assert [new_token_count(n, "official") for n in (5, 10)] == [4, 9]
    assert [new_token_count(n, "new_tokens") for n in (5, 10)] == [5, 10]
    with pytest.raises(ValueError, match="no token"):
        new_token_count(1, "official")
    with pytest.raises(ValueError, match="context_template_mode"):
        new_token_count(5, "paper")


@pytest.mark.parametrize("length,mode,expected", [(5, "official", 4), (10, "official", 9),
                                                  (5, "new_tokens", 5), (10, "new_tokens", 10)])
def test_sampled_token_counts_on_a_tiny_model(tiny_gpt2, length, mode, expected):
    ids = sample_ids(tiny_gpt2, new_token_count(length, mode), 3, 5, seed=0, stop_at_eos=(mode == "new_tokens"))
    assert [len(row) for row in ids] == [expected] * 3


def test_leading_space_is_kept_in_official_mode(gpt2_tok):
    ids = gpt2_tok(" The city of Paris", add_special_tokens=False)["input_ids"]
    text = gpt2_tok.decode(ids)
    assert text == " The city of Paris"
    assert clean_text(text, "official") + ". {}" == " The city of Paris. {}"
    assert clean_text(text, "new_tokens") + ". {}" == "The city of Paris. {}"


def test_official_text_handling():
    # "\n\n" -> " ", a single newline stays, NFKD (the ligature "ﬁ" becomes "fi"), braces dropped
    assert clean_text(" a\n\nb\nc", "official") == " a b\nc"
    assert clean_text(" \ufb01ne {x}", "official") == " fine x"
    assert clean_text(" a {x}\n", "new_tokens") == "a  x"


def test_end_of_text_token_is_dropped_from_the_text(gpt2_tok):
    eos = gpt2_tok.eos_token_id
    ids = gpt2_tok(" Hello", add_special_tokens=False)["input_ids"] + [eos] + gpt2_tok(" world", add_special_tokens=False)["input_ids"]
    assert clean_text(gpt2_tok.decode(ids, skip_special_tokens=True), "official") == " Hello world"


def test_templates_default_is_official_and_cache_key_has_the_mode(tiny_gpt2, tmp_path):
    assert load_hparams("rome", "gpt2-xl")["context_template_mode"] == "official"
    assert templates_file(tiny_gpt2, [[5, 2]], 5, 0, tmp_path, "official") != \
        templates_file(tiny_gpt2, [[5, 2]], 5, 0, tmp_path, "new_tokens")
    off = context_templates(tiny_gpt2, [[5, 2]], 5, seed=1, cache_dir=tmp_path)
    new = context_templates(tiny_gpt2, [[5, 2]], 5, seed=1, cache_dir=tmp_path, mode="new_tokens")
    assert off[0] == new[0] == "{}" and len(off) == len(new) == 3
    assert all(t.endswith(". {}") and t.count("{}") == 1 for t in off[1:] + new[1:])
    assert all(t[:-4] == t[:-4].strip() for t in new[1:])  # stripped text
    assert len(list(tmp_path.glob("*.json"))) == 2


def test_templates_of_another_sampler_are_not_reused(tiny_gpt2, tmp_path, monkeypatch):
    """Another sampling implementation draws other texts from the same seed: its templates
    live in another file, so a cached file of the earlier sampler is never read back."""
    from rome.model import generation
    first = context_templates(tiny_gpt2, [[5, 2]], 5, seed=1, cache_dir=tmp_path)
    path = templates_file(tiny_gpt2, [[5, 2]], 5, 1, tmp_path)
    doc = json.loads(path.read_text())
    doc["templates"][1] = "stale text. {}"
    path.write_text(json.dumps(doc))
    assert context_templates(tiny_gpt2, [[5, 2]], 5, seed=1, cache_dir=tmp_path)[1] == "stale text. {}"
    monkeypatch.setattr(generation, "SAMPLER_VERSION", "another-sampler")
    assert templates_file(tiny_gpt2, [[5, 2]], 5, 1, tmp_path) != path
    again = context_templates(tiny_gpt2, [[5, 2]], 5, seed=1, cache_dir=tmp_path)
    assert again == first  # sampled anew (the seeded draw of this sampler), not the edited file
    assert len(list(tmp_path.glob("*.json"))) == 2
