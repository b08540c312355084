"""graphalign in five steps on the bundled Tux Paint + WordNet sample.

Run from any folder::

    python examples/quickstart.py
"""

from __future__ import annotations

import logging

import graphalign as ga

logging.basicConfig(level=logging.INFO, format="%(message)s")

# 1. Load and validate the bundled dataset by name (a folder with nodes.jsonl + edges.tsv + images/ works too).
graph = ga.load_dataset("tuxpaint_small")
print(graph)

# 2. Initial features: MiniLM for concepts and texts, EfficientNet-Lite0 + ConSE for images (cached),
#    and label-free edges from each image to the WordNet concepts of its top ImageNet classes.
built, stats = ga.build_graph(graph)
print(f"{stats.total_encoded} items encoded, {sum(stats.cached.values())} from the cache")

# 3. Train the default model (the `best` preset: a 2-layer GATv2 with the prior head and graph
#    channels, CLIP-style InfoNCE); held-out images and texts are never seen.
result = ga.fit(built, run_dir="runs/quickstart")
for direction in ("image->concept", "text->image"):
    print(f"{direction}: test MRR {result.test_metrics[f'{direction}/mrr']:.3f}")

# 4. Query the shared space.
aligner = ga.Aligner.load("runs/quickstart")
image_id = built.index.id("image", int(result.split.heldout["test"]["image"][0]))
print(f"\nconcepts nearest to the held-out image {image_id}:")
for hit in aligner.neighbors(image_id, k=5, type="concept"):
    print(f"  {hit.score:.3f} {hit.label}")

# 5. Zero-shot: a new image and a new text, not in the graph.
pizza = next(p for p in ga.datasets.query_images("tuxpaint_small") if p.name == "pizza.png")  # not in the graph
for hit in aligner.search(image=pizza, k=3, type="concept"):
    print(f"  pizza.png -> {hit.score:.3f} {hit.label}")
for hit in aligner.search(text="a fire engine with a ladder", k=3, type="image"):
    print(f"  'a fire engine with a ladder' -> {hit.score:.3f} {hit.label}")
