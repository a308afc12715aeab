import json

from rome.audit import audit
from rome.cli import main
from rome.provenance import write_provenance
from rome.report import build_index


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
