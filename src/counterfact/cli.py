"""The ``counterfact`` command line: build, validate, stats, tables, compare, export, split,
zsre, reference-texts, download, fetch, verify-pararel. Run ``counterfact <command> --help``.

(Known-facts selection needs a model: it is ``rome known-facts``.)"""
from __future__ import annotations

import argparse
import sys

from atomicio import atomic_write_json, atomic_write_text, dumps_json
from replkit.cli import add_progress_option

from .builder import AMBIGUITY_POLICIES, DEFAULT_AMBIGUITY, DEFAULT_NEIGHBOUR_POOL
from .cliargs import nonnegative_int, positive_int
from .reference_texts import DEFAULT_MATCH, MATCH_RULES


def _cmd_build(a) -> int:
    from .builder import build_to_file
    from .config import parse_relations

    report = build_to_file(a.pararel_dir, a.out, a.corpus, seed=a.seed, relations=parse_relations(a.relations),
                           report_path=a.report, templates_path=a.templates, ambiguous=a.ambiguous,
                           neighbour_pool=a.neighbour_pool, drop_incomplete=not a.keep_incomplete,
                           progress=not a.no_progress)
    summary = {k: report[k] for k in ("n_facts", "n_records", "n_dropped", "dropped_by_reason", "shortfalls",
                                      "missing_relations", "table2", "output", "seconds")}
    summary["paraphrase_prefix_words"] = {k: {x: v[x] for x in ("median", "p10", "p90", "max") if x in v}
                                          for k, v in report["paraphrase_prefix_words"].items()}
    print(dumps_json(summary), end="")
    return 0


def _cmd_validate(a) -> int:
    from .validate import validate_file

    violations = validate_file(a.file, strict_counts=not a.lenient_counts)
    if a.json:
        print(dumps_json([v.to_dict() for v in violations]), end="")
    else:
        for v in violations:
            print(v)
        print(f"{a.file}: {len(violations)} violation(s)", file=sys.stderr)
    return 1 if violations else 0


def _cmd_stats(a) -> int:
    from .stats import compute_stats, format_stats
    from .validate import load_readable

    stats = compute_stats(load_readable(a.file))
    if a.out:
        atomic_write_json(a.out, stats)
    print(dumps_json(stats) if a.json else format_stats(stats), end="" if a.json else "\n")
    return 0


def _cmd_tables(a) -> int:
    from .errors import DataError, read_json
    from .stats import is_number, read_stats
    from .tables import write_tables

    stats = read_stats(a.stats)
    cov = None
    if a.reference_report:
        report = read_json(a.reference_report)
        cov = report.get("coverage_target_new") if isinstance(report, dict) else None
        if not is_number(cov) or not 0 <= cov <= 1:
            raise DataError(a.reference_report, "missing or not a share between 0 and 1 "
                            "(write it with `counterfact reference-texts`)", field="coverage_target_new")
    for p in write_tables(stats, a.out_dir, rs_coverage=cov):
        print(p)
    return 0


def _cmd_split(a) -> int:
    from .splits import write_split

    res = write_split(a.records, a.out, eval_fraction=a.eval_fraction, seed=a.seed, eval_first=a.eval_first,
                      train_out=a.train_out, eval_out=a.eval_out)
    print(dumps_json({k: res[k] for k in ("n", "n_train", "n_eval", "seed", "eval_fraction", "eval_first")}), end="")
    return 0


def _cmd_zsre(a) -> int:
    from .zsre import load_zsre

    reqs = load_zsre(a.input, limit=a.limit)
    if a.out:
        atomic_write_json(a.out, reqs)
    print(f"{len(reqs)} zsRE edit requests from {a.input}" + (f" -> {a.out}" if a.out else ""))
    return 0


def _cmd_compare(a) -> int:
    from .compare import compare_files

    text = compare_files(a.ours, a.other, ours_label=a.ours_label, other_label=a.other_label)
    if a.out:
        atomic_write_text(a.out, text)
    print(text, end="")
    return 0


def _cmd_export(a) -> int:
    from .export import export_file

    n = export_file(a.file, a.out, fmt=a.format)
    print(f"{n} records -> {a.out} ({a.format})")
    return 0


def _cmd_reference_texts(a) -> int:
    from .reference_texts import build_reference_texts
    from .validate import load_readable

    report = build_reference_texts(load_readable(a.records), a.corpus, a.out_dir, match=a.match)
    print(dumps_json(report), end="")
    return 0


def _cmd_download(a) -> int:
    from .download import download_pararel

    print(download_pararel(a.dest, verify=not a.no_verify))
    return 0


def _cmd_fetch(a) -> int:
    from .fetch import UPSTREAM, fetch_upstream, upstream_for_file

    key = a.what if a.what in UPSTREAM or "." not in a.what else upstream_for_file(a.what).key
    print(fetch_upstream(key, a.dest_dir))
    return 0


def _cmd_verify_pararel(a) -> int:
    from .download import MANIFEST, verify_pararel

    problems = verify_pararel(a.pararel_dir)
    for line in problems:
        print(line)
    print(f"{a.pararel_dir}: " + (f"{len(problems)} difference(s) from" if problems else "matches") + f" {MANIFEST.name}")
    return 1 if problems else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="counterfact", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build COUNTERFACT from a local ParaRel copy")
    b.add_argument("--pararel-dir", required=True, help="folder with patterns/ and facts/ (config paths.pararel)")
    b.add_argument("--out", required=True, help="output COUNTERFACT JSON")
    b.add_argument("--corpus", required=True, help="raw text corpus for paraphrase prefix sentences (WikiText format)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--relations", default=None, help="comma-separated relation ids (default: resources/relations.yaml)")
    b.add_argument("--report", default=None, help="write the JSON build report here")
    b.add_argument("--templates", default=None, help="a templates YAML replacing resources/templates.yaml")
    b.add_argument("--ambiguous", choices=AMBIGUITY_POLICIES, default=DEFAULT_AMBIGUITY,
                   help="subjects with several objects in a relation: per-object (default: one record per distinct "
                        "(subject, object), as the released file), keep-first (only the fact with the lowest "
                        "pararel_idx, report the others) or drop (leave all their facts out)")
    b.add_argument("--neighbour-pool", type=positive_int, default=DEFAULT_NEIGHBOUR_POOL,
                   help="(subject, template) pairs shared by the records of one (relation, true object); each "
                        "record draws its 10 neighbourhood prompts from its group's pool")
    b.add_argument("--keep-incomplete", action="store_true",
                   help="keep records with fewer paraphrase/generation prompts than released")
    add_progress_option(b)
    b.set_defaults(func=_cmd_build)

    v = sub.add_parser("validate", help="check a COUNTERFACT-format file; exit 1 on any violation")
    v.add_argument("file")
    v.add_argument("--lenient-counts", action="store_true", help="accept 1..10 neighbourhood/attribute/... prompts")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=_cmd_validate)

    s = sub.add_parser("stats", help="Table 2 statistics (the paper's definitions) of any COUNTERFACT-format file")
    s.add_argument("file")
    s.add_argument("--json", action="store_true")
    s.add_argument("--out", default=None, help="also write the statistics JSON here")
    s.set_defaults(func=_cmd_stats)

    t = sub.add_parser("tables", help="render Tables 2 and 3 (Markdown, CSV, LaTeX) beside the paper")
    t.add_argument("--stats", required=True, help="JSON from `counterfact stats --json`")
    t.add_argument("--out-dir", required=True)
    t.add_argument("--reference-report", default=None, help="reference_report.json (for Table 3 consistency)")
    t.set_defaults(func=_cmd_tables)

    sp = sub.add_parser("split", help="deterministic train/eval split by case_id")
    sp.add_argument("--records", required=True)
    sp.add_argument("--out", required=True)
    sp.add_argument("--eval-fraction", type=float, default=0.5)
    sp.add_argument("--eval-first", type=nonnegative_int, default=0, help="force case ids 0..N-1 into eval")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--train-out", default=None, help="also write the train records here")
    sp.add_argument("--eval-out", default=None, help="also write the eval records here")
    sp.set_defaults(func=_cmd_split)

    z = sub.add_parser("zsre", help="convert/validate MEND-format zsRE into edit requests")
    z.add_argument("--input", required=True)
    z.add_argument("--out", default=None)
    z.add_argument("--limit", type=nonnegative_int, default=None)
    z.set_defaults(func=_cmd_zsre)

    c = sub.add_parser("compare", help="compare two COUNTERFACT-format files (facts, templates, prefixes, targets)")
    c.add_argument("ours")
    c.add_argument("other", help="another COUNTERFACT-format file, e.g. the released counterfact.json")
    c.add_argument("--ours-label", default="ours")
    c.add_argument("--other-label", default="other")
    c.add_argument("--out", default=None, help="also write the Markdown here")
    c.set_defaults(func=_cmd_compare)

    e = sub.add_parser("export", help="write records in another framework's format")
    e.add_argument("file", help="a COUNTERFACT-format file (ours or the released one)")
    e.add_argument("--format", choices=("easyedit",), required=True,
                   help="easyedit: the flattened records EasyEdit's CounterFactDataset reads")
    e.add_argument("--out", required=True)
    e.set_defaults(func=_cmd_export)

    r = sub.add_parser("reference-texts", help="reference texts for RS + TF-IDF files from a WikiText corpus")
    r.add_argument("--records", required=True)
    r.add_argument("--corpus", required=True)
    r.add_argument("--out-dir", required=True)
    r.add_argument("--match", choices=MATCH_RULES, default=DEFAULT_MATCH,
                   help="title: the subject's own article, the paper's rule (use it with a Wikipedia corpus); "
                        "title+mention (default): also paragraphs of any article naming the subject, the only "
                        "rule with any coverage on the offline WikiText-2 (title gives 0%%)")
    r.set_defaults(func=_cmd_reference_texts)

    d = sub.add_parser("download", help="download the pinned upstream ParaRel (needs network)")
    d.add_argument("--dest", required=True)
    d.add_argument("--no-verify", action="store_true",
                   help="write the files even when they differ from the pinned sha256 list")
    d.set_defaults(func=_cmd_download)

    f = sub.add_parser("fetch", help="download the upstream file of one paths.<key> (needs network)")
    f.add_argument("what", help="a config key (known_facts_released, zsre_eval, corpus) or the file it writes "
                                "(known_1000.json, zsre_mend_eval.json, wiki.test.raw)")
    f.add_argument("--dest-dir", required=True)
    f.set_defaults(func=_cmd_fetch)

    v = sub.add_parser("verify-pararel", help="check a ParaRel copy against the pinned sha256 of every file")
    v.add_argument("pararel_dir")
    v.set_defaults(func=_cmd_verify_pararel)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run a sub-command with the shared error style (:mod:`counterfact.cliargs`): bad input
    -> one line naming file, record and field, exit 2; other failures -> one line, exit 1;
    ``--debug`` adds the traceback; ``--stdout-file FILE`` writes stdout to FILE atomically."""
    from .cliargs import pop_global_flags, run_main

    argv, debug, stdout_file = pop_global_flags(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    return run_main(f"counterfact {args.command}", lambda: args.func(args), debug=debug, stdout_file=stdout_file)


if __name__ == "__main__":
    sys.exit(main())
