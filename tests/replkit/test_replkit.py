"""The shared helpers: --set parsing, option groups, table text, WikiText headings, sentences."""
from __future__ import annotations

import argparse

import pytest

from counterfact.corpus import split_sentences
from replkit.cli import add_model_options, add_progress_option, add_set_option, parse_overrides, parse_set_item
from replkit.sentences import sentencizer
from replkit.tables import Latex, csv_text, latex_escape, latex_row, latex_tabular, markdown_table
from replkit.wikitext import article_title, heading, is_heading


def test_set_values_are_yaml():
    assert parse_set_item("layer=5") == ("layer", 5)
    assert parse_set_item("v_lr=1e-3") == ("v_lr", 1e-3)
    assert parse_set_item("v_suffix_pass=false") == ("v_suffix_pass", False)
    assert parse_set_item("context_templates=[[5, 2]]") == ("context_templates", [[5, 2]])
    assert parse_set_item("mom2_tokens=null") == ("mom2_tokens", None)
    assert parse_set_item("token= last") == ("token", "last")
    assert parse_set_item("kl_prompts=[unclosed") == ("kl_prompts", "[unclosed")  # not YAML: the raw text
    assert parse_overrides(["layer=1", "layer=2", ("steps", 3)]) == {"layer": 2, "steps": 3}


@pytest.mark.parametrize("bad", ["layer", "=5", "two words=1"])
def test_set_rejects_malformed_items(bad):
    with pytest.raises(argparse.ArgumentTypeError, match="KEY=VALUE"):
        parse_set_item(bad)


def test_option_groups_parse_the_same_everywhere(capsys):
    p = argparse.ArgumentParser()
    add_model_options(p)
    add_progress_option(p)
    add_set_option(p)
    a = p.parse_args(["--dtype", "bfloat16", "--quiet", "--set", "layer=3", "--set", "v_steps=2"])
    assert (a.model, a.device, a.dtype, a.no_progress) == ("gemma-3-270m", "cpu", "bfloat16", True)
    assert parse_overrides(a.set) == {"layer": 3, "v_steps": 2}
    assert p.parse_args(["--no-progress"]).no_progress is True
    assert p.parse_args([]).no_progress is False
    with pytest.raises(SystemExit):
        p.parse_args(["--set", "nonsense"])
    assert "KEY=VALUE" in capsys.readouterr().err


def test_latex_escape_every_special_character_once():
    assert latex_escape(r"a\b") == r"a\textbackslash{}b"  # its braces are not escaped again
    assert latex_escape("$5 & 10% #1 x_y {z} ~ ^") == (
        r"\$5 \& 10\% \#1 x\_y \{z\} \textasciitilde{} \textasciicircum{}")
    assert latex_row(["FT+L_1", Latex(r"\cellcolor{red!25}1.0")]) == r"FT+L\_1 & \cellcolor{red!25}1.0 \\"
    lines = latex_tabular(["", "a&b"], [["x", "1"]])
    assert lines[0] == r"\begin{tabular}{lr}" and r" & a\&b \\" in lines


def test_markdown_and_csv():
    assert markdown_table(["a", "b|c"], [["1", "2"]], align="lr") == "| a | b\\|c |\n|:---|---:|\n| 1 | 2 |\n"
    assert csv_text([["a", "b,c"], [1, None]]) == 'a,"b,c"\n1,\n'


def test_wikitext_headings():
    assert heading(" = Valkyria Chronicles III = \n") == (1, "Valkyria Chronicles III")
    assert heading(" = = Gameplay = = ") == (2, "Gameplay")
    assert heading(" = = = Plot = = = ") == (3, "Plot")
    assert article_title(" = = Gameplay = = ") is None
    assert article_title(" = 1 + 1 = 2 = ") == "1 + 1 = 2"
    for line in ["", "plain text", " = = unbalanced = ", "x = y ="]:
        assert not is_heading(line)


def test_one_sentencizer_for_the_corpus_and_the_fluency_metric():
    from rome.evaluation.fluency import sentences

    text = "Dr. Smith moved to the U.S. in 1990. He liked it! Did he stay?"
    expected = ["Dr. Smith moved to the U.S. in 1990.", "He liked it!", "Did he stay?"]
    assert [s.text for s in sentencizer()(text).sents] == expected   # abbreviations stay inside
    assert sentences(text, "spacy") == expected                          # GE's earlier splitter (a setting)
    assert split_sentences([text, "Another paragraph ends here."]) == expected + ["Another paragraph ends here."]
    assert sentencizer() is sentencizer()                                # built once
