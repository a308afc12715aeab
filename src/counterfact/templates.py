"""Autoregressive prompt templates per relation.

A template is a string with ``{}`` exactly once (where the subject goes) that ends where
the object would begin, e.g. ``"The mother tongue of {} is"``.

Two sources:

* ParaRel patterns whose ``[Y]`` is last: ``"The native language of [X] is [Y] ."``
  becomes ``"The native language of {} is"`` (:func:`pattern_to_template`);
* our own hand-written rewrites in ``resources/templates.yaml`` (for relations where
  ParaRel has few object-final patterns), plus the hand-written open-ended generation
  prompts.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import resources

import yaml

from .errors import DataError

_TRAILING = re.compile(r"[\s.,;:!?]+$")
# Patterns that end in an article before [Y] are dropped: the article would have to agree
# with the object ("a"/"an"), which the template cannot know.
_ARTICLE_END = re.compile(r"(?:^|\s)(?:a|an)$", re.IGNORECASE)


def pattern_to_template(pattern: str) -> str | None:
    """Turn a ParaRel pattern into an autoregressive template, or ``None`` when it cannot be one.

    ``None`` when ``[Y]`` is not the last content of the pattern (only spaces and
    punctuation may follow it), when ``[X]``/``[Y]`` is not there exactly once, when
    ``[X]`` comes after ``[Y]``, or when the text before ``[Y]`` ends in "a"/"an".
    Whitespace is normalised and a lower-case first letter is capitalised.
    """
    if pattern.count("[X]") != 1 or pattern.count("[Y]") != 1:
        return None
    head, _, tail = pattern.partition("[Y]")
    if tail.strip() and not _TRAILING.fullmatch(tail):
        return None
    if "[X]" not in head:
        return None
    head = " ".join(head.split())  # collapse runs of spaces, strip
    if not head.replace("[X]", "").strip():
        return None  # "[X] [Y]": nothing relational left
    if head.endswith("-") or _ARTICLE_END.search(head):
        return None
    template = head.replace("[X]", "{}")
    if template[0].islower():
        template = template[0].upper() + template[1:]
    return template


@dataclass(frozen=True)
class RelationTemplates:
    relation_id: str
    templates: tuple[str, ...]       # for prompts, paraphrases, neighbourhood and attribute prompts
    from_pararel: tuple[str, ...]    # the subset converted from ParaRel patterns
    generation: tuple[str, ...]      # hand-written open-ended generation prompts


def check_template(template: str, where: str) -> str:
    if not isinstance(template, str) or template.count("{}") != 1:
        raise DataError(where, f"template must contain '{{}}' exactly once: {template!r}")
    if template.replace("{}", "").count("{") or template.replace("{}", "").count("}"):
        raise DataError(where, f"template has stray braces: {template!r}")
    if template != template.strip():
        raise DataError(where, f"template has leading/trailing whitespace: {template!r}")
    return template


def load_template_resources(path: str | os.PathLike | None = None) -> dict[str, dict[str, list[str]]]:
    """The hand-written rewrites and generation prompts: ``{relation: {"rewrites": [...], "generation": [...]}}``."""
    if path is None:
        text = resources.files("counterfact").joinpath("resources/templates.yaml").read_text("utf-8")
        where = "counterfact/resources/templates.yaml"
    else:
        from atomicio import read_utf8
        text = read_utf8(path)
        where = str(path)
    raw = yaml.safe_load(text) or {}
    rels = raw.get("relations", {})
    if not isinstance(rels, dict):
        raise DataError(where, "top-level key 'relations' must map relation ids to entries")
    out: dict[str, dict[str, list[str]]] = {}
    for rel, entry in rels.items():
        entry = entry or {}
        rew = [check_template(t, f"{where} [{rel}.rewrites]") for t in entry.get("rewrites", []) or []]
        gen = [check_template(t, f"{where} [{rel}.generation]") for t in entry.get("generation", []) or []]
        out[str(rel)] = {"rewrites": rew, "generation": gen}
    return out


def relation_templates(relation_id: str, patterns, resources_: dict | None = None) -> RelationTemplates:
    """Templates of one relation: ParaRel object-final patterns first (file order), then our
    rewrites, de-duplicated (first occurrence kept)."""
    resources_ = load_template_resources() if resources_ is None else resources_
    entry = resources_.get(relation_id, {"rewrites": [], "generation": []})
    converted = []
    for p in patterns:
        t = pattern_to_template(p.text if hasattr(p, "text") else p)
        if t is not None and t not in converted:
            converted.append(t)
    templates = list(converted)
    for t in entry["rewrites"]:
        if t not in templates:
            templates.append(t)
    gen = list(dict.fromkeys(entry["generation"]))
    return RelationTemplates(relation_id, tuple(templates), tuple(converted), tuple(gen))


def fill(template: str, subject: str) -> str:
    """Put the subject into a template (plain replacement: subjects may contain braces)."""
    return template.replace("{}", subject, 1)
