"""Fixtures: small synthetic ParaRel folders and corpora built in tmp_path."""
from __future__ import annotations

from pathlib import Path

import pytest
from counterfact_testdata import CORPUS, TEMPLATE_RESOURCES, make_pararel


@pytest.fixture
def pararel_dir(tmp_path) -> Path:
    return make_pararel(tmp_path / "pararel")


@pytest.fixture
def corpus_file(tmp_path) -> Path:
    p = tmp_path / "corpus.raw"
    p.write_text(CORPUS, encoding="utf-8")
    return p


@pytest.fixture
def templates_yaml(tmp_path) -> Path:
    import yaml

    p = tmp_path / "templates.yaml"
    p.write_text(yaml.safe_dump({"relations": TEMPLATE_RESOURCES}), encoding="utf-8")
    return p
