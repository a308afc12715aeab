import json

from rome.cli.main import main
from rome.render.report import build_index
from rome.results.audit import audit
from rome.results.provenance import write_provenance


def _make(tmp_path):
    inp = tmp_path / "data" / "records.json"
    inp.parent.mkdir(parents=True)
    inp.write_text("[1, 2, 3]")
    out = tmp_path / "figures" / "table4_counterfact.md"
    out.parent.mkdir(parents=True)
    out.write_text("| S |\n|---|\n| 89.2 |\n")
    prov = tmp_path / "data" / "provenance"
    write_provenance(prov, "render_table4", [str(inp)], [str(out)], {"model": "tiny"})
    return inp, out, prov


def test_clean_audit_has_no_findings(tmp_path):
    _, _, prov = _make(tmp_path)
    findings, n = audit(prov)
    assert n == 1 and findings == []


def test_audit_flags_modified_intermediate_and_output(tmp_path, capsys):
    inp, out, prov = _make(tmp_path)
    inp.write_text("[1, 2, 4]")  # a deliberately modified intermediate file
    findings, _ = audit(prov)
    assert [(f.status, f.artifact) for f in findings] == [("stale", str(out))]
    out.write_text("tampered")
    statuses = sorted(f.status for f in audit(prov)[0])
    assert statuses == ["modified", "stale"]
    assert main(["audit", "--dir", str(prov)]) == 1
    assert "stale" in capsys.readouterr().out


def test_audit_reports_missing_files(tmp_path):
    inp, out, prov = _make(tmp_path)
    out.unlink()
    assert [f.status for f in audit(prov)[0]] == ["missing"]


def test_report_index_lists_files_with_provenance(tmp_path):
    inp, out, prov = _make(tmp_path)
    page = build_index(out.parent, prov)
    assert "table4" in page and "render_table4" in page and "89.2" in page
    assert "ROME S 89.2" in page  # the paper's value from the catalogue


def _per_item_run(tmp_path):
    """A step's outputs as the workflow has them: ``main.done`` and ``main/`` with per-fact files and a manifest."""
    from rome.results.cache_key import item_record

    run = tmp_path / "data" / "tracing" / "main"
    (run / "hidden").mkdir(parents=True)
    for kid in (0, 1):
        (run / "hidden" / f"{kid}.npz").write_bytes(bytes(range(200)) * (kid + 1))
    items = {f"hidden/{k}.npz": item_record(run / "hidden" / f"{k}.npz") for k in (0, 1)}
    (run / "manifest.json").write_text(json.dumps({"items": items, "known_ids": [0, 1]}))
    done = run.with_suffix(".done")
    done.write_text('{"traced": 2}\n')
    prov = tmp_path / "data" / "provenance"
    write_provenance(prov, "trace_batch", [], [str(done)], {})
    return run, prov


def test_audit_names_each_corrupted_or_missing_per_item_file(tmp_path, capsys):
    run, prov = _per_item_run(tmp_path)
    assert audit(prov)[0] == []
    truncated, changed = run / "hidden" / "0.npz", run / "hidden" / "1.npz"
    truncated.write_bytes(truncated.read_bytes()[:50])
    data = bytearray(changed.read_bytes())
    data[7] ^= 1  # same size, other bytes
    changed.write_bytes(bytes(data))
    found = {(f.status, f.artifact): f.detail for f in audit(prov)[0]}
    assert set(found) == {("corrupted", str(truncated)), ("corrupted", str(changed))}
    assert "size 50 bytes" in found[("corrupted", str(truncated))]
    assert main(["audit", "--dir", str(prov)]) == 1
    assert str(truncated) in capsys.readouterr().out
    changed.unlink()
    assert ("missing", str(changed)) in {(f.status, f.artifact) for f in audit(prov)[0]}
