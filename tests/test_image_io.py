from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from graphalign.encoders.hashing import ColorHistogramEncoder, HashingTextEncoder
from graphalign.errors import EncoderError
from graphalign.image_io import open_image_rgb


@pytest.mark.parametrize(
    "image",
    [
        Image.new("RGBA", (6, 4), (255, 0, 0, 0)),
        Image.new("LA", (6, 4)),
        Image.new("P", (6, 4)),
        Image.new("CMYK", (6, 4), (0, 255, 0, 0)),
        Image.fromarray(np.full((4, 6), 60000, dtype=np.uint16)),
        Image.new("L", (6, 4)),
    ],
    ids=["rgba", "la", "palette", "cmyk", "16bit", "grey"],
)
def test_any_mode_becomes_rgb(image):
    out = open_image_rgb(image)
    assert out.mode == "RGB" and out.size == (6, 4)


def test_transparent_pixels_become_white():
    assert open_image_rgb(Image.new("RGBA", (4, 4), (255, 0, 0, 0))).getpixel((0, 0)) == (255, 255, 255)


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(EncoderError, match="nope.png: image file not found"):
        open_image_rgb(tmp_path / "nope.png")
    with pytest.raises(EncoderError, match="is a directory"):
        open_image_rgb(tmp_path)
    (tmp_path / "t.png").write_text("hello")
    with pytest.raises(EncoderError, match="t.png: cannot read image"):
        open_image_rgb(tmp_path / "t.png")
    Image.new("RGB", (1, 1)).save(tmp_path / "one.png")
    with pytest.raises(EncoderError, match=r"too small \(1x1"):
        open_image_rgb(tmp_path / "one.png")


def test_hashing_text_shares_words():
    v = HashingTextEncoder(dim=128).encode(["a red kangaroo", "a kangaroo", "blue car"])
    assert v[0] @ v[1] > v[0] @ v[2]


def test_color_histogram_separates_colours():
    v = ColorHistogramEncoder().encode([Image.new("RGB", (8, 8), c) for c in ("red", (250, 10, 10), "blue")])
    assert v[0] @ v[1] > 0.99 and v[0] @ v[2] < 0.01
