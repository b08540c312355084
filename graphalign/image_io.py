"""Opening images robustly: any PIL mode becomes RGB, errors name the file.

Every way an image file can be bad (missing, a folder, a FIFO, not an image,
truncated, too small, a decompression bomb, a decoder crash on garbage bytes) is
reported as an :class:`~graphalign.errors.EncoderError` naming the file; no
other exception escapes.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from PIL import Image

from graphalign.errors import EncoderError

__all__ = ["open_image_rgb", "check_image_file", "check_image_header", "MIN_SIDE"]

MIN_SIDE = 2
"""Images smaller than this on either side are rejected as unusable."""


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
    try:
        path = Path(os.fspath(item))
        exists, is_dir, is_file = path.exists(), path.is_dir(), path.is_file()
    except (OSError, TypeError, ValueError) as error:  # bad type, NUL character, name too long
        raise EncoderError(f"{item!r}: not a usable image path ({error})") from None
    if not exists:
        raise EncoderError(f"{path}: image file not found")
    if is_dir:
        raise EncoderError(f"{path}: is a directory, not an image file")
    if not is_file:
        raise EncoderError(f"{path}: not a regular file (a FIFO, socket or device)")
    return path


def _open(path: Path, full: bool) -> Image.Image:
    """Opens ``path`` (header only, or fully decoded); every failure becomes an EncoderError."""
    try:
        with warnings.catch_warnings():
            # A DecompressionBombWarning (between 1x and 2x the pixel limit) is an error here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            if full:
                image.load()  # raises OSError("image file is truncated") unless LOAD_TRUNCATED_IMAGES is set
            else:
                image.size  # noqa: B018 - header parse only
    except Image.DecompressionBombError as error:
        raise EncoderError(f"{path}: refused as a possible decompression bomb ({error})") from None
    except Image.DecompressionBombWarning as error:
        raise EncoderError(f"{path}: refused as a possible decompression bomb ({error})") from None
    except MemoryError:
        raise EncoderError(f"{path}: cannot read image (out of memory decoding it)") from None
    except Exception as error:  # noqa: BLE001 - decoders raise many types on garbage (OSError, SyntaxError, struct.error, ...)
        raise EncoderError(f"{path}: cannot read image ({type(error).__name__}: {error})") from None
    return image


def _check_size(image: Image.Image, name: str) -> None:
    if min(image.size) < MIN_SIDE:
        raise EncoderError(f"{name}: image is too small ({image.size[0]}x{image.size[1]} pixels)")


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
        image = _open(path, full=True)
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
        _check_size(_open(checked, full=False), str(checked))
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
