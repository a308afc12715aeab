"""ParaRel download and copies are checked file by file against pinned sha256 values."""
from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest
from counterfact_testdata import shared_data

import counterfact.download as dl
from counterfact.cli import main
from counterfact.errors import DownloadError

FILES = {"LICENSE": b"MIT License\n",
         "patterns/P1.jsonl": b'{"pattern": "[X] is in [Y].", "lemma": "be", "extended_lemma": "be-in", "tense": "present"}\n',
         "facts/P1.jsonl": b'{"sub_label": "Paris", "obj_label": "France", "uuid": "u1"}\n'}
UPSTREAM = {"LICENSE": "LICENSE", "patterns/P1.jsonl": "data/pattern_data/graphs_json/P1.jsonl",
            "facts/P1.jsonl": "data/trex_lms_vocab/P1.jsonl"}


def _manifest(tmp_path, files=FILES):
    path = tmp_path / "pins.sha256"
    path.write_text("# test pins\n" + "".join(f"{hashlib.sha256(b).hexdigest()}  {rel}\n" for rel, b in files.items()))
    return path


def _tarball(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for rel, data in {**{UPSTREAM[k]: v for k, v in files.items()}, "README.md": b"not extracted"}.items():
            info = tarfile.TarInfo(f"pararel-cb5554678457/{rel}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def serve(monkeypatch):
    """Make the download see ``files`` as the upstream tarball (no network involved)."""
    def install(files):
        blob = _tarball(files)
        monkeypatch.setattr(dl.socket, "create_connection", lambda *a, **k: io.BytesIO())
        monkeypatch.setattr(dl.urllib.request, "urlopen", lambda url, timeout: io.BytesIO(blob))
    return install


def test_download_checks_every_file_then_writes(tmp_path, serve):
    serve(FILES)
    dest = dl.download_pararel(tmp_path / "pp", manifest=_manifest(tmp_path))
    assert {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()} == set(FILES) | {"SOURCE.json"}
    assert (dest / "facts" / "P1.jsonl").read_bytes() == FILES["facts/P1.jsonl"]
    source = json.loads((dest / "SOURCE.json").read_text())
    assert source["verified"] is True and source["files"] == 3 and source["commit"] == dl.PARAREL_COMMIT


def test_a_changed_upstream_file_fails_and_writes_nothing(tmp_path, serve):
    serve(dict(FILES, **{"facts/P1.jsonl": b'{"sub_label": "Paris", "obj_label": "Italy", "uuid": "u1"}\n'}))
    with pytest.raises(DownloadError, match=r"facts/P1\.jsonl: sha256 [0-9a-f]{64}, pinned") as err:
        dl.download_pararel(tmp_path / "pp", manifest=_manifest(tmp_path))
    assert "--no-verify" in str(err.value)
    assert not (tmp_path / "pp").exists()
    # --no-verify writes it and records that it did not match
    dest = dl.download_pararel(tmp_path / "pp", manifest=_manifest(tmp_path), verify=False)
    source = json.loads((dest / "SOURCE.json").read_text())
    assert source["verified"] is False and source["problems"][0].startswith("facts/P1.jsonl")


def test_verify_names_missing_extra_and_changed_files(tmp_path):
    root = tmp_path / "copy"
    for rel, data in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    pins = _manifest(tmp_path)
    assert dl.verify_pararel(root, pins) == []
    (root / "patterns" / "P1.jsonl").unlink()
    (root / "facts" / "P2.jsonl").write_bytes(b"{}\n")
    (root / "LICENSE").write_bytes(b"changed\n")
    problems = dl.verify_pararel(root, pins)
    assert problems[0].startswith("LICENSE: sha256") and "facts/P2.jsonl: not in the pinned list" in problems
    assert "patterns/P1.jsonl: missing" in problems and len(problems) == 3
    with pytest.raises(DownloadError, match="paths.pararel"):
        dl.verify_pararel(tmp_path / "nowhere", pins)


def test_a_broken_pin_file_is_an_error_naming_the_line(tmp_path):
    bad = tmp_path / "bad.sha256"
    bad.write_text("# pins\nnot-a-checksum  LICENSE\n")
    with pytest.raises(DownloadError, match="bad.sha256, line 2"):
        dl.pinned_checksums(bad)


@pytest.mark.skipif(not (shared_data() / "pararel" / "facts").is_dir(), reason="shared data not found")
def test_the_local_copy_matches_the_pinned_upstream(capsys):
    assert main(["verify-pararel", str(shared_data() / "pararel")]) == 0
    assert "matches pararel-cb5554678457.sha256" in capsys.readouterr().out
    assert len(dl.pinned_checksums()) == 81  # LICENSE, 39 pattern files, 41 fact files


def test_cli_verify_fails_on_a_changed_copy(tmp_path, capsys):
    (tmp_path / "patterns").mkdir()
    (tmp_path / "patterns" / "P17.jsonl").write_text("{}\n")
    assert main(["verify-pararel", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "patterns/P17.jsonl: sha256" in out and "LICENSE: missing" in out
