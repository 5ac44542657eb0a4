"""A small indexed digraph shared by the layout and the analysis: ids to integers, successor lists, a topological order.

Edges run from a dependency to its dependent. Edges naming an unknown node,
self-loops and duplicates are left out. The backlog forbids cycles, but input
from elsewhere may hold one: :meth:`Digraph.topo` never hangs on it, it drops
the fewest edges its simple rule finds (each a cycle's closing edge) and says which.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable


def from_card_edges(edges: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The repository's ``(card, dependency)`` pairs as ``(dependency, card)``: the direction drawn."""
    return [(dep, card) for card, dep in edges]


class Digraph:
    """Nodes ``0..n-1`` (``ids[i]``), successors (in input order) and predecessors (by source) as lists of ints."""

    __slots__ = ("ids", "index", "succ", "pred", "ignored")

    def __init__(self, nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> None:
        self.ids: list[str] = list(dict.fromkeys(nodes))
        self.index: dict[str, int] = {v: i for i, v in enumerate(self.ids)}
        self.succ: list[list[int]] = [[] for _ in self.ids]
        self.pred: list[list[int]] = [[] for _ in self.ids]
        self.ignored: list[tuple[str, str]] = []  # edges naming an unknown node
        get = self.index.get
        succ = self.succ
        for a, b in edges:
            ia = get(a)
            ib = get(b)
            if ia is None or ib is None:
                self.ignored.append((a, b))
            elif ia != ib:
                succ[ia].append(ib)
        pred = self.pred
        for ia, s in enumerate(succ):
            if len(s) > 1 and len(set(s)) < len(s):
                s[:] = dict.fromkeys(s)  # duplicates: once each, first seen first
            for ib in s:
                pred[ib].append(ia)

    def __len__(self) -> int:
        return len(self.ids)

    def topo(self) -> tuple[list[int], set[tuple[int, int]]]:
        """A topological order (Kahn's, first-in first-out from input order) and the edges dropped to get it.

        When every remaining node waits on another (a cycle), the first
        remaining node in input order is taken anyway and its edges from the
        remaining nodes are dropped. Without cycles nothing is dropped.
        O(V + E).
        """
        n = len(self.ids)
        indeg = [len(p) for p in self.pred]
        done = [False] * n
        queue = deque(i for i in range(n) if indeg[i] == 0)
        order: list[int] = []
        dropped: set[tuple[int, int]] = set()
        cursor = 0
        while len(order) < n:
            if not queue:
                while done[cursor]:
                    cursor += 1
                v = cursor
                for u in self.pred[v]:
                    if not done[u]:
                        dropped.add((u, v))
                indeg[v] = 0
                queue.append(v)
            v = queue.popleft()
            if done[v]:
                continue
            done[v] = True
            order.append(v)
            for w in self.succ[v]:
                if dropped and (v, w) in dropped:
                    continue
                indeg[w] -= 1
                if indeg[w] == 0:
                    queue.append(w)
        return order, dropped

    def acyclic_succ(self) -> tuple[list[int], list[list[int]], list[list[int]], set[tuple[int, int]]]:
        """Order, successors and predecessors without the dropped edges, and the dropped edges."""
        order, dropped = self.topo()
        if not dropped:
            return order, self.succ, self.pred, dropped
        succ = [[w for w in s if (v, w) not in dropped] for v, s in enumerate(self.succ)]
        pred = [[u for u in p if (u, v) not in dropped] for v, p in enumerate(self.pred)]
        return order, succ, pred, dropped


def acyclic(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> tuple[list[str], list[tuple[str, str]]]:
    """A topological order of ``nodes`` and the edges dropped to break cycles (none for a DAG)."""
    g = Digraph(nodes, edges)
    order, dropped = g.topo()
    return [g.ids[i] for i in order], sorted((g.ids[a], g.ids[b]) for a, b in dropped)
