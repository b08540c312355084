"""A small registry: pluggable parts chosen by name or class plus a kwargs dict."""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from graphalign.errors import ConfigError, GraphAlignError, RegistryError

T = TypeVar("T")

__all__ = ["Registry", "accepted_kwargs"]


def accepted_kwargs(factory: Callable[..., Any]) -> set[str] | None:
    """The keyword arguments ``factory`` accepts, or ``None`` when it takes any.

    For a class, the parameters of every ``__init__`` up the MRO are collected as
    long as each passes ``**kwargs`` on to its parent (``object`` and
    ``torch.nn.Module`` accept none). A plain function with ``**kwargs`` accepts any.
    """
    names: set[str] = set()
    if isinstance(factory, type):
        inits = [klass.__dict__["__init__"] for klass in factory.__mro__ if "__init__" in klass.__dict__]
    else:
        inits = [factory]
    for init in inits:
        if init is object.__init__:
            return names
        try:
            parameters = list(inspect.signature(init).parameters.values())
        except (TypeError, ValueError):  # a builtin without a signature
            return None
        if isinstance(factory, type) and parameters and parameters[0].name == "self":
            parameters = parameters[1:]
        names.update(p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            return names
        if not isinstance(factory, type):
            return None
    return names


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
        self._aliases: dict[str, list[str]] = {}
        self._requires: dict[str, str] = {}

    def register(
        self, name: str, *aliases: str, requires: str | None = None
    ) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Class decorator that registers ``cls`` under ``name`` (and aliases).

        Args:
            name: The main name.
            *aliases: Other names for the same entry.
            requires: What it needs beyond the default install (an extra such as
                ``graphalign[faiss]``, or weights the user provides), shown by ``graphalign ls``.
        """

        def decorator(cls: Callable[..., T]) -> Callable[..., T]:
            for key in (name, *aliases):
                key = key.lower()
                if key in self._entries and self._entries[key] is not cls:
                    raise ValueError(f"{self.family} {key!r} is already registered")
                self._entries[key] = cls
            self._aliases[name.lower()] = [a.lower() for a in aliases]
            if requires:
                self._requires[name.lower()] = requires
            return cls

        return decorator

    def names(self) -> list[str]:
        """All registered names (aliases included), sorted."""
        return sorted(self._entries)

    def main_names(self) -> list[str]:
        """The registered names without aliases, sorted."""
        return sorted(self._aliases)

    def aliases(self, name: str) -> list[str]:
        """Other names of the entry registered as ``name``."""
        return list(self._aliases.get(name.lower(), []))

    def requires(self, name: str) -> str | None:
        """What the entry needs beyond the default install, or ``None``."""
        return self._requires.get(name.lower())

    def summary(self, name: str) -> str:
        """The first line of the entry's docstring."""
        doc = (self.get(name).__doc__ or "").strip()
        line = doc.splitlines()[0].rstrip(".") if doc else ""
        line = re.sub(r":\w+:`~?(?:[\w.]*\.)?([^`]+)`", r"\1", line)  # :class:`~a.b.C` -> C
        return line.replace("``", "")

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
            raise RegistryError(f"unknown {self.family} {name!r}; choose one of: {', '.join(self.names())}.{hint}")
        return self._entries[key]

    def split_spec(self, spec: object, where: str) -> tuple[str, dict[str, Any]]:
        """A part given as one dict, ``{"name": ..., **arguments}``, as ``(name, arguments)``.

        Args:
            spec: The dict.
            where: The config field it comes from (``"ModelConfig.readouts"``), for the message.

        Raises:
            ConfigError: If ``spec`` is not a dict with a string ``name`` (the message lists the names).
        """
        if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
            config, _, key = where.partition(".")
            raise ConfigError(
                f"{where}: each {self.family} is a dict with a 'name' (one of {', '.join(self.main_names())}), "
                f"got {spec!r}",
                config=config,
                key=key,
            )
        return spec["name"], {k: v for k, v in spec.items() if k != "name"}

    def build(self, spec: str | Callable[..., T] | T, kwargs: dict[str, Any] | None = None) -> T:
        """Builds a component from a name, a class, or returns an instance as is.

        Args:
            spec: A registered name, a class/factory, or an already built instance.
            kwargs: Keyword arguments for the constructor.
        """
        if kwargs is not None and not isinstance(kwargs, dict):
            raise ConfigError(f"the arguments of {self.family} {spec!r} must be a dict (a JSON object), got {kwargs!r}")
        kwargs = dict(kwargs or {})
        if isinstance(spec, str):
            factory, name = self.get(spec), spec
        elif isinstance(spec, type) or (callable(spec) and not hasattr(spec, "forward")):
            factory, name = spec, getattr(spec, "__name__", repr(spec))
        else:
            if kwargs:
                raise ConfigError(f"arguments given for an already built {self.family}: {sorted(kwargs)}")
            return spec  # type: ignore[return-value]
        self.check_kwargs(factory, kwargs, name)
        try:
            return factory(**kwargs)  # type: ignore[operator]
        except GraphAlignError:
            raise
        except (TypeError, ValueError) as error:
            raise ConfigError(f"cannot build {self.family} {name!r} with arguments {kwargs}: {error}") from error

    def check_kwargs(
        self,
        spec: str | Callable[..., Any],
        kwargs: dict[str, Any],
        name: str | None = None,
        reserved: tuple[str, ...] = (),
    ) -> None:
        """Checks ``kwargs`` against the constructor signature of ``spec``.

        Args:
            spec: A registered name or a class/factory.
            kwargs: The keyword arguments.
            name: How to call the component in the message (default: ``spec``).
            reserved: Arguments the library passes itself; a user may not give them.

        Raises:
            ConfigError: Naming each unknown argument, the valid ones, and the
                closest valid name ("did you mean").
        """
        factory = self.get(spec) if isinstance(spec, str) else spec
        name = name or (spec if isinstance(spec, str) else getattr(spec, "__name__", repr(spec)))
        accepted = accepted_kwargs(factory)
        for key in kwargs:
            if key in reserved:
                raise ConfigError(f"{self.family} {name!r}: argument {key!r} is set by graphalign, not by its kwargs")
        if accepted is None:
            return
        unknown = [key for key in kwargs if key not in accepted]
        if unknown:
            valid = sorted(accepted - set(reserved))
            close = difflib.get_close_matches(str(unknown[0]), valid, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{self.family} {name!r} has no argument {', '.join(map(repr, unknown))} "
                f"(valid: {', '.join(valid) or 'none'}){hint}"
            )

    def __repr__(self) -> str:
        return f"Registry({self.family!r}, {self.names()})"
