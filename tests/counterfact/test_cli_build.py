import json

from counterfact.cli import main


def test_cli_build_validate_stats(pararel_dir, corpus_file, templates_yaml, tmp_path, capsys):
    out, rep = tmp_path / "cf.json", tmp_path / "report.json"
    rc = main(["build", "--pararel-dir", str(pararel_dir), "--out", str(out), "--corpus", str(corpus_file),
               "--relations", "P1,P2", "--templates", str(templates_yaml), "--report", str(rep), "--quiet",
               "--keep-incomplete"])
    assert rc == 0
    report = json.loads(rep.read_text())
    assert report["n_records"] == len(json.loads(out.read_text())) > 0
    assert report["dropped_by_reason"]["no_alternative_object"] == 3
    assert report["policy"]["ambiguous"] == "keep-first"  # the default
    assert report["dropped_by_reason"]["ambiguous_subject"] == 1
    assert report["output"]["sha256"]
    # a hand-made ParaRel is not the pinned upstream commit, and the report says so
    assert report["inputs"]["pararel_is_pinned_upstream"] is False
    # --keep-incomplete records have short neighbourhoods: strict validation fails, lenient passes
    assert main(["validate", str(out)]) == 1
    assert main(["validate", str(out), "--lenient-counts"]) == 0
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


def test_cli_build_ambiguous_drop_option(pararel_dir, corpus_file, templates_yaml, tmp_path, capsys):
    counts = {}
    for policy in ("keep-first", "drop"):
        out, rep = tmp_path / f"{policy}.json", tmp_path / f"{policy}.report.json"
        assert main(["build", "--pararel-dir", str(pararel_dir), "--out", str(out), "--corpus", str(corpus_file),
                     "--relations", "P1,P2", "--templates", str(templates_yaml), "--report", str(rep), "--quiet",
                     "--keep-incomplete", "--ambiguous", policy]) == 0
        report = json.loads(rep.read_text())
        assert report["policy"]["ambiguous"] == policy
        counts[policy] = (report["n_records"], report["dropped_by_reason"]["ambiguous_subject"])
    assert counts["drop"] == (counts["keep-first"][0] - 1, 2)
    assert counts["keep-first"][1] == 1


def test_cli_defaults():
    from counterfact.cli import build_parser

    p = build_parser()
    b = p.parse_args(["build", "--pararel-dir", "x", "--out", "y", "--corpus", "z"])
    assert b.ambiguous == "keep-first"
    r = p.parse_args(["reference-texts", "--records", "x", "--corpus", "y", "--out-dir", "z"])
    assert r.match == "title+mention"
