"""The package dependency rule (README, "Layout"): imports only point down.

Each package is imported in a fresh interpreter and the modules it pulled in are checked
against its forbidden packages. A forbidden edge found here is a layering bug.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# importing the key (every module of it) must not load any module under the listed prefixes
FORBIDDEN = {
    "atomicio": ["counterfact", "rome", "replkit", "torch"],
    "replkit": ["counterfact", "rome", "atomicio", "torch"],
    "counterfact": ["rome"],
    "rome.layout": ["torch", "rome.evaluation", "rome.editing"],
    "rome.render": ["torch", "rome.evaluation", "rome.editing", "rome.tracing"],
    "rome.editing": ["rome.evaluation", "rome.render"],
    "rome.tracing": ["rome.evaluation", "rome.editing", "rome.render"],
    "rome.evaluation": ["rome.render", "rome.tracing"],
    "rome.models": ["rome.testing", "rome.editing", "rome.evaluation", "rome.tracing"],
    "rome.tiny_models": ["rome.testing", "rome.models"],
    "rome.testing": ["rome.models"],
    "rome.scoring": ["rome.evaluation", "rome.editing"],
    "rome.generation": ["rome.evaluation", "rome.editing", "rome.tracing", "rome.render"],
    "rome.record_prompts": ["rome.evaluation", "rome.editing", "torch"],
    "rome.prompt_metrics": ["torch", "rome.evaluation", "rome.editing", "rome.tracing", "rome.render"],
}

_PROBE = r"""
import importlib, json, pkgutil, sys
name = sys.argv[1]
mod = importlib.import_module(name)
if hasattr(mod, "__path__"):
    for info in pkgutil.walk_packages(mod.__path__, name + "."):
        importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""


def _loaded(package: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", _PROBE, package], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _violations(package: str, forbidden: list[str]) -> list[str]:
    loaded = _loaded(package)
    return sorted(m for m in loaded for f in forbidden
                  if (m == f or m.startswith(f + ".")) and not (m == package or m.startswith(package + ".")))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_forbidden_imports(package):
    bad = _violations(package, FORBIDDEN[package])
    assert not bad, f"{package} imports {bad}"


def _static_imports(folder: Path) -> dict[str, set[str]]:
    """Top-level package names each file imports, lazy (in-function) imports included."""
    out: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        out[str(path.relative_to(SRC))] = names
    return out


@pytest.mark.parametrize("package, forbidden", [("counterfact", {"rome"}), ("atomicio", {"rome", "counterfact"}),
                                                ("replkit", {"rome", "counterfact", "torch"})])
def test_no_forbidden_imports_even_lazily(package, forbidden):
    bad = {f: sorted(n & forbidden) for f, n in _static_imports(SRC / package).items() if n & forbidden}
    assert not bad, bad
