"""Every editing method in the registry has walked docs/adding-a-method.md: typed
hyperparameters, defaults for the embedded model and the tiny test models, a table name, a
workflow key, and a row in the walkthrough's table naming the page that documents it."""
from __future__ import annotations

import re

import pytest
import yaml

from rome.editing.hparams import HPARAMS_CLASSES, HPARAMS_DIR, hparams_class, load_hparams
from rome.editing.registry import METHODS
from rome.results.layout import DISPLAY_NAMES
from testpaths import REPO

WALKTHROUGH = REPO / "docs" / "adding-a-method.md"


def _table() -> dict[str, tuple[str, str, str]]:
    """``{registry name: (editor module, hyperparameter class, docs page)}`` from the walkthrough."""
    rows = {}
    for line in WALKTHROUGH.read_text(encoding="utf-8").splitlines():
        m = re.fullmatch(r"\| `([^`]+)` \| `([^`]+)` \| `([^`]+)` \| `([^`]+)` \|", line.strip())
        if m:
            rows[m.group(1)] = (m.group(2), m.group(3), m.group(4))
    return rows


def test_the_walkthrough_lists_exactly_the_registry():
    assert sorted(_table()) == sorted(METHODS)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_each_method_has_typed_hyperparameters_and_defaults(method):
    module, class_name, _ = _table()[method]
    cls = hparams_class(method)
    assert cls.__name__ == class_name
    assert HPARAMS_CLASSES[cls.method] is cls
    for model in ("gemma-3-270m", "tiny"):
        assert (HPARAMS_DIR / cls.method / f"{model}.yaml").is_file(), f"{method}: no defaults for {model}"
        hp = load_hparams(cls.method, model)
        assert isinstance(hp, cls)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_each_method_has_a_table_name_a_workflow_key_and_a_docs_page(method):
    import importlib

    module, _, page = _table()[method]
    importlib.import_module(module)
    assert method in DISPLAY_NAMES, f"{method}: no display name in rome.results.layout.DISPLAY_NAMES"
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text(encoding="utf-8"))
    assert method in schema["$defs"]["method"]["enum"], f"{method}: not accepted by editing.methods"
    text = (REPO / page).read_text(encoding="utf-8")
    assert DISPLAY_NAMES[method] in text, f"{page} does not mention {DISPLAY_NAMES[method]}"


def test_the_checks_would_see_a_method_that_skipped_the_walkthrough(monkeypatch):
    monkeypatch.setitem(METHODS, "new-method", METHODS["ft"])
    assert sorted(_table()) != sorted(METHODS)
