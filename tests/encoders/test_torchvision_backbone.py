from __future__ import annotations

import pickle

import pytest
import torch
import torchvision
from PIL import Image

from graphalign.encoders import TorchvisionEncoder, build_encoder
from graphalign.errors import EncoderError


@pytest.fixture(scope="module")
def resnet_weights(tmp_path_factory):
    torch.manual_seed(0)
    model = torchvision.models.get_model("resnet18", weights=None)
    path = tmp_path_factory.mktemp("tv") / "resnet18.pth"
    torch.save(model.state_dict(), path)
    return path, model.eval()


def test_backbone_by_name_with_local_weights(resnet_weights):
    path, model = resnet_weights
    encoder = build_encoder("torchvision", {"arch": "resnet18", "weights": str(path), "progress": False})
    image = Image.new("RGB", (64, 48), "orange")
    out = encoder.encode([image])
    assert out.shape == (1, 512) and encoder.dim == 512
    model.fc = torch.nn.Identity()
    pixels = encoder._preprocess([image])
    with torch.no_grad():
        assert torch.allclose(out, model(pixels), atol=1e-5)


def test_safetensors_weights(resnet_weights, tmp_path):
    from safetensors.torch import save_file

    path, model = resnet_weights
    st = tmp_path / "w.safetensors"
    save_file(torch.load(path, weights_only=True), st)
    assert TorchvisionEncoder("resnet18", weights=str(st), progress=False).encode(
        [Image.new("RGB", (40, 40))]
    ).shape == (1, 512)


def test_unknown_arch_and_wrong_weights(resnet_weights, tmp_path):
    with pytest.raises(EncoderError, match="unknown torchvision model"):
        TorchvisionEncoder("resnet1000")
    with pytest.raises(EncoderError, match="do not fit"):
        TorchvisionEncoder("resnet34", weights=str(resnet_weights[0]), progress=False).encode(
            [Image.new("RGB", (40, 40))]
        )


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_pickled_code_in_weights_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as handle:
        pickle.dump({"x": _Evil()}, handle)
    with pytest.raises(EncoderError, match="cannot load weights safely"):
        TorchvisionEncoder("resnet18", weights=str(path), progress=False).encode([Image.new("RGB", (40, 40))])
