"""Building COUNTERFACT from ParaRel (paper, appendix D; the released file's conventions).

:func:`build_counterfact` is pure: inputs (parsed ParaRel, relation list, corpus sentences,
template resources, seed) in, ``(records, report)`` out. :func:`build_to_file` adds the
file reading and the atomic writes.

Determinism: the records are ordered by a stable key (sha256 of
``relation_id + "\\x1f" + subject``, then ``pararel_idx``; the hash mixes relations, so that
"the first N records" is a sample of all relations), and a single
``numpy.random.Generator(seed)`` is consumed in that order, always with the same sequence
of draws per record: rewrite template, counterfactual object, paraphrase templates, one
prefix per paraphrase, neighbourhood pairs, attribute pairs, generation prompts. The shared
neighbour pools of each (relation, object) come from a generator derived from the seed and
that key. All candidate lists are sorted before sampling.
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
from .sampling import (
    PREFIX_LENGTH_WEIGHTS,
    PrefixSampler,
    TargetSampler,
    group_pool,
    group_rng,
    sample_distinct,
    sample_with_replacement,
)
from .schema import EXPECTED_COUNTS, make_record
from .templates import fill, load_template_resources, relation_templates

DEFAULT_SEED = 0
# Corpus sentences read for paraphrase prefixes: complete ones of 3-10 words, and longer
# ones to cut fragments from.
PREFIX_MIN_WORDS, PREFIX_MAX_WORDS = 3, 60


def fact_order_key(relation_id: str, subject: str) -> str:
    return hashlib.sha256(f"{relation_id}\x1f{subject}".encode()).hexdigest()


AMBIGUITY_POLICIES = ("per-object", "keep-first", "drop")
DEFAULT_AMBIGUITY = "per-object"
# Neighbourhood pool: the (subject, template) pairs one (relation, true object) offers its
# records (sampling.group_pool); each record draws its 10 from its group's pool. With 150 the
# full build has 81,970 distinct neighbourhood prompts, 2,487 per relation (the released
# file: 82,650 and 2,441; pools of 11 / 50 / 100 / 200 / 300 give 25,904 / 54,685 / 71,849 /
# 88,791 / 100,092). Any size >= 11 (10 + 1 spare) gives every record 10 where they exist.
DEFAULT_NEIGHBOUR_POOL = 150


def usable_facts(facts, report: BuildReport | None = None, ambiguous: str = DEFAULT_AMBIGUITY):
    """Split one relation's facts into ``(record_facts, pool_facts, true_objects)``.

    * exact duplicates of (subject, object) keep their first line (``duplicate_fact``);
    * subjects with braces are left out (``subject_has_braces``);
    * a subject with several objects in the relation (a country with several official
      languages, a city with several twin cities) is handled by ``ambiguous``:

      - ``"per-object"`` (default): one record per distinct (subject, object), as the
        released file has (it has several records for some subjects). Such a record's
        counterfactual is never any of the subject's true objects, and its neighbourhood
        prompts never use its own subject. All these facts also supply neighbours.
      - ``"keep-first"``: only the subject's first fact (lowest pararel_idx) is a record; its
        other facts are reported (``ambiguous_subject``);
      - ``"drop"``: all the subject's facts are left out (``ambiguous_subject``).

    * ``pool_facts`` supply neighbourhood and attribute subjects: every record fact under
      ``per-object``; the unambiguous facts only under ``keep-first`` and ``drop``.
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
        elif len(true_objects[f.subject]) > 1 and ambiguous != "per-object":
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


def _fill_pairs(pairs) -> list[str]:
    return list(dict.fromkeys(fill(t, s) for s, t in pairs))


def build_counterfact(pararel: ParaRel, relations: list[str], sentences: list[str], seed: int = DEFAULT_SEED,
                      template_resources: dict | None = None, counts: dict | None = None,
                      drop_incomplete: bool = True, ambiguous: str = DEFAULT_AMBIGUITY,
                      neighbour_pool: int = DEFAULT_NEIGHBOUR_POOL, prefix_sampler: PrefixSampler | None = None,
                      progress: bool = False):
    """Build COUNTERFACT records. Returns ``(records, BuildReport)``.

    ``ambiguous``: policy for subjects with several objects in a relation (see
    :func:`usable_facts`). ``neighbour_pool``: size of the pool of (subject, template) pairs
    shared by the records of one (relation, true object) (:func:`sampling.group_pool`); each
    record draws its neighbourhood prompts from its group's pool without its own subject, and
    its attribute prompts from the pool of (relation, new target). A record keeps the
    neighbourhood and attribute prompts that exist when fewer than the released 10 can be
    formed (counted in the report). ``drop_incomplete``: leave out records whose paraphrase
    or generation prompts cannot be filled to ``counts`` (default 2 / 10) instead of keeping
    them short. ``prefix_sampler``: the rule for paraphrase prefixes (default:
    :class:`sampling.PrefixSampler` over ``sentences``).
    """
    from .errors import CorpusError

    counts = {**EXPECTED_COUNTS, **(counts or {})}
    if not sentences:
        raise CorpusError("no corpus sentences: paraphrase prompts need an unrelated prefix")
    if neighbour_pool < 1:
        raise ValueError(f"neighbour_pool must be at least 1, got {neighbour_pool}")
    template_resources = load_template_resources() if template_resources is None else template_resources
    prefix_sampler = PrefixSampler(list(sentences)) if prefix_sampler is None else prefix_sampler
    report = BuildReport(seed=seed, relations=list(relations),
                         policy={"ambiguous": ambiguous, "drop_incomplete": drop_incomplete, "counts": counts,
                                 "neighbour_pool": neighbour_pool,
                                 "prefix_length_weights": {str(k): v for k, v in PREFIX_LENGTH_WEIGHTS.items()},
                                 "prefix_fragment_share": prefix_sampler.fragment_share})
    k_nb, k_attr = counts["neighborhood_prompts"], counts["attribute_prompts"]

    candidates = []  # (order key, pararel_idx, fact)
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
        subjects_of = defaultdict(set)
        for f in pool:
            subjects_of[f.object].add(f.subject)
        kept = []
        for f in good:
            if subjects_of.get(f.object, set()) - {f.subject}:
                kept.append(f)
            else:
                report.drop(f, "no_neighbor_subject")
        # Counterfactual targets: true objects of the kept records, weighted by how many kept
        # records have them. Leaving out a record can take its object out of the targets, so
        # repeat until no record is left without an alternative.
        while True:
            target_counts = Counter(f.object for f in kept)
            still = [f for f in kept if set(target_counts) - true_objects[f.subject]]
            if len(still) == len(kept):
                break
            for f in kept:
                if not set(target_counts) - true_objects[f.subject]:
                    report.drop(f, "no_alternative_object")
            kept = still
        objects = sorted(target_counts)
        templates = list(tmpl.templates)
        contexts[rel] = {
            "templates": templates,
            "generation": list(tmpl.generation),
            "targets": TargetSampler(objects, [target_counts[o] for o in objects]),
            "subjects_of": {o: sorted(s) for o, s in subjects_of.items()},
            "true_objects": true_objects,
            "pools": {},
        }
        for f in kept:
            candidates.append((fact_order_key(rel, f.subject), f.pararel_idx, f))
        info["usable"] = len(good)
        info["objects"] = len(objects)
        info["dropped"] = len(report.dropped) - n_dropped_before

    def pool_of(ctx, rel, obj):
        if obj not in ctx["pools"]:
            ctx["pools"][obj] = group_pool(ctx["subjects_of"].get(obj, []), ctx["templates"],
                                           max(neighbour_pool, k_nb + 1), k_nb, group_rng(seed, rel, obj))
        return ctx["pools"][obj]

    candidates.sort(key=lambda c: (c[0], c[1]))
    rng = np.random.default_rng(seed)
    records: list[dict] = []
    per_rel_records: Counter[str] = Counter()
    iterator = [c[2] for c in candidates]
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc="counterfact build", unit="fact")
    for f in iterator:
        rel = f.relation_id
        ctx = contexts[rel]
        templates = ctx["templates"]
        prompt = templates[int(rng.integers(len(templates)))]
        target_new = ctx["targets"](ctx["true_objects"][f.subject], rng)
        para_templates = sample_distinct([t for t in templates if t != prompt], counts["paraphrase_prompts"], rng)
        prefixes = [prefix_sampler(rng) for _ in para_templates]
        paraphrase = [f"{p} {fill(t, f.subject)}" for p, t in zip(prefixes, para_templates)]
        own_pool = [p for p in pool_of(ctx, rel, f.object) if p[0] != f.subject]
        neighborhood = _fill_pairs(sample_distinct(own_pool, k_nb, rng))
        attribute = _fill_pairs(sample_distinct(pool_of(ctx, rel, target_new), k_attr, rng))
        generation = [fill(t, f.subject) for t in sample_with_replacement(ctx["generation"], counts["generation_prompts"], rng)]
        got = {"paraphrase_prompts": paraphrase, "neighborhood_prompts": neighborhood,
               "attribute_prompts": attribute, "generation_prompts": generation}
        short = [k for k, v in got.items() if len(v) < counts[k]]
        if drop_incomplete and any(k in ("paraphrase_prompts", "generation_prompts") for k in short):
            report.drop(f, "incomplete_prompts")
            continue
        for k in short:
            report.shortfalls[k] += 1
        records.append(make_record(len(records), f.pararel_idx, prompt, rel, f.subject,
                                   target_new, f.object, paraphrase, neighborhood, attribute, generation))
        per_rel_records[rel] += 1
        report.prefixes.extend(prefixes)
    for rel, info in report.per_relation.items():
        info["records"] = per_rel_records[rel]
    report.n_records = len(records)
    report.summarise_records(records)
    return records, report


def build_to_file(pararel_dir: str | os.PathLike, out: str | os.PathLike, corpus: str | os.PathLike,
                  seed: int = DEFAULT_SEED, relations: list[str] | None = None,
                  report_path: str | os.PathLike | None = None, templates_path: str | os.PathLike | None = None,
                  drop_incomplete: bool = True, ambiguous: str = DEFAULT_AMBIGUITY,
                  neighbour_pool: int = DEFAULT_NEIGHBOUR_POOL, progress: bool = False) -> dict:
    """Read inputs, build, write the records (and the report); returns the report dict plus the
    build's wall-clock ``seconds`` (printed, not written into the report file).

    ``ambiguous``: ``"per-object"`` (default), ``"keep-first"`` or ``"drop"``, see
    :func:`usable_facts`; ``neighbour_pool``: see :func:`build_counterfact`.
    """
    from .config import default_relations
    from .corpus import load_sentences

    t0 = time.perf_counter()
    relations = default_relations() if relations is None else list(relations)
    pararel = load_pararel(pararel_dir, relations)
    sentences = load_sentences(corpus, min_words=PREFIX_MIN_WORDS, max_words=PREFIX_MAX_WORDS)
    resources_ = load_template_resources(templates_path)
    records, report = build_counterfact(pararel, relations, sentences, seed=seed, template_resources=resources_,
                                        drop_incomplete=drop_incomplete, ambiguous=ambiguous,
                                        neighbour_pool=neighbour_pool, progress=progress)
    write_records(out, records)
    from .download import PARAREL_COMMIT, verify_pararel

    report.inputs = {"pararel_dir": str(Path(pararel_dir)),
                     # False: a ParaRel that is not the pinned upstream commit (allowed; said here)
                     "pararel_is_pinned_upstream": not verify_pararel(pararel_dir),
                     "pararel_pinned_commit": PARAREL_COMMIT,
                     "corpus": str(Path(corpus)),
                     "corpus_sha256": sha256_file(corpus), "corpus_sentences": len(sentences),
                     "templates": str(templates_path) if templates_path else "counterfact/resources/templates.yaml"}
    report.output = {"path": str(Path(out)), "sha256": sha256_file(out), "records": len(records)}
    result = report.to_dict()
    if report_path is not None:  # no wall-clock time in the file: the same build gives the same bytes
        atomic_write_json(report_path, result)
    return {**result, "seconds": round(time.perf_counter() - t0, 2)}
