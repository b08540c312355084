"""Picking the torch device."""

from __future__ import annotations

import re

import torch

from graphalign.errors import ConfigError

__all__ = ["resolve_device", "check_device_name"]

_DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def check_device_name(device: object, what: str = "device") -> str:
    """Checks the spelling of a device name (``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``).

    Availability is checked by :func:`resolve_device`, when the device is used.

    Args:
        device: The name.
        what: What to call it in the message (e.g. ``"TrainConfig.device"``).

    Raises:
        ConfigError: If ``device`` is not such a name.
    """
    if not isinstance(device, str) or not _DEVICE_PATTERN.match(device):
        raise ConfigError(
            f"{what} must be auto, cpu, cuda, cuda:N or mps; got {device!r}",
            config=what.split(".")[0] if "." in what else None,
            key=what.split(".", 1)[1] if "." in what else None,
        )
    return device


def resolve_device(device: str | torch.device | None) -> torch.device:
    """The torch device for ``device``; ``None`` or ``"auto"`` picks CUDA when available, else CPU.

    Raises:
        ConfigError: If the name is malformed, or names a CUDA device (or MPS)
            that this machine does not have.
    """
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device, torch.device):
        name = str(device)
    else:
        name = check_device_name(device)
    resolved = torch.device(name)
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r}: no CUDA device here; use --device cpu (or device='cpu')")
        count = torch.cuda.device_count()
        if resolved.index is not None and resolved.index >= count:
            raise ConfigError(f"device {name!r}: this machine has {count} CUDA device(s) (cuda:0 to cuda:{count - 1})")
    if resolved.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ConfigError(f"device {name!r}: no MPS device here; use --device cpu (or device='cpu')")
    return resolved
