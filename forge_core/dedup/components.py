"""Connected components over verified duplicate edges, with a deterministic survivor each."""

from __future__ import annotations


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        root = x
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while x != root:  # path compression keeps later finds flat
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def components(edges: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Root -> members, for every node that appears in an edge."""
    uf = UnionFind()
    for a, b in edges:
        uf.union(a, b)
    groups: dict[str, list[str]] = {}
    for node in {n for edge in edges for n in edge}:
        groups.setdefault(uf.find(node), []).append(node)
    return groups
