from __future__ import annotations

import torch
from PIL import Image

from graphalign.encoders import CLIPImageEncoder, CLIPTextEncoder, build_encoder


def test_tiny_clip_towers_share_one_space(tiny_clip_dir):
    text = build_encoder("clip-text", {"model": str(tiny_clip_dir), "progress": False})
    image = build_encoder("clip-image", {"model": str(tiny_clip_dir), "progress": False})
    assert text.modality == "text" and image.modality == "image"
    assert text.dim == image.dim == 8
    t = text.encode(["a red dog", "the cat"])
    i = image.encode([Image.new("RGB", (40, 30), "red"), Image.new("RGBA", (20, 50), (0, 0, 255, 100))])
    assert t.shape == (2, 8) and i.shape == (2, 8)
    assert torch.allclose(t.norm(dim=1), torch.ones(2), atol=1e-5)
    assert torch.allclose(i.norm(dim=1), torch.ones(2), atol=1e-5)


def test_clip_image_matches_bare_transformers(tiny_clip_dir):
    from transformers import CLIPImageProcessor, CLIPModel

    images = [Image.new("RGB", (32, 32), "green")]
    ours = CLIPImageEncoder(str(tiny_clip_dir), progress=False).encode(images)
    model = CLIPModel.from_pretrained(tiny_clip_dir).eval()
    pixels = CLIPImageProcessor.from_pretrained(tiny_clip_dir)(images=images, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        out = model.get_image_features(pixel_values=pixels)
    out = out if isinstance(out, torch.Tensor) else out.pooler_output
    assert torch.allclose(ours, torch.nn.functional.normalize(out, dim=-1), atol=1e-5)


def test_clip_identities_differ_by_tower(tiny_clip_dir):
    assert CLIPTextEncoder(str(tiny_clip_dir)).identity != CLIPImageEncoder(str(tiny_clip_dir)).identity
