"""Connected components over verified duplicate edges, read back from the files they were spilled to.

Memory holds the documents that have an edge (8 bytes each for the sorted node list, 8 for the
labels) and one edge file at a time; the edges themselves stay on disk and are read once per round.
Rounds are min-label propagation with pointer jumping, so a chain of k documents settles in about
log2(k) rounds, not k.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np


def _nodes(chunks: Iterable[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    nodes = np.zeros(0, dtype=np.uint64)
    for a, b in chunks:
        nodes = np.union1d(nodes, np.concatenate([a, b]).astype(np.uint64))
    return nodes


def components(
    edge_chunks: Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]],
) -> tuple[np.ndarray, np.ndarray]:
    """(nodes, root): every node that appears in an edge, sorted, and the smallest node of its component.

    edge_chunks: called once per pass, yields (a, b) arrays of node ids (uint64).
    """
    nodes = _nodes(edge_chunks())
    label = np.arange(len(nodes), dtype=np.int64)
    changed = True
    while changed:
        changed = False
        for a, b in edge_chunks():
            if not len(a):
                continue
            u = np.searchsorted(nodes, a.astype(np.uint64))
            v = np.searchsorted(nodes, b.astype(np.uint64))
            low = np.minimum(label[u], label[v])
            if np.any(label[u] != low) or np.any(label[v] != low):
                changed = True
                np.minimum.at(label, u, low)
                np.minimum.at(label, v, low)
        while True:  # pointer jumping: every node straight to its label's label
            jumped = label[label]
            if np.array_equal(jumped, label):
                break
            label = jumped
    return nodes, nodes[label]
