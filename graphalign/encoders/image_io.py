"""Opening images robustly: any PIL mode becomes RGB, errors name the file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PIL import Image, ImageFile, UnidentifiedImageError

from graphalign.errors import EncoderError

__all__ = ["open_image_rgb", "check_image_file"]

MIN_SIDE = 2
"""Images smaller than this on either side are rejected as unusable."""


def _flatten_to_rgb(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Converts any mode (P, LA, RGBA, CMYK, I;16, ...) to RGB on ``background``."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit greyscale: scale to 8 bits instead of clipping.
        import numpy as np

        array = np.asarray(image, dtype=np.float64)
        high = float(array.max()) or 1.0
        image = Image.fromarray((array * (255.0 / high)).clip(0, 255).astype("uint8"), mode="L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        image = image.convert("RGBA")
        canvas = Image.new("RGB", image.size, background)
        canvas.paste(image, mask=image.getchannel("A"))
        return canvas
    return image.convert("RGB")


def open_image_rgb(item: Any, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Returns ``item`` (a path or a PIL image) as a fully loaded RGB image.

    Transparency is composited onto ``background`` (white by default: clip art).

    Raises:
        EncoderError: If the file is missing, a directory, not an image, truncated
            or too small; the message names the file.
    """
    if isinstance(item, Image.Image):
        image, name = item, "<PIL image>"
    else:
        path = Path(os.fspath(item))
        name = str(path)
        if not path.exists():
            raise EncoderError(f"{name}: image file not found")
        if path.is_dir():
            raise EncoderError(f"{name}: is a directory, not an image file")
        try:
            image = Image.open(path)
            ImageFile.LOAD_TRUNCATED_IMAGES = False
            image.load()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
            raise EncoderError(f"{name}: cannot read image ({error})") from error
    if min(image.size) < MIN_SIDE:
        raise EncoderError(f"{name}: image is too small ({image.size[0]}x{image.size[1]} pixels)")
    return _flatten_to_rgb(image, background)


def check_image_file(path: str | os.PathLike[str]) -> str | None:
    """Checks that ``path`` is a readable image; returns a problem string or ``None``."""
    try:
        open_image_rgb(path)
    except EncoderError as error:
        return str(error)
    return None
