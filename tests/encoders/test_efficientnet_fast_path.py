"""The default image encoder's fast path: batched preprocessing and BatchNorm folding."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from graphalign.encoders.efficientnet_lite import (
    EfficientNetLite0,
    EfficientNetLite0Encoder,
    efficientnet_lite0_batch_transform,
    efficientnet_lite0_transform,
    fold_batch_norm,
)


@pytest.fixture(scope="module")
def network() -> EfficientNetLite0:
    """A random network whose BatchNorms do something (non-trivial statistics and affine)."""
    generator = torch.Generator().manual_seed(5)
    model = EfficientNetLite0()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            size = module.num_features
            module.running_mean.copy_(0.2 * torch.rand(size, generator=generator) - 0.1)
            module.running_var.copy_(0.5 + torch.rand(size, generator=generator))
            module.weight.data.copy_(0.5 + torch.rand(size, generator=generator))
            module.bias.data.copy_(0.2 * torch.rand(size, generator=generator) - 0.1)
    return model.eval()


def _images() -> list[Image.Image]:
    generator = torch.Generator().manual_seed(6)
    sizes = [(31, 17), (224, 224), (300, 260), (257, 600), (1000, 3)]
    return [
        Image.fromarray(torch.randint(0, 256, (h, w, 3), generator=generator, dtype=torch.uint8).numpy())
        for w, h in sizes
    ]


def test_batch_transform_equals_the_single_image_transform():
    images = _images()
    single = efficientnet_lite0_transform()
    expected = torch.stack([single(image) for image in images])
    batch = efficientnet_lite0_batch_transform()(images)
    assert batch.shape == (5, 3, 224, 224) and batch.dtype == torch.float32
    assert batch.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(batch, expected)  # bit for bit: the same float operations


def test_folded_network_gives_the_same_features(network):
    folded = fold_batch_norm(network)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in network.modules()) == 49  # the original is untouched
    pixels = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        want, got = network.extract_features(pixels), folded.extract_features(pixels)
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-5 * want.abs().max().item())
        assert torch.allclose(folded(pixels), network(pixels), rtol=1e-4, atol=1e-4)


def test_encoder_encodes_with_the_folded_copy(network, tmp_path: Path):
    path = tmp_path / "weights.pth"
    torch.save(network.state_dict(), path)
    encoder = EfficientNetLite0Encoder(weights=path, batch_size=2, device="cpu", progress=False)
    images = _images()
    features = encoder.encode(images)  # (5, 1280)
    assert isinstance(encoder.model._bn0, torch.nn.BatchNorm2d)  # the public network keeps its layers
    with torch.no_grad():
        expected = encoder.model.extract_features(efficientnet_lite0_batch_transform()(images))
    assert torch.allclose(features, expected, rtol=1e-4, atol=1e-5 * expected.abs().max().item())
