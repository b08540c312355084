"""torchvision classification backbones by name, with weights from a local file."""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path

import torch

from graphalign.encoders.base import ENCODERS, fingerprint_files
from graphalign.encoders.vision import BatchedImageEncoder
from graphalign.errors import EncoderError

logger = logging.getLogger(__name__)

__all__ = ["TorchvisionEncoder", "load_state_dict_file"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Loads weights safely: safetensors, or a torch file with ``weights_only=True``.

    Raises:
        EncoderError: If the file is missing or is not a plain state dict (e.g. a
            pickle that would need to run code).
    """
    path = Path(path)
    if not path.is_file():
        raise EncoderError(f"{path}: weights file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise EncoderError(f"{path}: cannot load weights safely ({type(error).__name__}: {error})") from error
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise EncoderError(f"{path}: not a state dict of tensors")
    return state


def _strip_classifier(model: torch.nn.Module) -> int:
    """Replaces the final classification layer by identity; returns the feature size."""
    for attr in ("fc", "classifier", "head", "heads"):
        layer = getattr(model, attr, None)
        if layer is None:
            continue
        last = layer[-1] if isinstance(layer, torch.nn.Sequential) else layer
        if isinstance(last, torch.nn.Linear):
            if isinstance(layer, torch.nn.Sequential):
                layer[-1] = torch.nn.Identity()
            else:
                setattr(model, attr, torch.nn.Identity())
            return last.in_features
    raise EncoderError(f"cannot find the classifier of {type(model).__name__} to strip")


@ENCODERS.register("torchvision", requires="a weights file")
class TorchvisionEncoder(BatchedImageEncoder):
    """Any torchvision classification model by name, as a feature extractor.

    The classifier is removed; the pooled features are returned. Weights come
    from a local file (safetensors or a ``torch.save`` state dict, loaded with
    ``weights_only=True``), never from the network.

    Example:
        >>> encoder = TorchvisionEncoder("resnet18", weights="resnet18.safetensors")  # doctest: +SKIP
        >>> encoder.dim  # doctest: +SKIP
        512

    Args:
        arch: A name from ``torchvision.models.list_models()``.
        weights: Path to the weights; ``None`` gives random weights (tests only).
        resize: Shorter side after resizing.
        crop: Centre-crop size.
        mean: Normalisation mean.
        std: Normalisation std.
    """

    def __init__(
        self,
        arch: str = "resnet18",
        weights: str | None = None,
        resize: int = 256,
        crop: int = 224,
        mean: tuple[float, ...] = IMAGENET_MEAN,
        std: tuple[float, ...] = IMAGENET_STD,
        batch_size: int = 32,
        device: str | torch.device | None = None,
        progress: bool = True,
    ) -> None:
        super().__init__(batch_size=batch_size, device=device, progress=progress)
        import torchvision

        if arch not in torchvision.models.list_models():
            raise EncoderError(f"unknown torchvision model {arch!r}; see torchvision.models.list_models()")
        self.arch = arch
        self.weights = weights
        self.resize, self.crop = resize, crop
        self.mean, self.std = tuple(mean), tuple(std)
        self._dim: int | None = None

    @cached_property
    def identity(self) -> str:
        extra = {"arch": self.arch, "resize": self.resize, "crop": self.crop, "mean": self.mean, "std": self.std}
        files = [Path(self.weights)] if self.weights else []
        if not files:
            logger.warning("torchvision encoder %s has no weights file: random features", self.arch)
            extra["random"] = True
        return f"torchvision:{self.arch}#{fingerprint_files(files, extra)}"

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._load()
        assert self._dim is not None
        return self._dim

    def _load(self) -> None:
        import torchvision
        from torchvision import transforms

        model = torchvision.models.get_model(self.arch, weights=None)
        if self.weights:
            state = load_state_dict_file(self.weights)
            try:
                model.load_state_dict(state, strict=True)
            except RuntimeError as error:
                raise EncoderError(f"{self.weights}: weights do not fit {self.arch}: {error}") from error
        self._dim = _strip_classifier(model)
        self._model = model.to(self.device).eval()
        transform = transforms.Compose(
            [
                transforms.Resize(self.resize),
                transforms.CenterCrop(self.crop),
                transforms.ToTensor(),
                transforms.Normalize(self.mean, self.std),
            ]
        )
        self._preprocess = lambda images: torch.stack([transform(image) for image in images])

    def _embed(self, pixels: torch.Tensor) -> torch.Tensor:
        return self._model(pixels)
