"""A registry of named things (job types, tasks): one per name, registered on import."""

from __future__ import annotations

from typing import Generic, TypeVar

Named = TypeVar("Named")


class Registry(Generic[Named]):
    def __init__(self, kind: str, unknown: type[LookupError]):
        self.kind, self.unknown = kind, unknown
        self._items: dict[str, Named] = {}

    def add(self, item: Named) -> Named:
        """Add one; a second of the same name is a mistake, not a replacement (the same one
        again is a module imported twice)."""
        known = self._items.get(item.name)
        if known is not None and known is not item:
            raise ValueError(f"a {self.kind} named {item.name!r} is registered already")
        self._items[item.name] = item
        return item

    def get(self, name: str) -> Named:
        try:
            return self._items[name]
        except KeyError:
            raise self.unknown(f"this server does not know {self.kind} {name!r}") from None

    def find(self, name: str) -> Named | None:
        return self._items.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._items

    def values(self) -> list[Named]:
        return list(self._items.values())
