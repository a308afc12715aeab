"""Package defaults kept as data (``resources/*.yaml``), not code."""
from __future__ import annotations

from importlib import resources

import yaml


def default_relations() -> list[str]:
    """The 33 ParaRel relations of COUNTERFACT (``resources/relations.yaml``)."""
    text = resources.files("counterfact").joinpath("resources/relations.yaml").read_text("utf-8")
    return [str(r) for r in yaml.safe_load(text)["counterfact_relations"]]


def parse_relations(arg: str | None) -> list[str]:
    """``"P17,P19"`` → ``["P17", "P19"]``; ``None``/empty → the default list."""
    if not arg:
        return default_relations()
    rels = [r.strip() for r in arg.split(",") if r.strip()]
    return list(dict.fromkeys(rels))
