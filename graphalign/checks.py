"""Range checks for configuration values, raising :class:`~graphalign.errors.ConfigError`.

Every value a user gives (a flag, a Python argument, a field of a file graphalign
wrote) is checked where it enters, with one message that names the config and
the key: ``TrainConfig.lr must be a number > 0, got -1.0``.

Example:
    >>> check_int("TrainConfig", "epochs", 5, low=0)
    5
    >>> check_float("TrainConfig", "lr", -1.0, low=0.0, low_open=True)
    Traceback (most recent call last):
    ...
    graphalign.errors.ConfigError: TrainConfig.lr must be a number > 0, got -1.0
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

from graphalign.errors import ConfigError

__all__ = ["check_int", "check_float", "check_bool", "check_choice"]


def _range_text(low: float | None, high: float | None, low_open: bool = False, high_open: bool = False) -> str:
    def show(bound: float) -> str:
        return str(bound) if isinstance(bound, int) and abs(bound) < 10**12 else f"{bound:g}"

    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {show(low)}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {show(high)}")
    return " and ".join(parts)


def plain_numbers(config: Any) -> None:
    """Replaces the NumPy (or other :mod:`numbers`) scalars among a dataclass config's fields by Python
    ``int`` and ``float`` (frozen dataclasses too), so that a config made in a sweep over
    ``np.arange(...)`` checks and writes to JSON as one made of literals.

    Example:
        >>> import dataclasses, numpy as np
        >>> @dataclasses.dataclass
        ... class C:
        ...     n: int = 1
        ...     x: float = 0.5
        >>> c = C(np.int64(3), np.float32(0.25)); plain_numbers(c); (type(c.n), type(c.x))
        (<class 'int'>, <class 'float'>)
    """
    for item in dataclasses.fields(config):
        value = getattr(config, item.name)
        if isinstance(value, bool) or type(value) in (int, float):
            continue
        if isinstance(value, numbers.Integral):
            object.__setattr__(config, item.name, int(value))
        elif isinstance(value, numbers.Real) and type(value).__module__ == "numpy":
            object.__setattr__(config, item.name, float(value))


def plain_int(value: Any) -> Any:
    """A NumPy or other :class:`numbers.Integral` (not a bool) as a Python ``int``; anything else as given.

    Example:
        >>> import numpy as np
        >>> plain_int(np.int64(3)), plain_int(2.5)
        (3, 2.5)
    """
    return int(value) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else value


def check_int(
    config: str, key: str, value: Any, *, low: int | None = None, high: int | None = None, optional: bool = False
) -> int | None:
    """Checks that ``value`` is an integer in ``[low, high]`` (``None`` too if ``optional``).

    Returns:
        The value.

    Raises:
        ConfigError: Naming ``config.key``, the range and the value.
    """
    if value is None and optional:
        return None
    bad_type = isinstance(value, bool) or not isinstance(value, int)
    if bad_type or (low is not None and value < low) or (high is not None and value > high):
        bound = _range_text(low, high)
        what = f"an integer{' ' + bound if bound else ''}{' or null' if optional else ''}"
        raise ConfigError(f"{config}.{key} must be {what}, got {value!r}", config=config, key=key)
    return value


def check_float(
    config: str,
    key: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    optional: bool = False,
) -> float | None:
    """Checks that ``value`` is a finite number in the range (ints are accepted).

    Args:
        config: Name of the config, for the message.
        key: Name of the field.
        value: The value.
        low: Lower bound, or ``None``.
        high: Upper bound, or ``None``.
        low_open: Exclude ``low`` itself.
        high_open: Exclude ``high`` itself.
        optional: Accept ``None``.

    Returns:
        The value as a float (or ``None``).

    Raises:
        ConfigError: Naming ``config.key``, the range and the value.
    """
    if value is None and optional:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        bound = _range_text(low, high, low_open, high_open)
        what = f"a number{' ' + bound if bound else ' (finite)'}{' or null' if optional else ''}"
        raise ConfigError(f"{config}.{key} must be {what}, got {value!r}", config=config, key=key)
    return float(value)


def check_bool(config: str, key: str, value: Any, *, optional: bool = False) -> bool | None:
    """Checks that ``value`` is ``True`` or ``False`` (or ``None`` if ``optional``)."""
    if (value is None and optional) or isinstance(value, bool):
        return value
    raise ConfigError(
        f"{config}.{key} must be true or false{' or null' if optional else ''}, got {value!r}", config=config, key=key
    )


def check_choice(config: str, key: str, value: Any, choices: tuple[str, ...] | list[str]) -> str:
    """Checks that ``value`` is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"{config}.{key} must be one of {', '.join(choices)}; got {value!r}", config=config, key=key)
    return value
