import json

from counterfact.cli import main


def test_cli_build_validate_stats(pararel_dir, corpus_file, templates_yaml, tmp_path, capsys):
    out, rep = tmp_path / "cf.json", tmp_path / "report.json"
    rc = main(["build", "--pararel-dir", str(pararel_dir), "--out", str(out), "--corpus", str(corpus_file),
               "--relations", "P1,P2", "--templates", str(templates_yaml), "--report", str(rep), "--quiet"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    report = json.loads(rep.read_text())
    assert report["n_records"] == len(json.loads(out.read_text())) == summary["table2"]["records"] == 14
    assert report["dropped_by_reason"] == {"duplicate_fact": 1, "no_alternative_object": 3, "no_neighbor_subject": 1}
    assert report["policy"]["ambiguous"] == "per-object"  # the default
    assert summary["paraphrase_prefix_words"]["released"] == {"median": 7, "p10": 3, "p90": 10, "max": 10}
    assert report["output"]["sha256"]
    # a hand-made ParaRel is not the pinned upstream commit, and the report says so
    assert report["inputs"]["pararel_is_pinned_upstream"] is False
    # short neighbourhoods (German: 7) are valid: the metrics average over the prompts that exist
    assert main(["validate", str(out)]) == 0
    capsys.readouterr()
    assert main(["stats", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"]["paraphrase_prompts"]["per_record"] == 2.0


def test_cli_missing_corpus_is_a_clear_error(pararel_dir, tmp_path, capsys):
    rc = main(["build", "--pararel-dir", str(pararel_dir), "--out", str(tmp_path / "x.json"),
               "--corpus", str(tmp_path / "none.raw"), "--relations", "P1", "--quiet"])
    assert rc == 2 and "corpus not found" in capsys.readouterr().err


def test_cli_download_fails_fast_without_network(tmp_path, capsys, monkeypatch):
    import counterfact.download as dl

    def no_net(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(dl.socket, "create_connection", no_net)
    assert main(["download", "--dest", str(tmp_path / "pp")]) == 2
    assert "paths.pararel" in capsys.readouterr().err


def test_cli_build_ambiguous_options(pararel_dir, corpus_file, templates_yaml, tmp_path, capsys):
    counts = {}
    for policy in ("per-object", "keep-first", "drop"):
        out, rep = tmp_path / f"{policy}.json", tmp_path / f"{policy}.report.json"
        assert main(["build", "--pararel-dir", str(pararel_dir), "--out", str(out), "--corpus", str(corpus_file),
                     "--relations", "P1,P2", "--templates", str(templates_yaml), "--report", str(rep), "--quiet",
                     "--ambiguous", policy]) == 0
        report = json.loads(rep.read_text())
        assert report["policy"]["ambiguous"] == policy
        counts[policy] = (report["n_records"], report["dropped_by_reason"].get("ambiguous_subject", 0))
    assert counts == {"per-object": (14, 0), "keep-first": (13, 1), "drop": (12, 2)}


def test_cli_defaults():
    from counterfact.cli import build_parser

    p = build_parser()
    b = p.parse_args(["build", "--pararel-dir", "x", "--out", "y", "--corpus", "z"])
    assert b.ambiguous == "per-object" and b.neighbour_pool == 150
    r = p.parse_args(["reference-texts", "--records", "x", "--corpus", "y", "--out-dir", "z"])
    assert r.match == "title+mention"
