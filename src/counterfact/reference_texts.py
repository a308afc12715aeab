"""Reference texts for the reference score RS (the paper's consistency metric) and the TF-IDF model it uses.

For each (relation, object) the reference texts are texts about subjects that truly have
that object. Sources:

* a local corpus in WikiText format (:func:`wikitext_articles`): articles start with a
  line `` = Title = `` (single ``=``), sections are `` = = ... = = ``. Two match rules:

  - ``match="title"`` takes an article when its title equals a subject. This is the
    paper's rule (the Wikipedia articles of the subjects) and the one to use with a
    Wikipedia corpus.
  - ``match="title+mention"`` (default, :data:`DEFAULT_MATCH`) also takes paragraphs of
    any article that name the subject (at word boundaries). It is looser (a paragraph
    naming "France" is not necessarily about France), but on the offline WikiText-2 it
    is the only rule with any coverage: none of its 62 article titles is a ParaRel
    subject, so ``title`` covers 0% of the records there;
* with network, Wikipedia through ``datasets`` (:func:`wikipedia_articles`, an explicit
  step; nothing is downloaded at import).

The TF-IDF model (lower-cased word tokens of 2+ word characters; raw counts × smoothed
IDF ``ln((1 + n) / (1 + df)) + 1``; L2-normalised vectors) is fitted on all articles of the
corpus and saved as plain files: the vocabulary as a JSON list (index = position) and the
IDF as an ``.npz`` array. No pickles.

Records whose ``(relation, target_new)`` has no reference text have RS = ``None``
(missing), never 0: :func:`reference_score` returns ``None`` for them.
"""
from __future__ import annotations

import io
import json
import math
import os
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from atomicio import atomic_save_npz, atomic_write_json, load_npz
from replkit.wikitext import article_title, is_heading

from .corpus import detokenize
from .errors import CorpusError, DataError

_TOKEN = re.compile(r"(?u)\b\w\w+\b")


MATCH_RULES = ("title", "title+mention")
DEFAULT_MATCH = "title+mention"


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def target_key(relation_id: str, obj: str) -> str:
    return f"{relation_id}\t{obj}"


# -- corpus -----------------------------------------------------------------------------

def wikitext_articles(path: str | os.PathLike) -> list[tuple[str, list[str]]]:
    """``[(title, [paragraph, ...]), ...]`` of a WikiText raw file, detokenised, in file order."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"reference text corpus not found: {path} (config key paths.corpus)")
    articles: list[tuple[str, list[str]]] = []
    from atomicio import read_utf8

    for raw in io.StringIO(read_utf8(path), newline=None):  # as open() iterates (universal newlines)
        line = raw.strip()
        title = article_title(line)
        if title is not None:
            articles.append((detokenize(title), []))
            continue
        if not line or is_heading(line) or not articles:
            continue
        articles[-1][1].append(detokenize(line))
    if not articles:
        raise CorpusError(f"no articles (' = Title = ' lines) in {path}")
    return articles


def wikipedia_articles(titles, dataset: str = "wikimedia/wikipedia", config: str = "20231101.en",
                       max_scan: int | None = None, progress: bool = True) -> list[tuple[str, list[str]]]:
    """Articles with the given titles from Wikipedia via ``datasets`` (streaming; needs network).

    An explicit download step: call it from the CLI/workflow, never at import.
    """
    from datasets import load_dataset  # imported here on purpose

    wanted = set(titles)
    ds = load_dataset(dataset, config, split="train", streaming=True)
    out = []
    it = ds
    if progress:
        from tqdm import tqdm

        it = tqdm(ds, desc="wikipedia scan", unit="article")
    for i, row in enumerate(it):
        if max_scan is not None and i >= max_scan:
            break
        if row["title"] in wanted:
            out.append((row["title"], [p for p in row["text"].split("\n") if p.strip()]))
            wanted.discard(row["title"])
            if not wanted:
                break
    return out


def subjects_by_target(triples) -> dict[str, list[str]]:
    """``{"<relation>\\t<object>": sorted subjects}`` from (relation, subject, object) triples."""
    out = defaultdict(set)
    for rel, subj, obj in triples:
        out[target_key(rel, obj)].add(subj)
    return {k: sorted(v) for k, v in sorted(out.items())}


def triples_from_records(records: list[dict]):
    for r in records:
        rw = r["requested_rewrite"]
        yield rw["relation_id"], rw["subject"], rw["target_true"]["str"]


def collect_reference_texts(subjects_of: dict[str, list[str]], articles,
                            match: str = DEFAULT_MATCH) -> dict[str, list[dict]]:
    """``{target key: [{"subject", "title", "text"}, ...]}`` for keys with at least one text.

    ``match``: ``"title+mention"`` (default) or ``"title"`` (the paper's rule), see the module
    docstring.
    """
    if match not in MATCH_RULES:
        raise ValueError(f"match must be 'title' or 'title+mention', got {match!r}")
    by_title: dict[str, list[str]] = {}
    for title, paras in articles:
        by_title.setdefault(title, paras)
    mention_index = None
    postings: dict[str, set] = defaultdict(set)
    if match == "title+mention":
        mention_index = [(title, p) for title, paras in articles for p in paras]
        for j, (_, p) in enumerate(mention_index):
            for tok in set(tokenize(p)):
                postings[tok].add(j)
    cache: dict[str, list[dict]] = {}

    def texts_for(subject: str) -> list[dict]:
        if subject in cache:
            return cache[subject]
        found = []
        if subject in by_title:
            found.append({"subject": subject, "title": subject, "text": " ".join(by_title[subject])})
        if mention_index is not None:
            toks = set(tokenize(subject))
            cand = set.intersection(*(postings.get(t, set()) for t in toks)) if toks else set()
            pat = re.compile(r"(?<!\w)" + re.escape(subject) + r"(?!\w)")
            for j in sorted(cand):
                title, p = mention_index[j]
                if title != subject and pat.search(p):
                    found.append({"subject": subject, "title": title, "text": p})
        cache[subject] = found
        return found

    out = {}
    for key, subjects in subjects_of.items():
        texts = [t for s in subjects for t in texts_for(s)]
        if texts:
            out[key] = texts
    return out


def coverage(records: list[dict], references: dict[str, list]) -> dict:
    """Share of records whose (relation, target_new) has reference text (also for target_true)."""
    n = len(records)
    new = sum(1 for r in records if references.get(target_key(r["requested_rewrite"]["relation_id"],
                                                              r["requested_rewrite"]["target_new"]["str"])))
    true = sum(1 for r in records if references.get(target_key(r["requested_rewrite"]["relation_id"],
                                                               r["requested_rewrite"]["target_true"]["str"])))
    return {"records": n, "covered_target_new": new, "coverage_target_new": round(new / n, 4) if n else 0.0,
            "covered_target_true": true, "coverage_target_true": round(true / n, 4) if n else 0.0,
            "targets_with_text": len(references)}


# -- TF-IDF -----------------------------------------------------------------------------

def fit_tfidf(documents: list[str], min_df: int = 1) -> tuple[list[str], np.ndarray]:
    """``(vocabulary, idf)``: sorted terms with document frequency ≥ ``min_df``, and their IDF."""
    df: Counter[str] = Counter()
    for doc in documents:
        df.update(set(tokenize(doc)))
    vocab = sorted(t for t, c in df.items() if c >= min_df)
    n = len(documents)
    idf = np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in vocab], dtype=np.float64)
    return vocab, idf


def _as_index(vocab) -> dict[str, int]:
    return vocab if isinstance(vocab, dict) else {t: i for i, t in enumerate(vocab)}


def tfidf_vector(text: str, vocab, idf: np.ndarray) -> np.ndarray:
    index = _as_index(vocab)
    vec = np.zeros(len(index), dtype=np.float64)
    for tok, c in Counter(tokenize(text)).items():
        j = index.get(tok)
        if j is not None:
            vec[j] = c * idf[j]
    norm = np.linalg.norm(vec)
    return vec / norm if norm > 0 else vec


def tfidf_cosine(text_a: str, text_b: str, vocab, idf) -> float:
    """Cosine similarity of the TF-IDF vectors of two texts (0.0 when either has no known word).

    ``vocab``: list of terms (index = position) or ``{term: index}``; ``idf``: array aligned with it.
    """
    idf = np.asarray(idf, dtype=np.float64)
    a, b = tfidf_vector(text_a, vocab, idf), tfidf_vector(text_b, vocab, idf)
    return float(np.clip(a @ b, 0.0, 1.0))


def reference_score(generated_texts: list[str], references: dict[str, list], relation_id: str, target_new: str,
                    vocab, idf) -> float | None:
    """RS of one record: TF-IDF cosine of all generated texts joined vs all reference texts of
    (relation, target_new) joined; ``None`` when there is no reference text (missing, not 0)."""
    texts = references.get(target_key(relation_id, target_new))
    if not texts:
        return None
    ref = " ".join(t["text"] if isinstance(t, dict) else t for t in texts)
    return tfidf_cosine(" ".join(generated_texts), ref, vocab, idf)


def save_tfidf(out_dir: str | os.PathLike, vocab: list[str], idf: np.ndarray) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    return (atomic_write_json(out_dir / "tfidf_vocab.json", list(vocab), indent=None),
            atomic_save_npz(out_dir / "tfidf_idf.npz", {"idf": np.asarray(idf, dtype=np.float64)}))


def load_tfidf(out_dir: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    out_dir = Path(out_dir)
    with open(out_dir / "tfidf_vocab.json", encoding="utf-8") as fh:
        vocab = json.load(fh)
    idf = load_npz(out_dir / "tfidf_idf.npz")["idf"]
    if len(vocab) != len(idf):
        raise DataError(out_dir, f"TF-IDF vocabulary ({len(vocab)}) and IDF ({len(idf)}) lengths differ")
    return vocab, idf


def load_reference_texts(path: str | os.PathLike) -> dict[str, list[dict]]:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)["references"]


def build_reference_texts(records: list[dict], corpus: str | os.PathLike, out_dir: str | os.PathLike,
                          match: str = DEFAULT_MATCH, extra_triples=()) -> dict:
    """Collect reference texts for the records' targets from a WikiText-format corpus, fit and
    save TF-IDF, write ``reference_texts.json``, ``tfidf_vocab.json``, ``tfidf_idf.npz`` and
    ``reference_report.json`` into ``out_dir``; return the report.

    ``match``: ``"title+mention"`` (default; the only rule with coverage on WikiText-2) or
    ``"title"`` (the paper's rule, for a Wikipedia corpus). Records without reference text
    keep RS ``None``; the report gives the coverage.
    """
    articles = wikitext_articles(corpus)
    subjects_of = subjects_by_target(list(triples_from_records(records)) + list(extra_triples))
    refs = collect_reference_texts(subjects_of, articles, match)
    vocab, idf = fit_tfidf([" ".join(p) for _, p in articles])
    out_dir = Path(out_dir)
    save_tfidf(out_dir, vocab, idf)
    cov = coverage(records, refs)
    report = {"corpus": str(corpus), "match": match, "articles": len(articles), "vocabulary": len(vocab),
              "tfidf_fitted_on": "all corpus articles", **cov}
    atomic_write_json(out_dir / "reference_texts.json", {"corpus": str(corpus), "match": match, "references": refs})
    atomic_write_json(out_dir / "reference_report.json", report)
    return report
