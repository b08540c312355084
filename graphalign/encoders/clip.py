"""CLIP image and text towers through transformers (hub id or local folder)."""

from __future__ import annotations

import logging
from functools import cached_property
from typing import Any

import torch
import torch.nn.functional as F

from graphalign.encoders.base import ENCODERS
from graphalign.encoders.hf_loading import load_pretrained, model_identity
from graphalign.encoders.text import TransformersTextEncoder
from graphalign.encoders.vision import BatchedImageEncoder

logger = logging.getLogger(__name__)

__all__ = ["CLIPImageEncoder", "CLIPTextEncoder"]

DEFAULT_CLIP = "openai/clip-vit-base-patch32"


def _projection_dim(model: str, revision: str | None, trust_remote_code: bool) -> int:
    from transformers import AutoConfig

    config = load_pretrained(AutoConfig, model, revision=revision, trust_remote_code=trust_remote_code)
    return int(config.projection_dim)


def _features(output: Any) -> torch.Tensor:
    """``get_*_features`` returns a tensor in most transformers versions, an output object in some."""
    if isinstance(output, torch.Tensor):
        return output
    return output.pooler_output


@ENCODERS.register("clip-image", requires="CLIP weights (folder or hub id)")
class CLIPImageEncoder(BatchedImageEncoder):
    """The image tower of a CLIP model, projected into CLIP's joint space, L2-normalised.

    Example:
        >>> CLIPImageEncoder("openai/clip-vit-base-patch32").dim  # doctest: +SKIP
        512

    Args:
        model: Hub id or local folder holding a ``CLIPModel`` and its image processor.
        revision: Hub revision.
        trust_remote_code: Allow custom code from the hub (off by default).
        batch_size: Images per forward pass.
        device: Device, or ``None``/``"auto"``.
        progress: Show a progress bar.
    """

    def __init__(
        self,
        model: str = DEFAULT_CLIP,
        revision: str | None = None,
        trust_remote_code: bool = False,
        batch_size: int = 32,
        device: str | torch.device | None = None,
        progress: bool = True,
    ) -> None:
        super().__init__(batch_size=batch_size, device=device, progress=progress)
        self.model_name = str(model)
        self.revision = revision
        self.trust_remote_code = trust_remote_code

    @cached_property
    def identity(self) -> str:
        return f"clip-image:{model_identity(self.model_name, self.revision, {'normalize': True})}"

    @cached_property
    def dim(self) -> int:
        return _projection_dim(self.model_name, self.revision, self.trust_remote_code)

    def _load(self) -> None:
        from transformers import AutoImageProcessor, CLIPModel

        logger.info("loading CLIP image tower %s", self.model_name)
        kwargs = dict(revision=self.revision, trust_remote_code=self.trust_remote_code, progress=self.progress)
        self._model = load_pretrained(CLIPModel, self.model_name, **kwargs).to(self.device).eval()
        processor = load_pretrained(AutoImageProcessor, self.model_name, **kwargs)
        self._preprocess = lambda images: processor(images=images, return_tensors="pt")["pixel_values"]

    def _embed(self, pixels: torch.Tensor) -> torch.Tensor:
        return F.normalize(_features(self._model.get_image_features(pixel_values=pixels)), dim=-1)


@ENCODERS.register("clip-text", requires="CLIP weights (folder or hub id)")
class CLIPTextEncoder(TransformersTextEncoder):
    """The text tower of a CLIP model, projected into CLIP's joint space, L2-normalised.

    Pair it with :class:`CLIPImageEncoder` of the same model so that texts and
    images start in one space.

    Example:
        >>> CLIPTextEncoder("openai/clip-vit-base-patch32").dim  # doctest: +SKIP
        512
    """

    model_class = "CLIPModel"

    def __init__(self, model: str = DEFAULT_CLIP, max_length: int = 77, **kwargs: Any) -> None:
        super().__init__(model, max_length=max_length, normalize=True, **kwargs)

    @cached_property
    def identity(self) -> str:
        extra = {"normalize": True, "max_length": self.max_length}
        return f"clip-text:{model_identity(self.model_name, self.revision, extra)}"

    @cached_property
    def dim(self) -> int:
        return _projection_dim(self.model_name, self.revision, self.trust_remote_code)

    def _forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        batch = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask")}
        return _features(self._model.get_text_features(**batch))
