import json
import os

import pytest
import torch

from rome.editing.hypernet import HypernetEditor, find_checkpoint, load_hypernet, make_ke, make_mend
from rome.editing.ke import KENet
from rome.editing.mend import MENDNet
from rome.editing.train_cli import run_training, train_hypernet

from ._baseline_helpers import FACTS, check_edit_contract
from ._hypernet_helpers import TINY_EXAMPLES, mean

HP = {"layers": "last:2", "init_lr": 1e-3, "train_lr": 1e-3, "lr_lr": 0.05, "kl_weight": 1.0}


# two zsRE-format training records (the variant "zsre" of rome train)
ZSRE_TOY = [
    {"subject": "France", "src": "What is the capital of France?", "rephrase": "France's capital?",
     "alt": "Rome", "answers": ["Paris"], "loc": "nq question: who wrote hamlet", "loc_ans": "Shakespeare"},
    {"subject": "Japan", "src": "Which continent is Japan in?", "rephrase": "Japan lies in which continent?",
     "alt": "Europe", "answers": ["Asia"], "loc": "nq question: what is water", "loc_ans": "H2O"},
]

# method -> (network class, editor factory, network size setting)
METHODS = {"ke": (KENet, make_ke, {"hidden": 16}), "mend": (MENDNet, make_mend, {"rank": 8})}


@pytest.fixture(params=sorted(METHODS))
def method(request):
    return request.param


def _net(lm, method):
    net_cls, _, size = METHODS[method]
    torch.manual_seed(0)
    return net_cls.for_model(lm, dict(HP, **size))


def test_hypernet_training_lowers_loss(method, tiny_gpt2):
    lm = tiny_gpt2
    net = _net(lm, method)
    log = train_hypernet(lm, net, TINY_EXAMPLES, steps=30, batch_size=2, lr=1e-3, lr_lr=0.05,
                         kl_weight=1.0, seed=0, progress=False)
    first, last = mean(r["loss"] for r in log[:5]), mean(r["loss"] for r in log[-5:])
    assert last < first - 0.05, (first, last)
    assert all(p.requires_grad is False for p in lm.model.parameters())


def test_hypernet_edit_changes_only_its_layers_and_restores(method, tiny_gpt2):
    lm = tiny_gpt2
    net = _net(lm, method)
    ed = METHODS[method][1](HP, net=net)
    result = check_edit_contract(lm, ed, FACTS[:2])
    assert set(result.changed) == {lm.spec.edit_weight_name(l) for l in (2, 3)}
    assert ed.name == method


def test_hypernet_train_checkpoint_resume_and_load(method, tiny_gpt2, tmp_path):
    lm = tiny_gpt2
    records = tmp_path / "zsre.json"
    records.write_text(json.dumps(ZSRE_TOY))
    hp = dict(HP, checkpoint_every=2)
    path = run_training(lm, method, "zsre", hp, steps=4, batch_size=2, out_dir=tmp_path, records=str(records),
                        progress=False)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["finished"] and meta["variant"] == "zsre" and meta["model"] == lm.name
    lines = path.with_suffix(".loss.jsonl").read_text().splitlines()
    assert [json.loads(l)["step"] for l in lines] == [0, 1, 2, 3]
    assert find_checkpoint(tmp_path, method, "zsre", lm.name) == path
    net = load_hypernet(path)
    assert net.layers == [2, 3]
    # a second call with the same inputs reuses the file (no retraining)
    mtime = path.stat().st_mtime_ns
    assert run_training(lm, method, "zsre", hp, steps=4, batch_size=2, out_dir=tmp_path,
                        records=str(records), progress=False) == path
    assert path.stat().st_mtime_ns == mtime
    ed = HypernetEditor(method=method, variant="zsre", hypernet_dir=str(tmp_path))
    check_edit_contract(lm, ed, FACTS[:1])


def test_the_same_training_gives_the_same_bytes(tiny_gpt2, tmp_path):
    """No wall-clock time in the checkpoint or its metadata: two trainings with the same inputs and
    seed write identical files (the reference KE network was once only equal up to its seconds)."""
    records = tmp_path / "zsre.json"
    records.write_text(json.dumps(ZSRE_TOY[:1]))
    paths = [run_training(tiny_gpt2, "ke", "zsre", dict(HP, hidden=16), steps=2, batch_size=1,
                          out_dir=tmp_path / d, records=str(records), progress=False) for d in ("a", "b")]
    for suffix in (".pt", ".json", ".loss.jsonl"):
        a, b = (p.with_suffix(suffix).read_bytes() for p in paths)
        assert a == b, suffix
    assert "seconds_this_run" not in json.loads(paths[0].with_suffix(".json").read_text())


def test_hypernet_resume_continues_from_checkpoint(method, tiny_gpt2, tmp_path):
    lm = tiny_gpt2
    stem = tmp_path / "run"
    full = train_hypernet(lm, _net(lm, method), TINY_EXAMPLES, steps=4, batch_size=2, lr=1e-3, kl_weight=1.0, seed=0,
                          progress=False)
    # interrupted run: 2 steps with a checkpoint, then resumed to 4
    train_hypernet(lm, _net(lm, method), TINY_EXAMPLES, steps=2, batch_size=2, lr=1e-3, kl_weight=1.0, seed=0,
                   stem=stem, progress=False)
    resumed = train_hypernet(lm, _net(lm, method), TINY_EXAMPLES, steps=4, batch_size=2, lr=1e-3, kl_weight=1.0,
                             seed=0, stem=stem, progress=False)
    assert [r["step"] for r in resumed] == [0, 1, 2, 3]
    assert [r["loss"] for r in resumed] == pytest.approx([r["loss"] for r in full], rel=1e-4)


def test_hypernet_missing_checkpoint_names_the_command(method, tiny_gpt2, tmp_path):
    ed = HypernetEditor(method=method, variant="cf", hypernet_dir=str(tmp_path))
    with pytest.raises(FileNotFoundError, match=f"rome train --method {method} --variant cf"):
        ed.apply(tiny_gpt2, FACTS[:1])


def _fake_checkpoint(directory, name, model, mtime, finished=True):
    (directory / f"{name}.json").write_text(json.dumps({"model": model, "finished": finished}))
    weights = directory / f"{name}.pt"
    weights.write_bytes(b"")
    os.utime(weights, (mtime, mtime))
    return weights


def test_find_checkpoint_names_a_broken_metadata_file(tmp_path):
    from counterfact.errors import DataError

    _fake_checkpoint(tmp_path, "ke-cf-aaaa", "m", 100)
    (tmp_path / "ke-cf-bbbb.json").write_text("{not json")
    with pytest.raises(DataError, match="ke-cf-bbbb.json"):
        find_checkpoint(tmp_path, "ke", "cf", "m")


def test_find_checkpoint_warns_when_several_match(tmp_path):
    old = _fake_checkpoint(tmp_path, "mend-cf-aaaa", "m", 100)
    new = _fake_checkpoint(tmp_path, "mend-cf-bbbb", "m", 200)
    _fake_checkpoint(tmp_path, "mend-cf-cccc", "m", 300, finished=False)   # unfinished: never chosen
    _fake_checkpoint(tmp_path, "mend-cf-dddd", "other", 400)               # other model: never chosen
    (tmp_path / "mend-cf-aaaa.examples.json").write_text("[]")              # not metadata
    with pytest.warns(UserWarning, match=r"using the newest, mend-cf-bbbb\.pt \(passed over: mend-cf-aaaa\.pt\)"):
        assert find_checkpoint(tmp_path, "mend", "cf", "m") == new
    new.unlink()
    assert find_checkpoint(tmp_path, "mend", "cf", "m") == old


def test_registry_passes_an_explicit_checkpoint(tiny_gpt2):
    from types import SimpleNamespace

    from rome.editing.registry import make_editor

    options = SimpleNamespace(hypernet_dir="some/dir", hypernet_checkpoint="some/dir/ke-cf-aaaa.pt")
    ed = make_editor("ke-cf", tiny_gpt2, options=options)
    assert (ed.hypernet_dir, ed.checkpoint) == ("some/dir", "some/dir/ke-cf-aaaa.pt")


def test_training_data_variants(tiny_gpt2, tmp_path):
    from counterfact.errors import DataError
    from rome.editing.hypernet_data import HypernetDataError, counterfact_examples, generic_examples

    recs = [{"case_id": i, "requested_rewrite": {"prompt": "{} is a", "subject": f"S{i}",
                                                  "target_new": {"str": "cat"}, "target_true": {"str": "dog"}},
             "paraphrase_prompts": [f"Of S{i}: it is a"]} for i in range(4)]
    path = tmp_path / "cf.json"
    path.write_text(json.dumps(recs))
    ex = counterfact_examples(path, exclude_case_ids=[1, 2])
    assert [e.source for e in ex] == ["counterfact:0", "counterfact:3"]
    assert ex[0].paraphrases == ["Of S0: it is a"] and ex[0].locality == ["S3 is a"]
    recs[0]["requested_rewrite"].pop("subject")
    path.write_text(json.dumps(recs))
    with pytest.raises(HypernetDataError, match="record 0.*subject"):
        counterfact_examples(path)
    with pytest.raises(DataError, match="missing.json: file not found"):
        counterfact_examples(tmp_path / "missing.json")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(" = Heading = \n" + " ".join(
        f"The quick brown fox number {i} jumps over the lazy dog near the river bank today." for i in range(20)))
    gen = generic_examples(tiny_gpt2, corpus, n=3, seed=0, progress=False)
    assert 1 <= len(gen) <= 3 and all(e.target and e.locality for e in gen)
    assert [e.target for e in gen] == [e.target for e in generic_examples(tiny_gpt2, corpus, n=3, seed=0,
                                                                          progress=False)]
