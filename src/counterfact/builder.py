"""Building COUNTERFACT from ParaRel (SPEC 2.2).

:func:`build_counterfact` is pure: inputs (parsed ParaRel, relation list, corpus sentences,
template resources, seed) in, ``(records, report)`` out. :func:`build_to_file` adds the
file reading and the atomic writes.

Determinism: the usable facts are ordered by a stable key (sha256 of
``relation_id + "\\x1f" + subject``, which mixes relations, so that "the first N records"
is a sample of all relations), and a single ``numpy.random.Generator(seed)`` is consumed in
that order, always with the same sequence of draws per record: rewrite template,
counterfactual object, paraphrase templates, prefix sentences, neighbourhood pairs,
attribute pairs, generation prompts. All candidate lists are sorted before sampling.
"""
from __future__ import annotations

import hashlib
import os
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from atomicio import atomic_write_json, sha256_file

from .pararel import ParaRel, load_pararel
from .records import write_records
from .report import BuildReport
from .sampling import (sample_counterfactual, sample_distinct, sample_subject_template_pairs,
                       sample_with_replacement)
from .schema import EXPECTED_COUNTS, make_record
from .templates import fill, load_template_resources, relation_templates

DEFAULT_SEED = 0


def fact_order_key(relation_id: str, subject: str) -> str:
    return hashlib.sha256(f"{relation_id}\x1f{subject}".encode("utf-8")).hexdigest()


AMBIGUITY_POLICIES = ("keep-first", "drop")
DEFAULT_AMBIGUITY = "keep-first"


def usable_facts(facts, report: BuildReport | None = None, ambiguous: str = DEFAULT_AMBIGUITY):
    """Split one relation's facts into ``(record_facts, pool_facts, true_objects)``.

    * exact duplicates of (subject, object) keep their first line (``duplicate_fact``);
    * subjects with braces are left out (``subject_has_braces``);
    * a subject with several objects in the relation is *ambiguous*: "the" true object is
      not unique. ``ambiguous="keep-first"`` (default) keeps its first fact (lowest
      pararel_idx) as a record, reports its other facts (``ambiguous_subject``), and never
      uses any of its true objects as its counterfactual target; this covers every usable
      subject, as the paper's ~21,600 ParaRel-derived records do. ``"drop"`` leaves all
      facts of an ambiguous subject out (``ambiguous_subject``), which is stricter and gives
      fewer records.
    * ``pool_facts`` are the unambiguous facts: only they supply neighbourhood and attribute
      subjects and object frequencies, so a neighbour never also has the counterfactual object.
    * ``true_objects[subject]`` is the set of all objects of the subject in the relation.
    """
    if ambiguous not in AMBIGUITY_POLICIES:
        raise ValueError(f"ambiguous must be one of {AMBIGUITY_POLICIES}, got {ambiguous!r}")
    seen = set()
    unique = []
    for f in facts:
        key = (f.subject, f.object)
        if key in seen:
            if report is not None:
                report.drop(f, "duplicate_fact")
            continue
        seen.add(key)
        unique.append(f)
    true_objects: dict[str, set] = defaultdict(set)
    for f in unique:
        true_objects[f.subject].add(f.object)
    record_facts, pool_facts, kept_ambiguous = [], [], set()
    for f in unique:
        reason = None
        if "{" in f.subject or "}" in f.subject:
            reason = "subject_has_braces"
        elif len(true_objects[f.subject]) > 1:
            if ambiguous == "keep-first" and f.subject not in kept_ambiguous:
                kept_ambiguous.add(f.subject)
                record_facts.append(f)
                continue
            reason = "ambiguous_subject"
        else:
            record_facts.append(f)
            pool_facts.append(f)
            continue
        if report is not None:
            report.drop(f, reason)
    return record_facts, pool_facts, true_objects


def build_counterfact(pararel: ParaRel, relations: list[str], sentences: list[str], seed: int = DEFAULT_SEED,
                      template_resources: dict | None = None, counts: dict | None = None,
                      drop_incomplete: bool = True, ambiguous: str = DEFAULT_AMBIGUITY, progress: bool = False):
    """Build COUNTERFACT records. Returns ``(records, BuildReport)``.

    ``ambiguous``: policy for subjects with several objects in a relation, ``"keep-first"``
    (default) or ``"drop"`` (see :func:`usable_facts`). ``drop_incomplete``: leave out records that cannot be filled to
    ``counts`` (default: the released 2 / 10 / 10 / 10) instead of keeping them short.
    """
    counts = {**EXPECTED_COUNTS, **(counts or {})}
    if not sentences:
        from .errors import CorpusError

        raise CorpusError("no corpus sentences: paraphrase prompts need an unrelated prefix sentence")
    template_resources = load_template_resources() if template_resources is None else template_resources
    report = BuildReport(seed=seed, relations=list(relations), policy={"ambiguous": ambiguous,
                         "drop_incomplete": drop_incomplete, "counts": counts})
    sentences = list(sentences)

    candidates = []  # (order key, fact, relation context)
    contexts = {}
    for rel in relations:
        if rel not in pararel.facts:
            report.missing_relations.append(rel)
            continue
        facts = pararel.facts[rel]
        report.n_facts += len(facts)
        n_dropped_before = len(report.dropped)
        tmpl = relation_templates(rel, pararel.patterns.get(rel, []), template_resources)
        info = {"facts": len(facts), "templates": len(tmpl.templates),
                "pararel_templates": len(tmpl.from_pararel), "generation_templates": len(tmpl.generation)}
        report.per_relation[rel] = info
        good, pool, true_objects = usable_facts(facts, report, ambiguous)
        if len(tmpl.templates) < 1 + counts["paraphrase_prompts"]:
            for f in good:
                report.drop(f, "too_few_templates")
            good, pool = [], []
        by_object = defaultdict(list)
        for f in pool:
            by_object[f.object].append(f.subject)
        objects = sorted(by_object)
        ctx = {
            "templates": list(tmpl.templates),
            "generation": list(tmpl.generation),
            "objects": objects,
            "object_counts": [len(by_object[o]) for o in objects],
            "subjects_of": {o: sorted(s) for o, s in by_object.items()},
            "true_objects": true_objects,
        }
        contexts[rel] = ctx
        for f in good:
            others = [s for s in by_object.get(f.object, []) if s != f.subject]
            if not set(objects) - true_objects[f.subject]:
                report.drop(f, "no_alternative_object")
            elif not others:
                report.drop(f, "no_neighbor_subject")
            else:
                candidates.append((fact_order_key(rel, f.subject), f))
        info["usable"] = len(good)
        info["objects"] = len(objects)
        info["dropped"] = len(report.dropped) - n_dropped_before

    candidates.sort(key=lambda kf: kf[0])
    rng = np.random.default_rng(seed)
    records = []
    per_rel_records = Counter()
    iterator = candidates
    if progress:
        from tqdm import tqdm

        iterator = tqdm(candidates, desc="counterfact build", unit="fact")
    for _, f in iterator:
        ctx = contexts[f.relation_id]
        templates = ctx["templates"]
        prompt = templates[int(rng.integers(len(templates)))]
        target_new = sample_counterfactual(ctx["objects"], ctx["object_counts"], ctx["true_objects"][f.subject], rng)
        para_templates = sample_distinct([t for t in templates if t != prompt], counts["paraphrase_prompts"], rng)
        prefixes = sample_distinct(sentences, len(para_templates), rng)
        paraphrase = [f"{s} {fill(t, f.subject)}" for s, t in zip(prefixes, para_templates)]
        neighbours = [s for s in ctx["subjects_of"].get(f.object, []) if s != f.subject]
        neighborhood = list(dict.fromkeys(
            fill(t, s) for s, t in sample_subject_template_pairs(neighbours, templates, counts["neighborhood_prompts"], rng)))
        attribute = list(dict.fromkeys(
            fill(t, s) for s, t in sample_subject_template_pairs(ctx["subjects_of"][target_new], templates,
                                                                  counts["attribute_prompts"], rng)))
        generation = [fill(t, f.subject) for t in sample_with_replacement(ctx["generation"], counts["generation_prompts"], rng)]
        got = {"paraphrase_prompts": paraphrase, "neighborhood_prompts": neighborhood,
               "attribute_prompts": attribute, "generation_prompts": generation}
        short = [k for k, v in got.items() if len(v) < counts[k]]
        if short:
            if drop_incomplete:
                report.drop(f, "incomplete_prompts")
                continue
            for k in short:
                report.shortfalls[k] += 1
        records.append(make_record(len(records), f.pararel_idx, prompt, f.relation_id, f.subject,
                                   target_new, f.object, paraphrase, neighborhood, attribute, generation))
        per_rel_records[f.relation_id] += 1
    for rel, info in report.per_relation.items():
        info["records"] = per_rel_records[rel]
    report.n_records = len(records)
    return records, report


def build_to_file(pararel_dir: str | os.PathLike, out: str | os.PathLike, corpus: str | os.PathLike,
                  seed: int = DEFAULT_SEED, relations: list[str] | None = None,
                  report_path: str | os.PathLike | None = None, templates_path: str | os.PathLike | None = None,
                  drop_incomplete: bool = True, ambiguous: str = DEFAULT_AMBIGUITY, progress: bool = False) -> dict:
    """Read inputs, build, write the records (and the report); returns the report dict.

    ``ambiguous``: ``"keep-first"`` (default) or ``"drop"``, see :func:`usable_facts`.
    """
    from .config import default_relations
    from .corpus import load_sentences

    t0 = time.perf_counter()
    relations = default_relations() if relations is None else list(relations)
    pararel = load_pararel(pararel_dir, relations)
    sentences = load_sentences(corpus)
    resources_ = load_template_resources(templates_path)
    records, report = build_counterfact(pararel, relations, sentences, seed=seed, template_resources=resources_,
                                        drop_incomplete=drop_incomplete, ambiguous=ambiguous,
                                        progress=progress)
    write_records(out, records)
    from .download import PARAREL_COMMIT, verify_pararel

    report.inputs = {"pararel_dir": str(Path(pararel_dir)),
                     # False: a ParaRel that is not the pinned upstream commit (allowed; said here)
                     "pararel_is_pinned_upstream": not verify_pararel(pararel_dir),
                     "pararel_pinned_commit": PARAREL_COMMIT,
                     "corpus": str(Path(corpus)),
                     "corpus_sha256": sha256_file(corpus), "corpus_sentences": len(sentences),
                     "templates": str(templates_path) if templates_path else "counterfact/resources/templates.yaml"}
    report.output = {"path": str(Path(out)), "sha256": sha256_file(out), "records": len(records),
                     "seconds": round(time.perf_counter() - t0, 2)}
    result = report.to_dict()
    if report_path is not None:
        atomic_write_json(report_path, result)
    return result
