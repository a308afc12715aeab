"""Headings of WikiText's raw format (the one parser every corpus reader uses).

An article starts at a level-1 heading line `` = Title = ``; sections are
`` = = Section = = `` (level 2), `` = = = Sub = = = `` (level 3), and so on. Lines are
compared without their surrounding white space.
"""
from __future__ import annotations

import re

_HEADING = re.compile(r"(=(?: =)*) (.+?) (=(?: =)*)")


def heading(line: str) -> tuple[int, str] | None:
    """``(level, title)`` of a heading line, or None for any other line."""
    m = _HEADING.fullmatch(line.strip())
    if not m or len(m.group(1)) != len(m.group(3)) or m.group(2).startswith("= ") or m.group(2).endswith(" ="):
        return None
    return m.group(1).count("="), m.group(2)


def is_heading(line: str) -> bool:
    return heading(line) is not None


def article_title(line: str) -> str | None:
    """The title of a level-1 (article) heading, or None."""
    h = heading(line)
    return h[1] if h and h[0] == 1 else None
