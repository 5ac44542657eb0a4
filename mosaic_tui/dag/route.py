"""Edge routing between two layers of a layout: horizontal tracks, arrival columns, doglegs.

The lines leaving one node across one gap are a group: down from the node's
port to a track (a row), across, and down to each target's arrival column.
Rules that keep every line readable (``tests/test_dag_layout.py`` checks
them: following the lines down from a source reaches exactly its targets):

- a group whose line comes down column ``t`` is above any group going on
  down ``t`` (else they would run along each other), and above any group
  joining a line straight through it (else the joiner would seem to reach
  the other group's targets);
- two groups share a track only end to end into one target;
- a source with other targets arrives in a column of its own on the
  target's top border (:func:`arrivals`); sources with no other target join
  in one column;
- a cycle of "above" constraints is broken by a dogleg through a free column.
"""

from __future__ import annotations


def _free_column(used: set[int], near: int, lo: int) -> int:
    for d in range(0, 1 << 30):
        for c in (near - d, near + d):
            if c >= lo and c not in used:
                return c
    raise AssertionError("unreachable")


class Group:
    """The lines leaving one node (or one dogleg column) across one gap between layers."""

    __slots__ = ("fx", "txs", "track", "nxt", "span", "straight")

    def __init__(self, fx: int, txs: set[int]) -> None:
        self.fx = fx
        self.track = -1
        self.nxt: Group | None = None  # the second half of a dogleg
        self.set_targets(txs)

    def set_targets(self, txs: set[int]) -> None:
        self.txs = txs
        self.span = (min(self.fx, min(txs)), max(self.fx, max(txs)))
        self.straight = txs == {self.fx}


def route_gap(groups: list[Group]) -> int:
    """Give each group needing a horizontal line a track (row) in the gap; return the number of tracks."""
    used = {g.fx for g in groups} | {t for g in groups for t in g.txs}
    lo_col = 0
    while True:
        # H must be above G when H's line comes down column t (H.fx) and G's goes on down it (t in G.txs):
        # otherwise the two would run along each other there. Even when H also goes straight on down t
        # (to the same target as G), G joins it only below H's fork, or G would seem to lead to H's other
        # targets too. A dogleg's halves: the first above the second.
        by_fx = {g.fx: g for g in groups}
        ids = {id(g): i for i, g in enumerate(groups)}
        above: dict[int, set[int]] = {i: set() for i in range(len(groups))}  # i -> groups that must be above i
        for i, g in enumerate(groups):
            if g.nxt is not None:
                above[ids[id(g.nxt)]].add(i)
                continue
            for t in g.txs:
                h = by_fx.get(t)
                if h is not None and h is not g and not h.straight:
                    above[i].add(ids[id(h)])
        # Kahn over "above" constraints; a cycle is broken by a dogleg
        below: dict[int, list[int]] = {i: [] for i in range(len(groups))}
        indeg = {i: len(a) for i, a in above.items()}
        for i, a in above.items():
            for j in a:
                below[j].append(i)
        ready = sorted((i for i in indeg if indeg[i] == 0), key=lambda i: groups[i].span)
        topo: list[int] = []
        while ready:
            i = ready.pop(0)
            topo.append(i)
            for k in below[i]:
                indeg[k] -= 1
                if indeg[k] == 0:
                    ready.append(k)
        if len(topo) == len(groups):
            break
        # walk back along unprocessed "above" links until a group repeats: that one is on a cycle
        done = set(topo)
        stuck = min((i for i in indeg if indeg[i] > 0), key=lambda i: groups[i].span)
        seen_walk: set[int] = set()
        while stuck not in seen_walk:
            seen_walk.add(stuck)
            stuck = min(j for j in above[stuck] if j not in done)
        g = groups[stuck]
        xf = _free_column(used, (g.fx + min(g.txs, key=lambda t: abs(t - g.fx))) // 2, lo_col)
        used.add(xf)
        second = Group(xf, g.txs)
        g.set_targets({xf})
        g.nxt = second
        groups.append(second)
    tracks: list[list[Group]] = []
    for i in topo:
        g = groups[i]
        if g.straight:
            continue
        t = 1 + max((groups[j].track for j in above[i]), default=-1)
        while True:
            if t == len(tracks):
                tracks.append([])
            if not any(_clash(g, o) for o in tracks[t]):
                break
            t += 1
        tracks[t].append(g)
        g.track = t
    return len(tracks)


def _clash(a: Group, b: Group) -> bool:
    """Whether two horizontal lines cannot share a row.

    They may only when they meet end to end and both go down there into one
    target, and nowhere else (else a line could be read as going on into the
    other's targets).
    """
    alo, ahi = a.span
    blo, bhi = b.span
    lo, hi = max(alo, blo), min(ahi, bhi)
    if lo > hi:
        return False
    return not (lo == hi and a.txs == b.txs == {lo})


def arrivals(
    b: int, up: list[list[int]], down: list[list[int]], xs: list[int], widths: list[int], port: list[int],
    out: dict[tuple[int, int], int],
) -> None:
    """Columns on ``b``'s top border where its incoming lines arrive.

    Lines from sources with no other target in this gap merge into one
    column (a fan-in reads as lines joining into the target); a line from a
    source that also goes elsewhere arrives in a column of its own, or a
    reader following a joined line could turn off into that source's other
    targets. Columns keep the sources' left-to-right order, two apart when
    the box is wide enough.
    """
    ups = up[b]
    if len(ups) == 1:
        out[(ups[0], b)] = port[b]
        return
    lo, hi = xs[b] + 1, xs[b] + widths[b] - 2
    merged = [a for a in ups if len(down[a]) == 1]
    slots: list[tuple[int, list[int]]] = []  # (source column, sources), left to right
    if merged:
        slots.append((sum(port[a] for a in merged) // len(merged), merged))
    slots += [(port[a], [a]) for a in ups if len(down[a]) > 1]
    slots.sort(key=lambda s: s[0])
    k = len(slots)
    sp = 2 if (k - 1) * 2 <= hi - lo else 1
    first = min(max(lo, port[b] - (k - 1) * sp // 2), max(lo, hi - (k - 1) * sp))
    for i, (_fx, srcs) in enumerate(slots):
        c = first + i * sp  # the box is wide enough (layout widens it)
        for a in srcs:
            out[(a, b)] = c
