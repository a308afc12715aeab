"""Comparing two COUNTERFACT-format files (e.g. our build and the released ``counterfact.json``).

:func:`compare_records` measures, for OURS against OTHER:

* facts: a fact is (subject, true object); recall = share of OTHER's facts that OURS has,
  precision = share of OURS's facts that OTHER has; overall and per relation (per relation,
  facts of that relation only);
* template overlap: the rewrite templates (``requested_rewrite.prompt``) each file uses per
  relation; the share of OTHER's (relation, template) pairs that OURS uses too;
* paraphrase prefixes: the text before the filled template in each paraphrase prompt (the
  template found among the file's rewrite templates of that relation, longest match), as
  word counts (median, 10th/90th percentile, max) and the share that is a complete
  sentence (ends in . ! ?);
* new targets: distinct new targets, records whose new target is no record's true object in
  that relation, records whose new target is another true object of the same subject, and
  the total variation distance between the two files' (relation, new target) frequencies;
* per-relation record counts and records sharing (relation, subject) with another record.

:func:`format_markdown` renders the result.
"""
from __future__ import annotations

import os
from collections import Counter, defaultdict

from .report import word_length_summary
from .templates import fill


def _rw(rec: dict) -> dict:
    return rec["requested_rewrite"]


def facts_of(records: list[dict]) -> dict[str, set]:
    """``{relation_id: {(subject, true object)}}``."""
    out: dict[str, set] = defaultdict(set)
    for r in records:
        rw = _rw(r)
        out[rw["relation_id"]].add((rw["subject"], rw["target_true"]["str"]))
    return out


def templates_of(records: list[dict]) -> dict[str, set]:
    out: dict[str, set] = defaultdict(set)
    for r in records:
        out[_rw(r)["relation_id"]].add(_rw(r)["prompt"])
    return out


def paraphrase_prefixes(records: list[dict]) -> tuple[list[str], int]:
    """The prefixes of all paraphrase prompts, and how many prompts matched no template."""
    templates = {rel: sorted(ts, key=len, reverse=True) for rel, ts in templates_of(records).items()}
    prefixes, unmatched = [], 0
    for r in records:
        rw = _rw(r)
        for p in r["paraphrase_prompts"]:
            for t in templates[rw["relation_id"]]:
                filled = fill(t, rw["subject"])
                if p.endswith(filled) and len(p) > len(filled):
                    prefixes.append(p[: len(p) - len(filled)].strip())
                    break
            else:
                unmatched += 1
    return prefixes, unmatched


def target_summary(records: list[dict]) -> dict:
    true_by_rel: dict[str, set] = defaultdict(set)
    true_by_subject: dict[tuple, set] = defaultdict(set)
    for r in records:
        rw = _rw(r)
        true_by_rel[rw["relation_id"]].add(rw["target_true"]["str"])
        true_by_subject[(rw["relation_id"], rw["subject"])].add(rw["target_true"]["str"])
    not_a_true_object = other_true_of_subject = 0
    for r in records:
        rw = _rw(r)
        new = rw["target_new"]["str"]
        not_a_true_object += new not in true_by_rel[rw["relation_id"]]
        other_true_of_subject += new in true_by_subject[(rw["relation_id"], rw["subject"])]
    return {"distinct_new_targets": len({_rw(r)["target_new"]["str"] for r in records}),
            "new_target_not_a_true_object_of_relation": not_a_true_object,
            "new_target_is_another_true_object_of_subject": other_true_of_subject}


def _new_target_distribution(records: list[dict]) -> Counter:
    return Counter((_rw(r)["relation_id"], _rw(r)["target_new"]["str"]) for r in records)


def total_variation(a: Counter, b: Counter) -> float:
    na, nb = sum(a.values()), sum(b.values())
    if not na or not nb:
        return 1.0
    return 0.5 * sum(abs(a[k] / na - b[k] / nb) for k in set(a) | set(b))


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def file_summary(records: list[dict]) -> dict:
    prefixes, unmatched = paraphrase_prefixes(records)
    by_subject = Counter((_rw(r)["relation_id"], _rw(r)["subject"]) for r in records)
    facts = facts_of(records)
    return {"records": len(records), "relations": len(facts),
            "facts": len({f for fs in facts.values() for f in fs}),
            "records_sharing_relation_subject": sum(c for c in by_subject.values() if c > 1),
            "prefix_words": word_length_summary(prefixes), "prefix_unmatched": unmatched,
            **target_summary(records)}


def compare_records(ours: list[dict], other: list[dict]) -> dict:
    f_ours, f_other = facts_of(ours), facts_of(other)
    all_ours = {f for fs in f_ours.values() for f in fs}
    all_other = {f for fs in f_other.values() for f in fs}
    shared = all_ours & all_other
    t_ours, t_other = templates_of(ours), templates_of(other)
    n_ours = Counter(_rw(r)["relation_id"] for r in ours)
    n_other = Counter(_rw(r)["relation_id"] for r in other)
    per_relation = {}
    for rel in sorted(set(f_ours) | set(f_other), key=lambda r: (len(r), r)):
        a, b = f_ours.get(rel, set()), f_other.get(rel, set())
        ta, tb = t_ours.get(rel, set()), t_other.get(rel, set())
        per_relation[rel] = {"records_ours": n_ours[rel], "records_other": n_other[rel], "shared_facts": len(a & b),
                             "recall": _ratio(len(a & b), len(b)), "precision": _ratio(len(a & b), len(a)),
                             "templates_ours": len(ta), "templates_other": len(tb),
                             "templates_shared": len(ta & tb)}
    pairs_ours = {(rel, t) for rel, ts in t_ours.items() for t in ts}
    pairs_other = {(rel, t) for rel, ts in t_other.items() for t in ts}
    return {
        "ours": file_summary(ours), "other": file_summary(other),
        "facts": {"shared": len(shared), "recall": _ratio(len(shared), len(all_other)),
                  "precision": _ratio(len(shared), len(all_ours))},
        "templates": {"ours": len(pairs_ours), "other": len(pairs_other), "shared": len(pairs_ours & pairs_other),
                      "share_of_other_used_by_ours": _ratio(len(pairs_ours & pairs_other), len(pairs_other))},
        "new_target_total_variation": round(total_variation(_new_target_distribution(ours),
                                                            _new_target_distribution(other)), 4),
        "per_relation": per_relation,
    }


def _fmt(x) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:.3f}" if x < 1 else f"{x:g}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def format_markdown(result: dict, ours_label: str = "ours", other_label: str = "other") -> str:
    o, t = result["ours"], result["other"]
    intro = (f"Facts are (subject, true object). Recall: share of {other_label}'s facts that {ours_label} has; "
             f"precision: share of {ours_label}'s facts that {other_label} has.")
    lines = [f"# COUNTERFACT comparison: {ours_label} against {other_label}", "", intro, "",
             f"| | {ours_label} | {other_label} |", "|---|---:|---:|"]
    rows = [("records", "records"), ("relations", "relations"), ("distinct facts", "facts"),
            ("records sharing (relation, subject) with another", "records_sharing_relation_subject"),
            ("distinct new targets (Table 2 \"Objects\")", "distinct_new_targets"),
            ("new target is no record's true object in the relation", "new_target_not_a_true_object_of_relation"),
            ("new target is another true object of the subject", "new_target_is_another_true_object_of_subject")]
    for label, key in rows:
        lines.append(f"| {label} | {_fmt(o[key])} | {_fmt(t[key])} |")
    for label, key in (("prefix words: median", "median"), ("prefix words: 10th percentile", "p10"),
                       ("prefix words: 90th percentile", "p90"), ("prefix words: max", "max"),
                       ("prefix is a complete sentence (share)", "complete_sentence_share")):
        lines.append(f"| {label} | {_fmt(o['prefix_words'].get(key))} | {_fmt(t['prefix_words'].get(key))} |")
    lines.append(f"| paraphrase prompts matching no rewrite template | {_fmt(o['prefix_unmatched'])} | "
                 f"{_fmt(t['prefix_unmatched'])} |")
    f, tp = result["facts"], result["templates"]
    facts_line = f"**Facts:** {f['shared']:,} shared; recall {_fmt(f['recall'])}, precision {_fmt(f['precision'])}."
    templates_line = (f"**Rewrite templates:** {tp['shared']:,} of {other_label}'s {tp['other']:,} (relation, "
                      f"template) pairs are used by {ours_label} too ({_fmt(tp['share_of_other_used_by_ours'])}); "
                      f"{ours_label} uses {tp['ours']:,}.")
    targets_line = ("**New targets:** total variation distance between the (relation, new target) frequencies: "
                    f"{_fmt(result['new_target_total_variation'])}.")
    header = (f"| relation | records {ours_label} | records {other_label} | shared facts | recall | precision "
              f"| templates {ours_label} / {other_label} / shared |")
    lines += ["", facts_line, "", templates_line, "", targets_line, "", "## Per relation", "", header,
              "|---|---:|---:|---:|---:|---:|---|"]
    for rel, v in result["per_relation"].items():
        lines.append(f"| {rel} | {v['records_ours']:,} | {v['records_other']:,} | {v['shared_facts']:,} | "
                     f"{_fmt(v['recall'])} | {_fmt(v['precision'])} | "
                     f"{v['templates_ours']} / {v['templates_other']} / {v['templates_shared']} |")
    for label, s in ((ours_label, o), (other_label, t)):
        hist = s["prefix_words"].get("histogram", {})
        counts = ", ".join(f"{k}: {v:,}" for k, v in hist.items())
        lines += ["", f"Prefix length histogram, {label} (words: prompts): {counts}"]
    return "\n".join(lines) + "\n"


def compare_files(ours: str | os.PathLike, other: str | os.PathLike, ours_label: str = "ours",
                  other_label: str = "other") -> str:
    from .validate import load_readable

    return format_markdown(compare_records(load_readable(ours), load_readable(other)), ours_label, other_label)
