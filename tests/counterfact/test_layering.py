"""counterfact depends on nothing in rome (layering: rome uses counterfact, never the reverse)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import counterfact

MODULES = sorted(p.stem for p in Path(counterfact.__file__).parent.glob("*.py") if p.stem != "__init__")


def test_importing_every_counterfact_module_imports_no_rome_module():
    code = ("import importlib, json, sys\n"
            f"for m in {MODULES!r}: importlib.import_module('counterfact.' + m)\n"
            "from counterfact.cli import build_parser\n"
            "build_parser()\n"
            "print(json.dumps(sorted(m for m in sys.modules if m == 'rome' or m.startswith('rome.'))))\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert {"builder", "cli", "compare", "export", "known_facts", "validate"} <= set(MODULES)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_no_counterfact_source_names_rome():
    for p in Path(counterfact.__file__).parent.glob("*.py"):
        text = p.read_text("utf-8")
        assert "import rome" not in text and "from rome" not in text, p.name
