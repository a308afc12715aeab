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
    "rome.cli": ["torch", *(f"rome.{g}" for g in ("model", "results", "tracing", "editing", "evaluation", "render"))],
    "rome.model": ["rome.results", "rome.tracing", "rome.editing", "rome.evaluation", "rome.render", "rome.testing"],
    "rome.model.loading": ["rome.testing", "rome.model.tiny_models"],
    "rome.model.tiny_models": ["rome.testing", "rome.model.loading"],
    "rome.model.record_prompts": ["torch"],
    "rome.testing": ["rome.model.loading"],
    "rome.results": ["rome.tracing", "rome.editing", "rome.evaluation", "rome.render"],
    "rome.results.layout": ["torch"],
    "rome.results.paper_values": ["torch"],
    "rome.results.prompt_metrics": ["torch"],
    "rome.results.stats_util": ["torch"],
    "rome.results.traces": ["torch"],
    "rome.tracing": ["rome.evaluation", "rome.editing", "rome.render"],
    "rome.editing": ["rome.evaluation", "rome.render", "rome.tracing"],
    "rome.evaluation": ["rome.render", "rome.tracing"],
    "rome.render": ["torch", "rome.model.loading", "rome.evaluation", "rome.editing", "rome.tracing"],
}

# The groups of ``rome`` and the groups each may import, lazily (inside a function) too: the
# layers of README's "Layout", bottom first. ``cli`` is the command-line plumbing (the
# dispatcher imports each command's module by name, when it runs; ``paths`` holds the defaults).
ROME_GROUPS = {
    "cli": set(),
    "model": {"cli"},
    "results": {"cli", "model"},
    "tracing": {"cli", "model", "results"},
    "editing": {"cli", "model", "results"},
    "evaluation": {"cli", "model", "results", "editing"},
    "render": {"cli", "results"},
    "testing": {"model"},
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


def _rome_group_imports() -> dict[str, set[str]]:
    """``{rome module: rome groups it imports}``, relative and lazy imports included."""
    out: dict[str, set[str]] = {}
    for path in sorted((SRC / "rome").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        package = parts[:-1]
        groups = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[list[str]] = []
            if isinstance(node, ast.Import):
                targets = [a.name.split(".") for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                module = base + (node.module.split(".") if node.module else [])
                targets = [module] if node.module else [module + [a.name] for a in node.names]
            groups |= {t[1] for t in targets if len(t) > 1 and t[0] == "rome"}
        out[".".join(parts)] = groups
    return out


def test_every_rome_module_belongs_to_a_group():
    loose = sorted(m for m in _rome_group_imports() if m.count(".") == 1 and m.split(".")[1] not in ROME_GROUPS
                   and m != "rome.__init__")
    top = sorted(p.name for p in (SRC / "rome").iterdir() if p.is_dir() and (p / "__init__.py").exists())
    assert not loose, f"modules directly under src/rome/ outside the groups: {loose}"
    assert set(top) <= set(ROME_GROUPS), f"sub-packages not in ROME_GROUPS: {set(top) - set(ROME_GROUPS)}"


def test_rome_groups_import_only_lower_groups_even_lazily():
    bad = {}
    for module, groups in _rome_group_imports().items():
        own = module.split(".")[1]
        extra = groups - ROME_GROUPS.get(own, set()) - {own}
        if extra:
            bad[module] = sorted(extra)
    assert not bad, f"imports against the layers (README, Layout): {bad}"


def test_the_layer_table_has_no_cycle():
    seen: set[str] = set()
    order: list[str] = []

    def visit(group: str, path: tuple[str, ...]) -> None:
        assert group not in path, f"cycle: {' -> '.join(path + (group,))}"
        if group in seen:
            return
        for lower in ROME_GROUPS[group]:
            visit(lower, path + (group,))
        seen.add(group)
        order.append(group)

    for g in ROME_GROUPS:
        visit(g, ())
    assert order.index("cli") < order.index("model") < order.index("results") < order.index("evaluation")


def _module_imports(package_dir: Path, prefix: str) -> dict[str, set[str]]:
    """``{module: modules of the same package it imports}`` (lazy imports included)."""
    out: dict[str, set[str]] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = parts[:-1]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                module = ".".join(base + (node.module.split(".") if node.module else []))
                deps |= {module} if node.module else {f"{module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
        out[name] = {d for d in deps if d.startswith(prefix + ".") and d != name}
    return out


@pytest.mark.parametrize("package", ["counterfact", "rome"])
def test_no_import_cycles_between_modules(package):
    graph = _module_imports(SRC / package, package)
    state: dict[str, int] = {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for d in sorted(graph.get(m, ())):
            if d not in graph:
                continue
            if state.get(d) == 1:
                raise AssertionError(f"import cycle: {' -> '.join(stack[stack.index(d):] + [d])}"
                                     if d in stack else f"import cycle through {d}")
            if d not in state:
                visit(d, stack + [d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])

