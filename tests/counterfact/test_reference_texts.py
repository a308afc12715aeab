import math

import numpy as np
from counterfact_testdata import good_record

from counterfact.reference_texts import (
    build_reference_texts,
    collect_reference_texts,
    fit_tfidf,
    load_tfidf,
    reference_score,
    subjects_by_target,
    tfidf_cosine,
    wikitext_articles,
)

WIKI = """
 = Alpha Town =

 Alpha Town is a town where people speak English . It has a market .

 = = History = =

 The town was founded long ago .

 = Beta City =

 Beta City hosts a festival . Alpha Town sends visitors every year .
"""


def test_tfidf_cosine_identical_and_disjoint():
    vocab, idf = fit_tfidf(["apples and pears", "pears and plums", "dogs bark loudly"])
    assert math.isclose(tfidf_cosine("apples and pears", "apples and pears", vocab, idf), 1.0)
    assert tfidf_cosine("apples pears", "dogs bark", vocab, idf) == 0.0
    mid = tfidf_cosine("apples and pears", "pears and plums", vocab, idf)
    assert 0.0 < mid < 1.0
    assert tfidf_cosine("unknown words", "apples", vocab, idf) == 0.0


def test_idf_is_smoothed():
    vocab, idf = fit_tfidf(["aa bb", "aa cc"])
    assert vocab == ["aa", "bb", "cc"]
    assert np.allclose(idf, [math.log(3 / 3) + 1, math.log(3 / 2) + 1, math.log(3 / 2) + 1])


def test_wikitext_articles_and_matching(tmp_path):
    p = tmp_path / "w.raw"
    p.write_text(WIKI, encoding="utf-8")
    arts = wikitext_articles(p)
    assert [t for t, _ in arts] == ["Alpha Town", "Beta City"]
    assert arts[0][1] == ["Alpha Town is a town where people speak English. It has a market.",
                          "The town was founded long ago."]
    subj = subjects_by_target([("P37", "Alpha Town", "English"), ("P37", "Gamma", "English"), ("P37", "Delta", "Dutch")])
    refs = collect_reference_texts(subj, arts, "title")
    assert list(refs) == ["P37\tEnglish"] and refs["P37\tEnglish"][0]["title"] == "Alpha Town"
    refs2 = collect_reference_texts(subj, arts, "title+mention")
    assert [r["title"] for r in refs2["P37\tEnglish"]] == ["Alpha Town", "Beta City"]


def test_build_files_coverage_and_missing_rs(tmp_path):
    p = tmp_path / "w.raw"
    p.write_text(WIKI, encoding="utf-8")
    covered = good_record(0, "Alpha Town")
    covered["requested_rewrite"]["target_true"]["str"] = "English"
    covered["requested_rewrite"]["target_new"]["str"] = "French"
    other = good_record(1, "Somebody")  # French -> English: English has text (Alpha Town)
    uncovered = good_record(2, "Nobody")
    uncovered["requested_rewrite"]["target_new"]["str"] = "Klingon"
    report = build_reference_texts([covered, other, uncovered], p, tmp_path / "out")
    assert report["covered_target_new"] == 1 and report["coverage_target_new"] == round(1 / 3, 4)
    vocab, idf = load_tfidf(tmp_path / "out")
    assert "festival" in vocab and len(vocab) == len(idf)
    from counterfact.reference_texts import load_reference_texts

    refs = load_reference_texts(tmp_path / "out" / "reference_texts.json")
    assert reference_score(["Klingon words"], refs, "P103", "Klingon", vocab, idf) is None
    rs = reference_score(["people speak English in the town"], refs, "P103", "English", vocab, idf)
    assert rs is not None and 0.0 < rs <= 1.0


def test_default_match_is_title_plus_mention(tmp_path):
    """A subject that is only mentioned (no article of its own) is covered by the default rule
    and not by ``title``, the paper's rule."""
    p = tmp_path / "w.raw"
    p.write_text(WIKI, encoding="utf-8")
    mentioned = good_record(0, "market")  # no article titled "market"; "It has a market." in Alpha Town
    mentioned["requested_rewrite"]["target_true"]["str"] = "Trade"
    editing = good_record(1, "Somebody")
    editing["requested_rewrite"]["target_new"]["str"] = "Trade"
    records = [mentioned, editing]
    default = build_reference_texts(records, p, tmp_path / "default")
    assert default["match"] == "title+mention" and default["covered_target_new"] == 1
    title = build_reference_texts(records, p, tmp_path / "title", match="title")
    assert title["match"] == "title" and title["covered_target_new"] == 0 and title["targets_with_text"] == 0
