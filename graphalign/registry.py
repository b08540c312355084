"""A small registry: pluggable parts chosen by name or class plus a kwargs dict."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from graphalign.errors import RegistryError

T = TypeVar("T")

__all__ = ["Registry"]


class Registry(Generic[T]):
    """Maps names to classes (or factories) of one family, e.g. losses or convs.

    Example:
        >>> LOSSES = Registry("loss")
        >>> @LOSSES.register("mse")
        ... class MSE: ...
        >>> LOSSES.build("mse")  # doctest: +ELLIPSIS
        <...MSE object at ...>

    Args:
        family: Human-readable name of the family, used in error messages.
    """

    def __init__(self, family: str) -> None:
        self.family = family
        self._entries: dict[str, Callable[..., T]] = {}

    def register(self, name: str, *aliases: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Class decorator that registers ``cls`` under ``name`` (and aliases)."""

        def decorator(cls: Callable[..., T]) -> Callable[..., T]:
            for key in (name, *aliases):
                key = key.lower()
                if key in self._entries and self._entries[key] is not cls:
                    raise ValueError(f"{self.family} {key!r} is already registered")
                self._entries[key] = cls
            return cls

        return decorator

    def names(self) -> list[str]:
        """All registered names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str) -> Callable[..., T]:
        """Returns the class registered under ``name``.

        Raises:
            RegistryError: If ``name`` is unknown; the message lists valid names.
        """
        key = name.lower() if isinstance(name, str) else name
        if key not in self._entries:
            close = difflib.get_close_matches(str(key), self._entries, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise RegistryError(
                f"unknown {self.family} {name!r}; choose one of: {', '.join(self.names())}.{hint}"
            )
        return self._entries[key]

    def build(self, spec: str | Callable[..., T] | T, kwargs: dict[str, Any] | None = None) -> T:
        """Builds a component from a name, a class, or returns an instance as is.

        Args:
            spec: A registered name, a class/factory, or an already built instance.
            kwargs: Keyword arguments for the constructor.
        """
        kwargs = dict(kwargs or {})
        if isinstance(spec, str):
            return self.get(spec)(**kwargs)
        if isinstance(spec, type) or (callable(spec) and not hasattr(spec, "forward")):
            return spec(**kwargs)  # type: ignore[operator]
        if kwargs:
            raise ValueError(f"kwargs given for an already built {self.family}: {sorted(kwargs)}")
        return spec  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"Registry({self.family!r}, {self.names()})"
