"""Single-file upstream inputs: pinned JSON content, checksums recorded on first download, clear errors."""
from __future__ import annotations

import io
import json

import pytest
from counterfact_testdata import shared_data

import counterfact.download as dl
import counterfact.fetch as fetch
from counterfact.cli import main
from counterfact.errors import DownloadError

KNOWN = shared_data() / "known_1000.json"


@pytest.fixture
def serve(monkeypatch):
    """Answer every URL with ``blob`` (no network involved)."""
    class _Conn:
        def close(self):
            pass

    def install(blob: bytes):
        monkeypatch.setattr(dl.socket, "create_connection", lambda *a, **k: _Conn())
        monkeypatch.setattr(dl.urllib.request, "urlopen", lambda url, timeout: io.BytesIO(blob))
    return install


@pytest.mark.skipif(not KNOWN.is_file(), reason="shared data not found")
def test_known_facts_match_the_pinned_content_even_reserialised(tmp_path, serve):
    records = json.loads(KNOWN.read_text(encoding="utf-8"))
    serve(json.dumps(records, indent=2).encode("utf-8"))           # other whitespace, same records
    path = fetch.fetch_upstream("known_facts_released", tmp_path)
    assert path.name == "known_1000.json" and json.loads(path.read_text()) == records
    record = json.loads((tmp_path / "known_1000.json.source.json").read_text())
    assert record["check"] == "pinned JSON content"
    records[5]["attribute"] = "Mars"                                 # one changed fact
    serve(json.dumps(records).encode("utf-8"))
    with pytest.raises(DownloadError, match="differs from the pinned"):
        fetch.fetch_upstream("known_facts_released", tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_unpinned_file_is_recorded_then_checked(tmp_path, serve):
    serve(b'[{"subject": "a"}]')
    path = fetch.fetch_upstream("zsre_eval", tmp_path)
    assert path.read_bytes() == b'[{"subject": "a"}]'
    assert json.loads((tmp_path / "zsre_mend_eval.json.source.json").read_text())["check"] == "recorded on first download"
    fetch.fetch_upstream("zsre_eval", tmp_path)                      # same bytes: fine
    serve(b'[{"subject": "b"}]')
    with pytest.raises(DownloadError, match="upstream file changed"):
        fetch.fetch_upstream("zsre_eval", tmp_path)
    assert path.read_bytes() == b'[{"subject": "a"}]'                # the earlier file is kept


def test_corpus_comes_through_datasets(tmp_path, monkeypatch):
    import datasets
    calls = []

    def fake_load(path, name, split):
        calls.append((path, name, split))
        return [{"text": " = Title = \n"}, {"text": ""}, {"text": " Some text .\n"}]
    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    assert main(["fetch", "wiki.test.raw", "--dest-dir", str(tmp_path)]) == 0    # by file name
    assert calls == [("wikitext", "wikitext-2-raw-v1", "test")]
    # blank lines (empty rows) are kept: the corpus readers split articles and paragraphs on them
    assert (tmp_path / "wiki.test.raw").read_text() == " = Title = \n\n Some text .\n"


def test_offline_and_unknown_keys_are_clear_errors(tmp_path, monkeypatch, capsys):
    def no_net(*a, **k):
        raise OSError("network unreachable")
    monkeypatch.setattr(dl.socket, "create_connection", no_net)
    assert main(["fetch", "known_facts_released", "--dest-dir", str(tmp_path)]) == 2
    assert "paths.known_facts_released" in capsys.readouterr().err
    with pytest.raises(DownloadError, match="paths.zsre_train: MEND's zsRE training split has no stable public URL"):
        fetch.fetch_upstream("zsre_train", tmp_path)
    with pytest.raises(DownloadError, match="keys with one"):
        fetch.fetch_upstream("nonsense", tmp_path)
    with pytest.raises(DownloadError, match="no upstream source writes"):
        fetch.upstream_for_file("other.json")
