"""Long lists shown a page at a time (the home page's jobs, Classify Many's images)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    number: int  # from 1
    count: int  # pages in all (at least 1)
    total: int  # rows in all
    first: int  # the index of its first row among all, from 0

    def to_dict(self) -> dict[str, int]:
        return {"page": self.number, "pages": self.count, "total": self.total, "first": self.first}


def page_number(text: str | None) -> int:
    """A page number from an address (anything that is not one: the first page)."""
    try:
        return max(1, int(text or 1))
    except ValueError:
        return 1


def page_of(rows: list[Any], number: int, size: int) -> Page:
    """Page `number` of `rows` (the last one if there are fewer)."""
    count = max(1, -(-len(rows) // size))
    number = min(max(1, number), count)
    first = (number - 1) * size
    return Page(rows[first : first + size], number, count, len(rows), first)
