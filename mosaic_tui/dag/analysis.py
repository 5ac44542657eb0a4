"""Keystones and critical paths of the unfinished work, from ids, statuses and edges (dependency -> dependent).

*Unfinished* is every status but ``done`` (ready, claimed and blocked
cards all hold up their dependents). Only unfinished cards, and the edges
between them, count: a done card waits on nothing and holds up nothing.
Ids without a status (an edge to a card not loaded) are not cards here.

- :func:`keystones` — for each unfinished card, how many unfinished cards
  transitively wait on it (``unlocks N``; the card itself not counted). The
  count is exact: a card reached along two paths (a diamond) counts once.
  Sets of descendants are Python integers used as bitsets, numbered in
  depth-first post-order so that a card's descendants sit in a narrow range
  of bits; a set is freed once its last dependency has read it. Linear in the
  graph for trees and narrow DAGs; in general it is O(V·E/64) word operations
  (exact counts of reachable sets are a transitive closure: no linear method
  is known). ``bench/dag.py`` measures it at 100,000 cards.
- :func:`critical_paths` — the longest chain of unfinished work (in cards)
  in each group (a phase, say; edges between groups are not followed), as
  the list of ids from the first card to do to the last. O(V + E). Ties go
  to the cards given first.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

from mosaic_tui.dag.graph import Digraph

FINISHED = frozenset({"done"})


def _unfinished(ids: Iterable[str], statuses: Mapping[str, str | None], edges: Iterable[tuple[str, str]]) -> Digraph:
    live = [i for i in ids if i in statuses and statuses[i] is not None and statuses[i] not in FINISHED]
    return Digraph(live, edges)


def keystones(ids: Iterable[str], statuses: Mapping[str, str | None], edges: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Unfinished card -> how many unfinished cards transitively wait on it (exact)."""
    g = _unfinished(ids, statuses, edges)
    return _keystones(g, g.acyclic_succ()) if len(g) else {}


def _keystones(g: Digraph, acyclic: tuple) -> dict[str, int]:
    n = len(g)
    _order, succ, pred, _dropped = acyclic
    post = _postorder(n, succ, pred)
    rank = [0] * n
    for i, v in enumerate(post):
        rank[v] = i
    # v's descendants and v itself as (low, bits): bit k of ``bits`` is the card ranked low + k in post-order.
    # Every successor comes before v in post-order, so its set is ready; it is freed after its last reader.
    sets: list[tuple[int, int] | None] = [None] * n
    readers = [len(p) for p in pred]
    out = [0] * n
    for v in post:
        lo = rank[v]
        bits = 1
        for w in succ[v]:
            wlo, wbits = sets[w]  # type: ignore[misc]
            if wlo < lo:
                bits <<= lo - wlo
                lo = wlo
            bits |= wbits << (wlo - lo)
            readers[w] -= 1
            if not readers[w]:
                sets[w] = None
        out[v] = bits.bit_count() - 1
        if readers[v]:
            sets[v] = (lo, bits)
    return {g.ids[v]: out[v] for v in range(n)}


def critical_paths(
    ids: Iterable[str],
    statuses: Mapping[str, str | None],
    edges: Iterable[tuple[str, str]],
    group_of: Mapping[str, Hashable] | None = None,
) -> dict[Hashable, list[str]]:
    """Group -> the longest chain of unfinished cards in it (first to do first); one group ``None`` by default."""
    g = _unfinished(ids, statuses, edges)
    return _critical_paths(g, g.acyclic_succ(), group_of)


def _critical_paths(g: Digraph, acyclic: tuple, group_of: Mapping[str, Hashable] | None) -> dict[Hashable, list[str]]:
    n = len(g)
    order, _succ, pred, _dropped = acyclic
    grp = [group_of.get(i) if group_of is not None else None for i in g.ids]
    length = [1] * n
    back = [-1] * n
    for v in order:
        best = 0
        b = -1
        mine = grp[v]
        for u in pred[v]:
            if grp[u] == mine:
                lu = length[u]
                if lu > best or lu == best and u < b:
                    best = lu
                    b = u
        length[v] = best + 1
        back[v] = b
    ends: dict[Hashable, int] = {}
    for v in range(n):  # input order: ties go to the card given first
        e = ends.get(grp[v])
        if e is None or length[v] > length[e]:
            ends[grp[v]] = v
    out: dict[Hashable, list[str]] = {}
    for key, v in ends.items():
        chain = []
        while v != -1:
            chain.append(g.ids[v])
            v = back[v]
        out[key] = chain[::-1]
    return out


def critical_path(ids: Iterable[str], statuses: Mapping[str, str | None], edges: Iterable[tuple[str, str]]) -> list[str]:
    """The longest chain of unfinished cards over the whole graph (empty when nothing is unfinished)."""
    return critical_paths(ids, statuses, edges).get(None, [])


@dataclass(frozen=True, slots=True)
class Analysis:
    unlocks: dict[str, int]  # unfinished card -> unfinished cards transitively waiting on it
    critical: list[str]  # the longest chain of unfinished work, first to do first


def analyse(ids: Iterable[str], statuses: Mapping[str, str | None], edges: Iterable[tuple[str, str]]) -> Analysis:
    """Keystones and the critical path in one call."""
    unlocks, paths = keystones_and_paths(ids, statuses, edges)
    return Analysis(unlocks, paths.get(None, []))


def keystones_and_paths(
    ids: Iterable[str],
    statuses: Mapping[str, str | None],
    edges: Iterable[tuple[str, str]],
    group_of: Mapping[str, Hashable] | None = None,
) -> tuple[dict[str, int], dict[Hashable, list[str]]]:
    """:func:`keystones` and :func:`critical_paths` over one graph built once (about half the cost of both)."""
    unlocks, paths, _ = keystones_paths_and_longest(ids, statuses, edges, group_of)
    return unlocks, paths


def keystones_paths_and_longest(
    ids: Iterable[str],
    statuses: Mapping[str, str | None],
    edges: Iterable[tuple[str, str]],
    group_of: Mapping[str, Hashable] | None = None,
) -> tuple[dict[str, int], dict[Hashable, list[str]], list[str]]:
    """:func:`keystones_and_paths`, and the longest chain of unfinished work over the whole graph, across
    the groups (phases): what the board names when no phase is chosen. One graph, one more linear pass."""
    g = _unfinished(ids, statuses, edges)
    if not len(g):
        return {}, {}, []
    acyclic = g.acyclic_succ()
    paths = _critical_paths(g, acyclic, group_of)
    longest = paths.get(None, []) if group_of is None else _critical_paths(g, acyclic, None).get(None, [])
    return _keystones(g, acyclic), paths, longest


def _postorder(n: int, succ: list[list[int]], pred: list[list[int]]) -> list[int]:
    """Depth-first post-order over successors, from the nodes without predecessors (iterative)."""
    seen = [False] * n
    out: list[int] = []
    for root in range(n):
        if seen[root] or pred[root]:
            continue
        seen[root] = True
        stack = [(root, iter(succ[root]))]
        while stack:
            v, it = stack[-1]
            for w in it:
                if not seen[w]:
                    seen[w] = True
                    stack.append((w, iter(succ[w])))
                    break
            else:
                stack.pop()
                out.append(v)
    return out
