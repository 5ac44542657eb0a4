"""A layered (Sugiyama-style) layout of a DAG in character cells: boxes for nodes, orthogonal paths for edges.

Graph in (node ids, edges dependency -> dependent, optional node widths),
positions and edge paths out:

1. **Cycles** are broken (the backlog forbids them; other input may not):
   the edges that close one are dropped and listed in ``Layout.dropped``.
2. **Layers** by longest path: a node sits one layer below its deepest
   dependency, so every dependency is above its dependents. A node that needs
   nothing but unlocks something is then pulled down to just above its
   highest dependent (shorter edges; it still needs nothing).
3. **Long edges** (spanning several layers) are split by dummy nodes, one per
   layer crossed: each becomes a one-column vertical line in that layer.
4. **Crossing reduction**: barycenter sweeps down and up (``passes`` of
   each), then adjacent swaps (transpose) while they help; the order with the
   fewest crossings seen is kept.
5. **x coordinates**: each layer in turn is placed as near as the order and
   the spacing allow to the weighted mean of its neighbours' columns (a
   weighted isotonic regression, pool-adjacent-violators, exact and linear),
   sweeping down and up; edges between dummies weigh most, so long edges run
   straight.
6. **Edge routing** between two layers: a horizontal track (a row) per
   source that needs one; a source's track is above any track ending in its
   column, and tracks that overlap sideways get different rows (a dogleg
   through a free column breaks the rare cycle of such constraints). So lines
   never run along each other unless they share a source or a target: two
   lines meet only where they cross, fork from one source or join into one
   target (:mod:`mosaic_tui.dag.route`).

Coordinates are character cells: ``x`` to the right, ``y`` down. A node box
covers ``x .. x+w-1``, ``y .. y+h-1``; its port column is ``x + w // 2``. An
edge path starts on its source's bottom border (the cell drawn ``┬``), and
ends in the cell just above its target's top border (the arrowhead ``▼``);
consecutive points share a row or a column.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from mosaic_tui.dag.graph import Digraph
from mosaic_tui.dag.route import Group, arrivals, route_gap

DUMMY_WIDTH = 1


@dataclass(frozen=True, slots=True)
class NodeBox:
    id: str
    layer: int
    x: int
    y: int
    w: int
    h: int

    @property
    def port(self) -> int:
        """The column where edges leave (bottom border) and arrive (above the top border)."""
        return self.x + self.w // 2


@dataclass(frozen=True, slots=True)
class EdgePath:
    source: str
    target: str
    points: tuple[tuple[int, int], ...]  # an orthogonal polyline, source to target


@dataclass(slots=True)
class Layout:
    nodes: dict[str, NodeBox]
    edges: list[EdgePath]
    layers: list[list[str]]  # real nodes per layer, left to right
    width: int
    height: int
    dropped: list[tuple[str, str]] = field(default_factory=list)  # edges closing a cycle: not drawn
    crossings: int = 0  # edge crossings between adjacent layers, after reduction


# --------------------------------------------------------------------------- crossings
def _inversions(seq: list[int], size: int) -> int:
    """Pairs i < j with seq[i] > seq[j] (a Fenwick tree; values in 0..size-1)."""
    tree = [0] * (size + 1)
    inv = 0
    seen = 0
    for v in seq:
        # how many seen so far are > v
        i = v + 1
        le = 0
        while i > 0:
            le += tree[i]
            i -= i & -i
        inv += seen - le
        i = v + 1
        while i <= size:
            tree[i] += 1
            i += i & -i
        seen += 1
    return inv


def _layer_crossings(upper: list[int], lower_pos: list[int], down: list[list[int]], lower_size: int) -> int:
    """Crossings among the edges between ``upper`` (in order) and the layer below (positions ``lower_pos``)."""
    seq: list[int] = []
    for v in upper:
        seq.extend(sorted(lower_pos[w] for w in down[v]))
    return _inversions(seq, lower_size) if len(seq) > 1 else 0


def count_crossings(layers: Sequence[Sequence[str]], edges: Iterable[tuple[str, str]]) -> int:
    """Crossings of the edges between adjacent layers, given the order within each layer.

    Edges that do not join adjacent layers are left out (split them first).
    """
    layer_of: dict[str, int] = {}
    pos: dict[str, int] = {}
    for li, layer in enumerate(layers):
        for i, v in enumerate(layer):
            layer_of[v] = li
            pos[v] = i
    by_gap: dict[int, list[tuple[int, int]]] = {}
    for a, b in edges:
        if a in layer_of and b in layer_of and layer_of[b] == layer_of[a] + 1:
            by_gap.setdefault(layer_of[a], []).append((pos[a], pos[b]))
    total = 0
    for gap, pairs in by_gap.items():
        pairs.sort()
        total += _inversions([q for _, q in pairs], len(layers[gap + 1]))
    return total


# --------------------------------------------------------------------------- the layout
def _components(n: int, succ: list[list[int]], order: list[int]) -> list[int]:
    """Weakly connected component of each node, numbered in the order ``order`` first meets them."""
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for u in range(n):
        for v in succ[u]:
            ru, rv = find(u), find(v)
            if ru != rv:
                parent[ru] = rv
    number: dict[int, int] = {}
    out = [0] * n
    for v in order:
        out[v] = number.setdefault(find(v), len(number))
    return out


class _Layered:
    """The layered graph with dummies: nodes ``0..n-1`` are real, the rest dummies."""

    def __init__(self, g: Digraph, succ: list[list[int]], pred: list[list[int]], order: list[int], tighten: bool) -> None:
        n = len(g)
        layer = [0] * n
        for v in order:
            for u in pred[v]:
                if layer[u] + 1 > layer[v]:
                    layer[v] = layer[u] + 1
        if tighten:
            for v in order:
                if not pred[v] and succ[v]:
                    layer[v] = min(layer[w] for w in succ[v]) - 1
        self.n = n
        self.layer = layer
        self.up: list[list[int]] = [[] for _ in range(n)]
        self.down: list[list[int]] = [[] for _ in range(n)]
        self.chains: list[tuple[int, int, list[int]]] = []  # (u, v, [u, d1, ..., v]) per drawn edge
        for u in order:
            for v in succ[u]:
                chain = [u]
                prev = u
                for li in range(layer[u] + 1, layer[v]):
                    d = len(self.layer)
                    self.layer.append(li)
                    self.up.append([prev])
                    self.down.append([])
                    self.down[prev].append(d)
                    chain.append(d)
                    prev = d
                self.down[prev].append(v)
                self.up[v].append(prev)
                chain.append(v)
                self.chains.append((u, v, chain))
        depth = max(self.layer, default=-1) + 1
        self.layers: list[list[int]] = [[] for _ in range(depth)]
        # initial order: component by component (first met first), in topological order within one;
        # each dummy right after its chain's source
        comp = _components(n, succ, order)
        rank = {v: (comp[v], i) for i, v in enumerate(order)}
        key: list[tuple[int, float]] = [(0, 0.0)] * len(self.layer)
        for v in range(n):
            key[v] = rank[v]
        for u, _v, chain in self.chains:
            for d in chain[1:-1]:
                key[d] = (rank[u][0], rank[u][1] + 0.5)
        for v in sorted(range(len(self.layer)), key=lambda v: key[v]):
            self.layers[self.layer[v]].append(v)

    # -- crossing reduction -----------------------------------------------------------
    def _positions(self) -> list[int]:
        pos = [0] * len(self.layer)
        for layer in self.layers:
            for i, v in enumerate(layer):
                pos[v] = i
        return pos

    def crossings(self, pos: list[int] | None = None) -> int:
        pos = pos if pos is not None else self._positions()
        return sum(
            _layer_crossings(self.layers[i], pos, self.down, len(self.layers[i + 1]))
            for i in range(len(self.layers) - 1)
        )

    def _sweep(self, pos: list[int], downward: bool) -> None:
        rng = range(1, len(self.layers)) if downward else range(len(self.layers) - 2, -1, -1)
        for li in rng:
            layer = self.layers[li]
            nbrs = self.up if downward else self.down
            keyed = []
            for i, v in enumerate(layer):
                ns = nbrs[v]
                bc = sum(pos[u] for u in ns) / len(ns) if ns else float(i)
                keyed.append((bc, i, v))
            keyed.sort()
            self.layers[li] = layer = [v for _, _, v in keyed]
            for i, v in enumerate(layer):
                pos[v] = i

    def _pair_crossings(self, a: int, b: int, pos: list[int]) -> int:
        """Crossings between the edges of ``a`` and of ``b`` (``a`` left of ``b``), both sides."""
        c = 0
        for side in (self.up, self.down):
            pb = sorted(pos[w] for w in side[b])
            if not pb:
                continue
            for w in side[a]:
                c += bisect_left(pb, pos[w])  # b's neighbours strictly left of a's neighbour cross
        return c

    def _transpose(self, pos: list[int], rounds: int = 4) -> None:
        for _ in range(rounds):
            improved = False
            for layer in self.layers:
                for i in range(len(layer) - 1):
                    a, b = layer[i], layer[i + 1]
                    if self._pair_crossings(b, a, pos) < self._pair_crossings(a, b, pos):
                        layer[i], layer[i + 1] = b, a
                        pos[a], pos[b] = i + 1, i
                        improved = True
            if not improved:
                return

    def reduce_crossings(self, passes: int) -> int:
        pos = self._positions()
        best = self.crossings(pos)
        best_layers = [list(layer) for layer in self.layers]
        for p in range(passes):
            if best == 0:
                break
            self._sweep(pos, downward=p % 2 == 0)
            self._sweep(pos, downward=p % 2 == 1)
            c = self.crossings(pos)
            if c < best:
                best, best_layers = c, [list(layer) for layer in self.layers]
        self.layers = best_layers
        if best:
            pos = self._positions()
            self._transpose(pos)  # each swap lowers the count: never worse
            best = self.crossings(pos)
        return best

    # -- x coordinates ----------------------------------------------------------------
    def place(self, widths: list[int], hsep: int, iterations: int = 4) -> list[int]:
        """Left column of every node (real and dummy); the least is 0."""
        n_all = len(self.layer)
        real = self.n
        half = [w // 2 for w in widths]
        # offsets: where each node would start if its layer were packed from column 0
        offsets: list[list[int]] = []
        x = [0.0] * n_all
        for layer in self.layers:
            offs = []
            cur = 0
            for v in layer:
                offs.append(cur)
                cur += widths[v] + (hsep if v < real else 1)
            offsets.append(offs)
            for v, o in zip(layer, offs, strict=True):
                x[v] = o - cur / 2

        def weighted(side: list[list[int]]) -> list[list[tuple[int, float]]]:
            return [
                [(u, 8.0 if u >= real and v >= real else 2.0 if u >= real or v >= real else 1.0) for u in side[v]]
                for v in range(n_all)
            ]

        up, down = weighted(self.up), weighted(self.down)
        both = [a + b for a, b in zip(up, down, strict=True)]
        depth = len(self.layers)
        sweeps = [(up, range(depth)), (down, range(depth - 1, -1, -1))] * iterations + [(both, range(depth))]
        for nbrs, rng in sweeps:
            for li in rng:
                layer = self.layers[li]
                offs = offsets[li]
                # pool adjacent violators on (target - offset): the placement nearest the targets
                # (weighted least squares) that keeps the order and the spacing
                blocks: list[list[float]] = []  # [mean, weight, count]
                for v, off in zip(layer, offs, strict=True):
                    ns = nbrs[v]
                    if ns:
                        tw = acc = 0.0
                        for u, w in ns:
                            tw += w
                            acc += w * (x[u] + half[u])
                        blocks.append([acc / tw - half[v] - off, tw, 1])
                    else:
                        blocks.append([x[v] - off, 0.05, 1])
                    while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
                        m2, w2, c2 = blocks.pop()
                        b1 = blocks[-1]
                        tw = b1[1] + w2
                        b1[0] = (b1[0] * b1[1] + m2 * w2) / tw
                        b1[1] = tw
                        b1[2] += c2
                i = 0
                for m, _w, c in blocks:
                    for _ in range(int(c)):
                        x[layer[i]] = m + offs[i]
                        i += 1
        # integers: round the shifted values (monotone, so spacing survives), then start at column 0
        out = [0] * n_all
        for layer, offs in zip(self.layers, offsets, strict=True):
            prev = None
            for v, off in zip(layer, offs, strict=True):
                y = math.floor(x[v] - off + 0.5)
                if prev is not None and y < prev:
                    y = prev
                prev = y
                out[v] = y + off
        lo = min(out, default=0)
        return [v - lo for v in out]


def layout(
    nodes: Iterable[str],
    edges: Iterable[tuple[str, str]],
    widths: Mapping[str, int] | None = None,
    *,
    default_width: int = 9,
    node_height: int = 3,
    hsep: int = 2,
    passes: int = 8,
    tighten: bool = True,
) -> Layout:
    """Lay out the DAG ``nodes`` / ``edges`` (dependency -> dependent) in character cells.

    ``widths`` gives a node's box width (at least 3; wider when more lines
    arrive separately than its top border holds); ``node_height`` (at least
    2) is every box's height. Edges naming unknown nodes are ignored.
    """
    g = Digraph(nodes, edges)
    order, succ, pred, dropped = g.acyclic_succ()
    lg = _Layered(g, succ, pred, order, tighten)
    crossings = lg.reduce_crossings(passes)
    widths = widths or {}
    h = max(2, node_height)
    w_all = [max(3, int(widths.get(v, default_width))) for v in g.ids] + [DUMMY_WIDTH] * (len(lg.layer) - lg.n)
    for v in range(lg.n):  # room on the top border for every separate arrival (see route.arrivals)
        multi = sum(1 for a in lg.up[v] if len(lg.down[a]) > 1)
        single = any(len(lg.down[a]) == 1 for a in lg.up[v])
        w_all[v] = max(w_all[v], multi + single + 2)
    xs = lg.place(w_all, hsep)
    port = [xs[v] + w_all[v] // 2 for v in range(len(xs))]

    # routing, gap by gap
    depth = len(lg.layers)
    gap_groups: list[dict[int, Group]] = []
    gap_tracks: list[int] = []
    arrival: dict[tuple[int, int], int] = {}  # (upper node, lower node) -> the column the line arrives in
    for li in range(depth - 1):
        for b in lg.layers[li + 1]:
            if b < lg.n:
                arrivals(b, lg.up, lg.down, xs, w_all, port, arrival)
            else:
                arrival[(lg.up[b][0], b)] = port[b]
        groups: dict[int, Group] = {}
        for v in lg.layers[li]:
            if lg.down[v]:
                groups[v] = Group(port[v], {arrival[(v, w)] for w in lg.down[v]})
        gl = list(groups.values())
        gap_tracks.append(route_gap(gl))
        gap_groups.append(groups)
    ys = [0] * depth
    for li in range(1, depth):
        ys[li] = ys[li - 1] + h + gap_tracks[li - 1] + 1

    boxes = {
        g.ids[v]: NodeBox(g.ids[v], lg.layer[v], xs[v], ys[lg.layer[v]], w_all[v], h) for v in range(lg.n)
    }
    paths: list[EdgePath] = []
    for u, v, chain in lg.chains:
        pts: list[tuple[int, int]] = [(port[u], ys[lg.layer[u]] + h - 1)]
        for a, b in zip(chain, chain[1:], strict=False):
            li = lg.layer[a]
            base = ys[li] + h
            grp: Group | None = gap_groups[li][a]
            tx = arrival[(a, b)]
            while grp is not None:
                if not grp.straight:
                    pts.append((grp.fx, base + grp.track))
                    nxt = grp.nxt
                    pts.append((nxt.fx if nxt is not None else tx, base + grp.track))
                grp = grp.nxt
            pts.append((tx, ys[li + 1] - 1))
        paths.append(EdgePath(g.ids[u], g.ids[v], _simplify(pts)))
    width = max((xs[v] + w_all[v] for v in range(len(xs))), default=0)
    for p in paths:
        width = max(width, max(x for x, _ in p.points) + 1)
    height = ys[-1] + h if depth else 0
    layers = [[g.ids[v] for v in layer if v < lg.n] for layer in lg.layers]
    return Layout(
        nodes=boxes, edges=paths, layers=layers, width=width, height=height,
        dropped=sorted((g.ids[a], g.ids[b]) for a, b in dropped), crossings=crossings,
    )


def _simplify(pts: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Drop repeated points and the middle of three points in one line."""
    out: list[tuple[int, int]] = []
    for p in pts:
        if out and out[-1] == p:
            continue
        if len(out) >= 2:
            (x0, y0), (x1, y1) = out[-2], out[-1]
            if (x0 == x1 == p[0]) or (y0 == y1 == p[1]):
                out[-1] = p
                continue
        out.append(p)
    return tuple(out)
