"""``rome localization-facts``: the facts of the localization-vs-editing analysis.

    rome localization-facts --known-facts data/runs/<run>/known_facts.json \\
        --records data/dataset/seed0/counterfact_eval.json --n-facts 5 --out data/runs/<run>/localization/facts.json

The first N known facts that have a COUNTERFACT record, each with its ``known_id`` (its
trace file) and ``case_id`` (its sweep files): :func:`rome.results.localization.select_facts`.
``rome trace-batch --known-ids-from`` and ``rome sweep --case-ids-from`` read the file.
"""
from __future__ import annotations

import argparse

from atomicio import atomic_write_json
from counterfact.cliargs import positive_int

from .localization import select_facts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--known-facts", required=True, help="known facts (known_1000.json format)")
    parser.add_argument("--records", required=True, help="the COUNTERFACT records the known facts were selected from")
    parser.add_argument("--n-facts", type=positive_int, required=True, help="facts to select")
    parser.add_argument("--out", required=True, help="selected facts (JSON)")


def run(args: argparse.Namespace) -> int:
    from counterfact.known_facts import load_known_facts
    from counterfact.records import check_record_ids, load_records

    known = load_known_facts(args.known_facts)
    records = check_record_ids(load_records(args.records), args.records)
    doc = select_facts(known, records, args.n_facts, args.known_facts, args.records)
    atomic_write_json(args.out, doc, indent=1)
    print(f"{len(doc['facts'])} facts (known_id -> case_id) -> {args.out}; "
          f"{len(doc['unmatched'])} known facts without a record passed over")
    return 0
