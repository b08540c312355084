"""Opening images robustly: any PIL mode becomes RGB, errors name the file.

Every way an image file can be bad (missing, a folder, a FIFO, not an image,
truncated, too small, a decompression bomb, a decoder crash on garbage bytes,
above the size, pixel or aspect limits of :class:`ImageLimits`) is reported as
an :class:`~graphalign.errors.EncoderError` naming the file; no other exception
escapes. This module is the one place images are opened.
"""

from __future__ import annotations

import math
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from graphalign.errors import ConfigError, EncoderError

__all__ = [
    "open_image_rgb",
    "check_image_file",
    "check_image_header",
    "check_image_file_size",
    "ImageLimits",
    "image_limits",
    "MIN_SIDE",
]

MIN_SIDE = 2
"""Images smaller than this on either side are rejected as unusable."""


@dataclass(frozen=True)
class ImageLimits:
    """What an image may cost, checked before its file is hashed or its pixels decoded.

    Each limit is read from an environment variable (see :func:`image_limits`).

    Attributes:
        max_bytes: Largest image file, in bytes (``GRAPHALIGN_MAX_IMAGE_BYTES``,
            default 100,000,000). Checked before a file is hashed for the cache
            or opened.
        max_pixels: Most pixels (width x height) decoded
            (``GRAPHALIGN_MAX_IMAGE_PIXELS``, default 64 Mi = 67,108,864, a
            8192 x 8192 image: about 200 MB as RGB). Checked from the header,
            before decoding.
        max_aspect: Largest ratio of the long side to the short side
            (``GRAPHALIGN_MAX_IMAGE_ASPECT``, default 1000). Encoders resize the
            *short* side to about 256 pixels, so a 200,000 x 2 image, though it
            has few pixels, would become 25,600,000 x 256 (20 GB) before the
            centre crop; at 1000:1 the resized image stays below 66 million
            pixels (200 MB).
    """

    max_bytes: int = 100_000_000
    max_pixels: int = 1 << 26
    max_aspect: float = 1000.0


LIMIT_VARIABLES = {
    "max_bytes": "GRAPHALIGN_MAX_IMAGE_BYTES",
    "max_pixels": "GRAPHALIGN_MAX_IMAGE_PIXELS",
    "max_aspect": "GRAPHALIGN_MAX_IMAGE_ASPECT",
}
"""The environment variable of each :class:`ImageLimits` field."""


def image_limits() -> ImageLimits:
    """The limits in force: the defaults of :class:`ImageLimits`, or the environment variables.

    Raises:
        ConfigError: If a variable is set to something other than a positive number.
    """
    values: dict[str, float] = {}
    for name, variable in LIMIT_VARIABLES.items():
        text = os.environ.get(variable, "").strip()
        if not text:
            continue
        try:
            value = float(text) if name == "max_aspect" else int(text.replace("_", ""))
        except ValueError:
            value = -1
        if not (value >= 1 and math.isfinite(value)):
            raise ConfigError(f"${variable} must be a number >= 1, got {text!r}")
        values[name] = value
    return ImageLimits(**values)  # type: ignore[arg-type]


def _limit_hint(name: str) -> str:
    return f"set ${LIMIT_VARIABLES[name]} to raise the limit"


def check_image_file_size(path: Path, limits: ImageLimits | None = None) -> None:
    """Refuses a file larger than ``limits.max_bytes`` (before it is hashed or decoded).

    Raises:
        EncoderError: Naming the file, its size and the limit.
    """
    limits = limits or image_limits()
    try:
        size = path.stat().st_size
    except OSError as error:
        raise EncoderError(f"{path}: cannot read image file ({error})") from None
    if size > limits.max_bytes:
        raise EncoderError(
            f"{path}: image file is {size:,} bytes, above the limit of {limits.max_bytes:,} bytes "
            f"({_limit_hint('max_bytes')})"
        )


def _flatten_to_rgb(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Converts any mode (P, LA, RGBA, CMYK, I;16, F, ...) to RGB on ``background``."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # 16/32-bit greyscale or float: scale to 8 bits instead of clipping.
        import numpy as np

        array = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        low = min(float(array.min()), 0.0)
        high = float(array.max()) - low or 1.0
        image = Image.fromarray(((array - low) * (255.0 / high)).clip(0, 255).astype("uint8"), mode="L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        image = image.convert("RGBA")
        canvas = Image.new("RGB", image.size, background)
        canvas.paste(image, mask=image.getchannel("A"))
        return canvas
    return image.convert("RGB")


def _checked_path(item: Any) -> Path:
    """``item`` as a path to an existing regular file, else an :class:`EncoderError`."""
    if isinstance(item, (bytes, bytearray, memoryview)):  # an image's data (Path() takes no bytes)
        raise EncoderError(
            f"got {len(item):,} bytes, not an image: pass a file path (str or pathlib.Path) or a PIL image "
            "(image data: PIL.Image.open(io.BytesIO(data)))"
        )
    if hasattr(item, "shape") and hasattr(item, "dtype"):  # a NumPy array or a tensor of pixels
        raise EncoderError(
            f"got a {type(item).__module__}.{type(item).__name__} of shape {tuple(item.shape)}, not an image: pass "
            "a file path (str or pathlib.Path) or a PIL image (pixels: PIL.Image.fromarray(array) of a "
            "(height, width, 3) uint8 array)"
        )
    if not isinstance(item, (str, os.PathLike)):
        raise EncoderError(
            f"got {type(item).__name__}, not an image: pass a file path (str or pathlib.Path) or a PIL image"
        )
    try:
        path = Path(os.fspath(item))
        exists, is_dir, is_file = path.exists(), path.is_dir(), path.is_file()
    except (OSError, TypeError, ValueError) as error:  # bad type, NUL character, name too long
        shown = repr(item) if len(repr(item)) <= 80 else f"{repr(item)[:38]}...{repr(item)[-38:]}"
        raise EncoderError(f"{shown}: not a usable image path ({error})") from None
    if not exists:
        raise EncoderError(f"{path}: image file not found")
    if is_dir:
        raise EncoderError(f"{path}: is a directory, not an image file")
    if not is_file:
        raise EncoderError(f"{path}: not a regular file (a FIFO, socket or device)")
    check_image_file_size(path)
    return path


_PIL_LIMIT_LOCK = threading.Lock()
"""Held while PIL's pixel limit is lifted for one header read (server threads open images at once)."""


def _open(path: Path, full: bool) -> Image.Image:
    """Opens ``path`` (header only, or fully decoded); every failure becomes an EncoderError.

    The size and aspect limits are checked from the header, before any pixel is decoded.
    """
    try:
        with warnings.catch_warnings():
            # A DecompressionBombWarning (between 1x and 2x the pixel limit) is an error here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with _PIL_LIMIT_LOCK:  # PIL's own limit off while the header is read: ours decides, in our words
                kept, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
                try:
                    image = Image.open(path)
                    image.size  # noqa: B018 - header parse only
                finally:
                    Image.MAX_IMAGE_PIXELS = kept
            _check_size(image, str(path))
            if full:
                image.load()  # raises OSError("image file is truncated") unless LOAD_TRUNCATED_IMAGES is set
    except EncoderError:
        raise
    except Image.DecompressionBombError as error:
        raise EncoderError(f"{path}: refused as a possible decompression bomb ({error})") from None
    except Image.DecompressionBombWarning as error:
        raise EncoderError(f"{path}: refused as a possible decompression bomb ({error})") from None
    except MemoryError:
        raise EncoderError(f"{path}: cannot read image (out of memory decoding it)") from None
    # Decoders raise many types on garbage (OSError, SyntaxError, struct.error, ...).
    except Exception as error:  # noqa: BLE001
        raise EncoderError(f"{path}: cannot read image ({type(error).__name__}: {error})") from None
    return image


def _check_size(image: Image.Image, name: str) -> None:
    """Refuses images too small, with too many pixels, or too elongated (see :class:`ImageLimits`)."""
    width, height = image.size
    if min(width, height) < MIN_SIDE:
        raise EncoderError(f"{name}: image is too small ({width}x{height} pixels)")
    limits = image_limits()
    if width * height > limits.max_pixels:
        raise EncoderError(
            f"{name}: image is {width}x{height} = {width * height:,} pixels, above the limit of "
            f"{limits.max_pixels:,} ({_limit_hint('max_pixels')})"
        )
    aspect = max(width, height) / min(width, height)
    if aspect > limits.max_aspect:
        raise EncoderError(
            f"{name}: image is {width}x{height} pixels, an aspect ratio of {aspect:,.0f}:1, above the "
            f"limit of {limits.max_aspect:g}:1 (resizing its short side to the encoder's input size "
            f"would need about {aspect * 256 * 256 * 3 / 1e9:,.1f} GB; {_limit_hint('max_aspect')})"
        )


def open_image_rgb(item: Any, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Returns ``item`` (a path or a PIL image) as a fully loaded RGB image.

    Transparency is composited onto ``background`` (white by default: clip art).
    16-bit and float greyscale is rescaled to 8 bits; palette, CMYK and other
    modes are converted.

    Raises:
        EncoderError: If the file is missing, a directory, not an image, truncated,
            too small or too large (decompression bomb); the message names the file.
    """
    if isinstance(item, Image.Image):
        image, name = item, "<PIL image>"
    else:
        path = _checked_path(item)
        name = str(path)
        image = _open(path, full=True)  # checks the limits before decoding
    _check_size(image, name)
    try:
        return _flatten_to_rgb(image, background)
    except Exception as error:  # noqa: BLE001 - an exotic mode PIL cannot convert
        raise EncoderError(f"{name}: cannot convert image mode {image.mode!r} to RGB ({error})") from None


def check_image_header(path: str | os.PathLike[str]) -> str | None:
    """Cheap check of an image file: readable header, at least 2x2, not a bomb.

    Returns:
        A problem string naming the file, or ``None``. A truncated file passes;
        :func:`check_image_file` decodes fully.
    """
    try:
        checked = _checked_path(path)
        _open(checked, full=False)  # checks size, pixel and aspect limits
    except EncoderError as error:
        return str(error)
    return None


def check_image_file(path: str | os.PathLike[str]) -> str | None:
    """Checks that ``path`` is a readable image; returns a problem string or ``None``."""
    try:
        open_image_rgb(path)
    except EncoderError as error:
        return str(error)
    return None
