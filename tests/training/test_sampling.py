from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch_geometric.typing
from torch_geometric.data import Data, HeteroData
from torch_geometric.loader import LinkNeighborLoader, NeighborLoader
from torch_geometric.sampler import HeteroSamplerOutput, NeighborSampler, NodeSamplerInput

import graphalign.training.sampling as sampling
from graphalign.training.sampling import TorchNeighborSampler, make_neighbor_sampler

DEPICTS = ("image", "depicts", "concept")
REV_DEPICTS = ("concept", "rev_depicts", "image")
DESCRIBES = ("text", "describes", "concept")
REV_DESCRIBES = ("concept", "rev_describes", "text")
IS_A = ("concept", "is_a", "concept")
REV_IS_A = ("concept", "rev_is_a", "concept")


def make_graph() -> HeteroData:
    """7 concepts, 50 images, 12 texts; edges stored in shuffled order (non-trivial CSC ``perm``).

    - concept 0 is depicted by images 0..9 (degree 10), concept 1 by images 10..49 (degree 40),
      image 5 also depicts concept 2 and image 12 concept 3;
    - text i describes concept i % 5; ``is_a``: 0, 1 -> 4 and 2, 3 -> 5; concept 6 has no edge;
    - every edge carries a unique ``edge_attr`` so that slicing by ``e_id`` can be checked.
    """
    g = torch.Generator().manual_seed(0)
    data = HeteroData()
    data["concept"].x = torch.randn(7, 4, generator=g)
    data["image"].x = torch.randn(50, 4, generator=g)
    data["text"].x = torch.randn(12, 4, generator=g)
    depicts = torch.tensor([list(range(50)) + [5, 12], [0] * 10 + [1] * 40 + [2, 3]])
    describes = torch.stack([torch.arange(12), torch.arange(12) % 5])
    is_a = torch.tensor([[0, 1, 2, 3], [4, 4, 5, 5]])
    for offset, (et, ei) in enumerate(
        [
            (DEPICTS, depicts),
            (REV_DEPICTS, depicts.flip(0)),
            (DESCRIBES, describes),
            (REV_DESCRIBES, describes.flip(0)),
            (IS_A, is_a),
            (REV_IS_A, is_a.flip(0)),
        ]
    ):
        ei = ei[:, torch.randperm(ei.size(1), generator=g)]
        data[et].edge_index = ei
        data[et].edge_attr = 1000.0 * offset + torch.arange(ei.size(1), dtype=torch.float).view(-1, 1)
    return data


@pytest.fixture(scope="module")
def graph() -> HeteroData:
    return make_graph()


def sample(sampler: NeighborSampler, node_type: str, seeds: list[int]) -> HeteroSamplerOutput:
    return sampler.sample_from_nodes(NodeSamplerInput(input_id=None, node=torch.tensor(seeds), input_type=node_type))


def global_edges(out: HeteroSamplerOutput, et: tuple[str, str, str]) -> torch.Tensor:
    return torch.stack([out.node[et[0]][out.row[et]], out.node[et[2]][out.col[et]]])


def original_ids(sampler: NeighborSampler, et: tuple[str, str, str], edge: torch.Tensor) -> torch.Tensor:
    perm = sampler.edge_permutation.get(et)
    return edge if perm is None else perm[edge]


def in_degree(data: HeteroData, et: tuple[str, str, str], node: int) -> int:
    return int((data[et].edge_index[1] == node).sum())


def hop_slices(counts: list[int]) -> list[slice]:
    bounds = torch.tensor([0] + counts).cumsum(0).tolist()
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def test_sampled_edges_are_real_edges_with_correct_ids(graph):
    sampler = TorchNeighborSampler(graph, [3, 2], seed=0)
    out = sample(sampler, "concept", [1, 0, 4])
    assert set(out.row) == set(graph.edge_types)
    for et in graph.edge_types:
        # the sampled edge, mapped to global node ids, is the input edge that `edge` points at
        e_id = original_ids(sampler, et, out.edge[et])
        assert torch.equal(global_edges(out, et), graph[et].edge_index[:, e_id])
        assert e_id.unique().numel() == e_id.numel()  # without replacement: no edge twice


def test_hops_fan_out_and_reachability(graph):
    fan_out = [3, 2]
    sampler = TorchNeighborSampler(graph, fan_out, seed=1)
    seeds = [1, 0, 4, 6]
    out = sample(sampler, "concept", seeds)
    node_hops = {t: hop_slices(c) for t, c in out.num_sampled_nodes.items()}
    edge_hops = {et: hop_slices([0] + c)[1:] for et, c in out.num_sampled_edges.items()}
    assert all(len(s) == 3 for s in node_hops.values()) and all(len(s) == 2 for s in edge_hops.values())
    assert sum(out.num_sampled_nodes["concept"]) == out.node["concept"].numel()
    for hop, k in enumerate(fan_out):
        for et in graph.edge_types:
            src, _, dst = et
            frontier = torch.arange(out.node[dst].numel())[node_hops[dst][hop]]  # local ids of hop-`hop` nodes
            cols = out.col[et][edge_hops[et][hop]]
            assert torch.isin(cols, frontier).all()
            for local in frontier.tolist():  # fan-out equals min(k, degree)
                expected = min(k, in_degree(graph, et, int(out.node[dst][local])))
                assert int((cols == local).sum()) == expected
        for node_type, hops in node_hops.items():  # every new node was reached by an edge of this hop
            new = torch.arange(out.node[node_type].numel())[hops[hop + 1]]
            reached = [out.row[et][edge_hops[et][hop]] for et in graph.edge_types if et[0] == node_type]
            assert torch.isin(new, torch.cat(reached)).all()


def brute_force(data: HeteroData, node_type: str, seeds: list[int], num_hops: int) -> tuple[dict, dict]:
    """Full ``num_hops`` neighbourhood, expanding only newly found nodes each hop (like the sampler)."""
    known = {t: set() for t in data.node_types}
    known[node_type] = set(seeds)
    frontier = {t: set() for t in data.node_types}
    frontier[node_type] = set(seeds)
    edges = {et: set() for et in data.edge_types}
    for _ in range(num_hops):
        new = {t: set() for t in data.node_types}
        for et in data.edge_types:
            for e, (u, v) in enumerate(data[et].edge_index.t().tolist()):
                if v in frontier[et[2]]:
                    edges[et].add(e)
                    if u not in known[et[0]]:
                        new[et[0]].add(u)
        for t in data.node_types:
            known[t] |= new[t]
        frontier = new
    return known, edges


@pytest.mark.parametrize("seeds", [[0], [1, 4], [6], [2, 3, 5]])
def test_minus_one_takes_the_whole_neighbourhood(graph, seeds):
    sampler = TorchNeighborSampler(graph, [-1, -1], seed=0)
    out = sample(sampler, "concept", seeds)
    nodes, edges = brute_force(graph, "concept", seeds, num_hops=2)
    for t in graph.node_types:
        assert set(out.node[t].tolist()) == nodes[t]
    for et in graph.edge_types:
        e_id = original_ids(sampler, et, out.edge[et])
        assert sorted(e_id.tolist()) == sorted(edges[et])


def test_nodes_are_unique_and_seeds_come_first(graph):
    sampler = TorchNeighborSampler(graph, [5, 5, 5], seed=2)
    for seeds in ([5, 0, 3], [1], [4, 2]):
        out = sample(sampler, "concept", seeds)
        assert out.node["concept"][: len(seeds)].tolist() == seeds
        for t, ids in out.node.items():
            assert ids.unique().numel() == ids.numel(), t


def test_duplicate_seeds_are_kept_verbatim_and_sampled_once(graph):
    sampler = TorchNeighborSampler(graph, [-1], seed=0)
    out = sample(sampler, "concept", [2, 2, 0])
    concepts = out.node["concept"].tolist()
    assert concepts[:3] == [2, 2, 0]  # n_id[:batch_size] must equal the input nodes
    assert len(set(concepts[3:])) == len(concepts) - 3 and not set(concepts[3:]) & {0, 2}
    assert out.edge[DEPICTS].numel() == 11  # concept 2 (degree 1) once + concept 0 (degree 10)
    assert not (out.col[DEPICTS] == 1).any()  # the duplicate's local index is never used


def test_same_seed_same_batches_different_seed_differs(graph):
    def draws(seed: int) -> list[list[int]]:
        sampler = TorchNeighborSampler(graph, [2, 2], seed=seed)
        outs = [sample(sampler, "concept", [1, 0]) for _ in range(5)]
        return [o.node["image"].tolist() + o.edge[DEPICTS].tolist() + o.node["text"].tolist() for o in outs]

    assert draws(7) == draws(7)
    assert draws(7) != draws(8)  # concept 1 has 40 images, k = 2


@pytest.mark.parametrize(("concept", "k"), [(0, 2), (0, 3), (1, 2)])
def test_sampling_is_roughly_uniform(graph, concept, k):
    # degree 10 / k=3 is subsampled by sorting random keys, degree 10 / k=2 and degree 40 / k=2 by redrawing
    sampler = TorchNeighborSampler(graph, {et: [k if et == DEPICTS else 0] for et in graph.edge_types}, seed=3)
    degree = in_degree(graph, DEPICTS, concept)
    counts = torch.zeros(50)
    draws = 2000
    for _ in range(draws):
        images = sample(sampler, "concept", [concept]).node["image"]
        assert images.numel() == k  # k distinct neighbours, no replacement
        counts[images] += 1
    freq = counts[counts > 0] / draws
    assert freq.numel() == degree
    p = k / degree
    band = 5 * (p * (1 - p) / draws) ** 0.5
    assert ((freq - p).abs() < band).all(), (freq, p)


def test_replace_samples_exactly_k(graph):
    sampler = TorchNeighborSampler(graph, [4], seed=0, replace=True)
    out = sample(sampler, "concept", [0, 2, 6])
    cols = out.col[DEPICTS]
    assert [int((cols == i).sum()) for i in range(3)] == [4, 4, 0]  # concept 2 has a single image
    e_id = original_ids(sampler, DEPICTS, out.edge[DEPICTS])
    assert torch.equal(global_edges(out, DEPICTS), graph[DEPICTS].edge_index[:, e_id])


def assert_batch_consistent(batch: HeteroData, data: HeteroData) -> None:
    for t in data.node_types:
        assert torch.equal(batch[t].x, data[t].x[batch[t].n_id])
        assert batch[t].n_id.unique().numel() == batch[t].n_id.numel()
    for et in data.edge_types:
        src, _, dst = et
        e_id = batch[et].e_id
        mapped = torch.stack([batch[src].n_id[batch[et].edge_index[0]], batch[dst].n_id[batch[et].edge_index[1]]])
        assert torch.equal(mapped, data[et].edge_index[:, e_id])
        assert torch.equal(batch[et].edge_attr, data[et].edge_attr[e_id])


def test_neighbor_loader_iterates_the_whole_graph(graph):
    sampler = TorchNeighborSampler(graph, [3, 2], seed=0)
    loader = NeighborLoader(graph, [3, 2], input_nodes="concept", batch_size=3, neighbor_sampler=sampler)
    seen = []
    for batch in loader:
        assert isinstance(batch, HeteroData)
        assert_batch_consistent(batch, graph)
        seen += batch["concept"].n_id[: batch["concept"].batch_size].tolist()
        assert batch["concept"].num_sampled_nodes[0] == batch["concept"].batch_size
    assert seen == list(range(7))


def test_link_neighbor_loader_iterates_the_whole_graph(graph):
    sampler = TorchNeighborSampler(graph, [3, 2], seed=0)
    loader = LinkNeighborLoader(
        graph,
        [3, 2],
        edge_label_index=(DEPICTS, graph[DEPICTS].edge_index),
        neg_sampling=None,
        batch_size=8,
        shuffle=True,
        neighbor_sampler=sampler,
    )
    seen = []
    for batch in loader:
        assert isinstance(batch, HeteroData)
        assert_batch_consistent(batch, graph)
        label_index = batch[DEPICTS].edge_label_index
        mapped = torch.stack([batch["image"].n_id[label_index[0]], batch["concept"].n_id[label_index[1]]])
        assert torch.equal(mapped, graph[DEPICTS].edge_index[:, batch[DEPICTS].input_id])
        seen += batch[DEPICTS].input_id.tolist()
    assert sorted(seen) == list(range(graph[DEPICTS].num_edges))


def test_homogeneous_data():
    g = torch.Generator().manual_seed(0)
    edge_index = torch.randint(0, 30, (2, 120), generator=g)
    data = Data(x=torch.randn(30, 2, generator=g), edge_index=edge_index, edge_attr=torch.arange(120.0))
    sampler = TorchNeighborSampler(data, [4, 3], seed=0)
    loader = NeighborLoader(data, [4, 3], batch_size=7, neighbor_sampler=sampler)
    for batch in loader:
        assert batch.n_id.unique().numel() == batch.n_id.numel()
        assert torch.equal(batch.n_id[batch.edge_index], data.edge_index[:, batch.e_id])
        assert torch.equal(batch.edge_attr, data.edge_attr[batch.e_id])
        assert sum(batch.num_sampled_nodes) == batch.num_nodes
        assert sum(batch.num_sampled_edges) == batch.num_edges


def test_workers_get_their_own_streams(graph, monkeypatch):
    def draws(worker: int | None) -> list[int]:
        info = None if worker is None else SimpleNamespace(id=worker, seed=123 + worker)
        monkeypatch.setattr(sampling, "get_worker_info", lambda: info)
        sampler = TorchNeighborSampler(graph, [2], seed=5)
        return [i for _ in range(5) for i in sample(sampler, "concept", [1]).node["image"].tolist()]

    assert draws(0) == draws(0)
    assert draws(0) != draws(1)
    assert draws(0) != draws(None)


def test_make_neighbor_sampler_picks_the_backend(graph, monkeypatch):
    monkeypatch.setattr(torch_geometric.typing, "WITH_PYG_LIB", False)
    monkeypatch.setattr(torch_geometric.typing, "WITH_TORCH_SPARSE", False)
    sampler = make_neighbor_sampler(graph, [2], seed=3)
    assert isinstance(sampler, TorchNeighborSampler) and sampler.seed == 3
    assert repr(sampler) == "TorchNeighborSampler(num_neighbors=[2], replace=False, seed=3)"
    monkeypatch.setattr(torch_geometric.typing, "WITH_PYG_LIB", True)
    sampler = make_neighbor_sampler(graph, [2])
    assert type(sampler) is NeighborSampler


@pytest.mark.parametrize(
    "kwargs",
    [
        {"disjoint": True},
        {"time_attr": "time"},
        {"weight_attr": "w"},
        {"subgraph_type": "induced"},
        {"sample_direction": "backward"},
    ],
)
def test_unsupported_options_raise(graph, kwargs):
    with pytest.raises(NotImplementedError):
        TorchNeighborSampler(graph, [2], **kwargs)
