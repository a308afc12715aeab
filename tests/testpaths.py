"""Where the tests find upstream data and the converted models (the library takes both from
its caller; tests are callers). Imported by conftest and by tests (``from testpaths import ...``)."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ROME_SHARED_DATA", REPO.parent / "shared" / "data"))
WIKITEXT2 = str(SHARED_DATA / "wikitext-2" / "wiki.test.raw")
MODELS_DIR = Path(os.environ.get("ROME_MODELS_DIR", REPO / "data" / "models"))
