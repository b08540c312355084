"""The library's own error types.

Every mistake a user can make with their data or arguments is reported with one of
these, so that callers (and the CLI) can catch :class:`GraphAlignError` and show a
single clear line instead of a traceback.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

__all__ = [
    "GraphAlignError",
    "DataFormatError",
    "GraphValidationError",
    "EncoderError",
    "CheckpointError",
    "RegistryError",
    "ConfigError",
    "DatasetError",
    "OutputError",
]


class GraphAlignError(Exception):
    """Base class of every error graphalign raises on purpose."""


class GraphValidationError(GraphAlignError):
    """The graph content is invalid (unknown id, duplicate id, empty text, ...).

    Args:
        problems: One human-readable line per problem; the message shows them all
            (up to a limit).
    """

    MAX_SHOWN = 20

    def __init__(self, problems: list[str] | str) -> None:
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        shown = self.problems[: self.MAX_SHOWN]
        text = shown[0] if len(shown) == 1 else f"{len(self.problems)} problems:\n  " + "\n  ".join(shown)
        if len(self.problems) > self.MAX_SHOWN:
            text += f"\n  ... and {len(self.problems) - self.MAX_SHOWN} more"
        super().__init__(text)


class DataFormatError(GraphValidationError):
    """A dataset file is malformed or holds invalid records.

    Each problem names the file and line, e.g. ``data/nodes.jsonl:12: invalid JSON``.

    Args:
        problems: One ``FILE:LINE: what`` string per problem.
        path: The file of the first problem.
        line: The 1-based line of the first problem.
    """

    def __init__(self, problems: list[str] | str, path: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        super().__init__(problems)


class EncoderError(GraphAlignError):
    """An encoder could not be loaded or could not encode an input."""


class CheckpointError(GraphAlignError):
    """A run folder, checkpoint or built graph folder is missing or invalid."""


class ConfigError(GraphAlignError, ValueError):
    """A configuration value is out of range or inconsistent (e.g. ``dropout=1.5``).

    Args:
        message: The whole message (it names the config and the key).
        config: The config class the value belongs to, e.g. ``"TrainConfig"``.
        key: The field, e.g. ``"lr"``; the CLI uses ``(config, key)`` to name the flag.
    """

    def __init__(self, message: str, *, config: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.config = config
        self.key = key


class RegistryError(ConfigError, KeyError):
    """An unknown component name was requested from a registry (a :class:`ConfigError`: one error type for
    every wrong setting)."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


class DatasetError(GraphAlignError):
    """A named dataset cannot be provided: it is not bundled, or its recipe's sources are not installed."""


class OutputError(GraphAlignError):
    """An output path cannot be written without losing something graphalign did not write
    (see :mod:`graphalign.outputs`), or needs ``overwrite`` to replace graphalign's own output."""


def check_config_keys(cls: type, data: Mapping[str, Any], what: str) -> None:
    """Raises :class:`ConfigError` naming ``data``'s keys that are not fields of the dataclass ``cls``."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown {what} keys {unknown}; valid keys: {sorted(known)}")
