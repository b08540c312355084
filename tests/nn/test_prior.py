from __future__ import annotations

import torch

from graphalign.nn import HeteroAligner, ModelConfig
from graphalign.nn.heads import PriorHead


def test_prior_head_starts_near_the_pretrained_space_and_isolated_equals_new():
    torch.manual_seed(0)
    in_dims = {"concept": 8, "text": 8, "image": 12}
    edge_types = [("image", "depicts", "concept"), ("concept", "rev_depicts", "image")]
    config = ModelConfig(
        num_layers=2,
        propagate=None,
        hidden_dim=16,
        out_dim=8,
        conv="gatv2",
        head="prior",
        head_kwargs={"scale": 1e-4},
        dropout=0.0,
        readouts=[],
    )
    model = HeteroAligner(in_dims, edge_types, config, input_groups={"concept": "minilm", "text": "minilm"}).eval()
    x = {t: torch.randn(5, d) for t, d in in_dims.items()}
    z = model(x, {("image", "depicts", "concept"): torch.tensor([[0, 1], [1, 1]])})
    # With a tiny GNN weight the output is the (normalised) pretrained feature itself.
    assert torch.allclose(z["text"], torch.nn.functional.normalize(x["text"], dim=-1), atol=1e-3)
    # Images pass their last 8 features through (the text-space part of ConSE concat features).
    assert torch.allclose(z["image"], torch.nn.functional.normalize(x["image"][:, -8:], dim=-1), atol=1e-3)
    # Concepts and texts share one input projection and one prior map.
    assert model.input_groups == {"concept": "minilm", "text": "minilm", "image": "image"}
    assert set(model.input_proj.keys()) == {"minilm", "image"}
    assert isinstance(model.head, PriorHead) and set(model.head.prior.keys()) == {"minilm", "image"}
    assert torch.allclose(model.head.log_scale.exp(), torch.tensor(1e-4))
    assert torch.allclose(model.encode_features("image", x["image"][4:]), z["image"][4:], atol=1e-6)
