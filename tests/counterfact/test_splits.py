import json

import pytest
from counterfact_testdata import good_record

from counterfact.cli import main
from counterfact.splits import load_split, split_case_ids, split_records


def test_split_deterministic_disjoint_complete():
    ids = list(range(1000))
    tr1, ev1 = split_case_ids(ids, 0.3, seed=5)
    tr2, ev2 = split_case_ids(list(reversed(ids)), 0.3, seed=5)
    assert (tr1, ev1) == (tr2, ev2)
    assert len(ev1) == 300 and not set(tr1) & set(ev1) and sorted(tr1 + ev1) == ids
    _, ev3 = split_case_ids(ids, 0.3, seed=6)
    assert ev3 != ev1


def test_forced_eval_ids():
    tr, ev = split_case_ids(range(100), 0.2, seed=0, force_eval=range(10))
    assert set(range(10)) <= set(ev) and len(ev) == 20
    tr, ev = split_case_ids(range(100), 0.05, seed=0, force_eval=range(10))
    assert ev == list(range(10))


def test_bad_fraction():
    with pytest.raises(ValueError):
        split_case_ids(range(3), 1.5)


def test_split_records_and_cli(tmp_path):
    recs = [good_record(i, f"S{i}") for i in range(20)]
    tr, ev = split_records(recs, 0.25, seed=1)
    assert len(ev) == 5 and {r["case_id"] for r in tr}.isdisjoint(r["case_id"] for r in ev)
    f = tmp_path / "r.json"
    f.write_text(json.dumps(recs), encoding="utf-8")
    assert main(["split", "--records", str(f), "--out", str(tmp_path / "s.json"), "--eval-fraction", "0.25",
                 "--seed", "1"]) == 0
    assert load_split(tmp_path / "s.json") == ([r["case_id"] for r in tr], [r["case_id"] for r in ev])


def test_split_cli_writes_part_record_files(tmp_path):
    import json

    from counterfact.cli import main

    records = [{"case_id": i, "requested_rewrite": {"prompt": "{} is", "subject": f"S{i}"}} for i in range(10)]
    src = tmp_path / "cf.json"
    src.write_text(json.dumps(records))
    out, tr, ev = tmp_path / "split.json", tmp_path / "train.json", tmp_path / "eval.json"
    assert main(["split", "--records", str(src), "--out", str(out), "--eval-fraction", "0.3",
                 "--train-out", str(tr), "--eval-out", str(ev)]) == 0
    split = json.loads(out.read_text())
    train, evals = json.loads(tr.read_text()), json.loads(ev.read_text())
    assert [r["case_id"] for r in train] == sorted(split["train"])
    assert [r["case_id"] for r in evals] == sorted(split["eval"])
    assert len(train) + len(evals) == 10 and not {r["case_id"] for r in train} & {r["case_id"] for r in evals}
