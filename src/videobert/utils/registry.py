"""A name -> item registry whose built-in entries register themselves when their modules load.

Backbones (``videobert.features.registry``) and tasks (``videobert.tasks.base``) are both kept in
one: items register once under a unique name, the built-in modules are imported on the first
look-up, and an unknown name is an error that suggests the closest one.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from videobert.errors import VideoBertError

T = TypeVar("T")


class Registry(Generic[T]):
    """Items of one ``kind`` by name, in registration order (the built-in modules' first).

    Args:
        kind: what the items are, for messages (``"backbone"``).
        modules: modules that register the built-in items when imported.
        name_of: an item's name (its ``name`` attribute by default).
        error: the error class for an unknown name.
    """

    def __init__(
        self,
        kind: str,
        modules: Sequence[str],
        name_of: Callable[[T], str] = lambda item: item.name,  # type: ignore[attr-defined]
        error: type[VideoBertError] = VideoBertError,
    ) -> None:
        self.kind = kind
        self.modules = tuple(modules)
        self.name_of = name_of
        self.error = error
        self._items: dict[str, T] = {}
        self._loaded = False

    def register(self, item: T) -> T:
        """Add ``item`` under its name (once: another item under a taken name is an error); returns it."""
        name = self.name_of(item)
        if name in self._items and self._items[name] is not item:
            raise VideoBertError(f"a {self.kind} named {name!r} is already registered")
        self._items[name] = item
        return item

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self.modules:
                importlib.import_module(module)

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        self._load()
        return list(self._items)

    def get(self, name: str) -> T:
        """The item registered as ``name``.

        Raises:
            the registry's error: no such name (suggests the closest and lists the others).
        """
        self._load()
        if name not in self._items:
            from videobert.config import suggest

            raise self.error(f"unknown {self.kind} {name!r}{suggest(name, self._items)}; available: {', '.join(self._items)}")
        return self._items[name]
