"""Named datasets: the bundled Tux Paint + WordNet sample and the recipes of full graphs.

Bundled datasets ship inside the package and load by name from any folder;
recipes write a dataset folder from sources installed on this machine.

Example:
    >>> import graphalign as ga
    >>> ga.datasets.names()
    ['openclipart_wordnet', 'tuxpaint_small', 'tuxpaint_wordnet']
    >>> graph = ga.load_dataset("tuxpaint_small")
    >>> graph.num_nodes
    1874
    >>> ga.datasets.build("tuxpaint_wordnet", "data/tuxpaint_full")  # doctest: +SKIP
    PosixPath('data/tuxpaint_full')
"""

from graphalign.datasets.base import DATA_DIR, DATASETS, NamedDataset, build, names, path, query_images, resolve
from graphalign.datasets.openclipart_wordnet import OpenClipartWordNet
from graphalign.datasets.tuxpaint_wordnet import TuxPaintSmall, TuxPaintWordNet

__all__ = [
    "DATASETS",
    "DATA_DIR",
    "NamedDataset",
    "OpenClipartWordNet",
    "TuxPaintSmall",
    "TuxPaintWordNet",
    "names",
    "path",
    "build",
    "resolve",
    "query_images",
]
