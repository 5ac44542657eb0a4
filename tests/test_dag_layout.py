"""The DAG layout (mosaic_tui.dag.layout): shapes, and properties of every layout of random DAGs."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from mosaic_tui.dag import count_crossings, layout
from mosaic_tui.dag.canvas import CROSS, DOWN, LEFT, RIGHT, UP, edge_cells, render_text
from mosaic_tui.dag.layout import Layout

STEP = {DOWN: (0, 1), LEFT: (-1, 0), RIGHT: (1, 0)}
BACK = {DOWN: UP, LEFT: RIGHT, RIGHT: LEFT}


# --------------------------------------------------------------------------- what every layout must satisfy
def check(lay: Layout, nodes, edges) -> None:
    nodes = list(dict.fromkeys(nodes))
    assert set(lay.nodes) == set(nodes)
    # no two boxes share a cell
    owner: dict[tuple[int, int], str] = {}
    for b in lay.nodes.values():
        assert b.x >= 0 and b.y >= 0 and b.x + b.w <= lay.width and b.y + b.h <= lay.height
        for x in range(b.x, b.x + b.w):
            for y in range(b.y, b.y + b.h):
                assert (x, y) not in owner, f"{b.id} overlaps {owner[(x, y)]} at {(x, y)}"
                owner[(x, y)] = b.id
    # every edge not closing a cycle is drawn once, dependency above dependent
    drawn = [(p.source, p.target) for p in lay.edges]
    assert len(drawn) == len(set(drawn))
    wanted = {(a, b) for a, b in edges if a != b and a in lay.nodes and b in lay.nodes} - set(lay.dropped)
    assert set(drawn) == wanted
    for p in lay.edges:
        s, t = lay.nodes[p.source], lay.nodes[p.target]
        assert s.layer < t.layer and s.y + s.h < t.y
        # the path starts on the source's bottom border, at its port, and ends just above the target's top border
        assert p.points[0] == (s.port, s.y + s.h - 1)
        assert p.points[-1][1] == t.y - 1 and t.x < p.points[-1][0] < t.x + t.w - 1
        for (x0, y0), (x1, y1) in zip(p.points, p.points[1:], strict=False):
            assert (x0 == x1) != (y0 == y1), "orthogonal steps, no repeated point"
            assert y1 >= y0, "lines never go up"
            for x in range(min(x0, x1), max(x0, x1) + 1):
                for y in range(min(y0, y1), max(y0, y1) + 1):
                    if (x, y) in owner:
                        assert (x, y) == p.points[0] and owner[(x, y)] == p.source, f"{p} runs through {owner[(x, y)]}"
    # two lines share a run of cells only when they share a source or a target
    runs: dict[tuple[int, int, str], list[int]] = {}
    for e, p in enumerate(lay.edges):
        for (x0, y0), (x1, y1) in zip(p.points, p.points[1:], strict=False):
            axis = "v" if x0 == x1 else "h"
            for x in range(min(x0, x1), max(x0, x1) + 1):
                for y in range(min(y0, y1), max(y0, y1) + 1):
                    runs.setdefault((x, y, axis), []).append(e)
    for key, es in runs.items():
        for i in es:
            for j in es:
                a, b = lay.edges[i], lay.edges[j]
                assert a.source == b.source or a.target == b.target, f"{a} and {b} run together at {key}"
    check_readable(lay)


def check_readable(lay: Layout) -> None:
    """Following the drawn lines down from a source (straight on where lines cross) reaches exactly its targets."""
    mask = {(x, y): m for y, row in edge_cells(lay).items() for x, (m, _) in row.items()}
    arrows = {p.points[-1]: set() for p in lay.edges}
    for p in lay.edges:
        arrows[p.points[-1]].add(p.target)
    targets: dict[str, set[str]] = {}
    for p in lay.edges:
        targets.setdefault(p.source, set()).add(p.target)
    for src, want in targets.items():
        b = lay.nodes[src]
        start = (b.port, b.y + b.h - 1)
        reached: set[str] = set()
        seen = set()
        stack = [((start[0], start[1] + 1), DOWN)]
        while stack:
            cell, came = stack.pop()
            if (cell, came) in seen:
                continue
            seen.add((cell, came))
            if cell in arrows:
                reached |= arrows[cell]
                continue
            m = mask.get(cell, 0)
            dirs = [came] if m == CROSS else [d for d in (DOWN, LEFT, RIGHT) if m & d and d != BACK[came]]
            for d in dirs:
                dx, dy = STEP[d]
                stack.append(((cell[0] + dx, cell[1] + dy), d))
        assert reached == want, f"from {src} the lines lead to {sorted(reached)}, not {sorted(want)}"


def random_dag(rng: random.Random, n: int, p: float, window: int = 8) -> tuple[list[str], list[tuple[str, str]]]:
    ids = [f"N{i}" for i in range(n)]
    edges = [(ids[j], ids[i]) for i in range(n) for j in range(max(0, i - window), i) if rng.random() < p]
    return ids, edges


# --------------------------------------------------------------------------- shapes
def test_chain_is_one_straight_column():
    ids = ["a", "b", "c", "d"]
    edges = [("a", "b"), ("b", "c"), ("c", "d")]
    lay = layout(ids, edges)
    check(lay, ids, edges)
    assert lay.layers == [["a"], ["b"], ["c"], ["d"]]
    assert len({b.port for b in lay.nodes.values()}) == 1
    assert all(len(p.points) == 2 for p in lay.edges), "straight down, no turn"
    assert lay.crossings == 0


def test_diamond_picture():
    ids = ["a", "b", "c", "d"]
    edges = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]
    lay = layout(ids, edges, default_width=7)
    check(lay, ids, edges)
    assert lay.layers == [["a"], ["b", "c"], ["d"]]
    assert render_text(lay) == [
        "     ╭─────╮",
        "     │a    │",
        "     ╰──┬──╯",
        "   ╭────┴───╮",
        "   ▼        ▼",
        "╭─────╮  ╭─────╮",
        "│b    │  │c    │",
        "╰──┬──╯  ╰──┬──╯",
        "   ╰────┬───╯",
        "        ▼",
        "     ╭─────╮",
        "     │d    │",
        "     ╰─────╯",
    ]


def test_wide_fan_out_centres_the_source_over_one_track():
    kids = [f"k{i:02d}" for i in range(20)]
    edges = [("root", k) for k in kids]
    lay = layout(["root", *kids], edges)
    check(lay, ["root", *kids], edges)
    assert lay.layers == [["root"], kids]
    ports = [lay.nodes[k].port for k in kids]
    assert min(ports) < lay.nodes["root"].port < max(ports)
    assert abs(lay.nodes["root"].port - (min(ports) + max(ports)) / 2) <= 1
    rows = {y for p in lay.edges for _, y in p.points[1:-1]}
    assert len(rows) == 1, "one horizontal line carries the fan-out"
    assert lay.crossings == 0


def test_fan_in_joins_into_one_arrow():
    srcs = [f"s{i:02d}" for i in range(12)]
    edges = [(s, "sink") for s in srcs]
    lay = layout([*srcs, "sink"], edges)
    check(lay, [*srcs, "sink"], edges)
    assert lay.layers == [srcs, ["sink"]]
    assert len({p.points[-1] for p in lay.edges}) == 1, "the lines join: one arrowhead"
    assert lay.crossings == 0


def test_a_source_with_other_targets_arrives_in_a_column_of_its_own():
    # x also goes to y: if its line joined z's into t, a reader could follow z's line to y
    ids = ["z", "x", "t", "y"]
    edges = [("z", "t"), ("x", "t"), ("x", "y")]
    lay = layout(ids, edges)
    check(lay, ids, edges)
    ends = {(p.source, p.target): p.points[-1] for p in lay.edges}
    assert ends[("z", "t")] != ends[("x", "t")]


def test_two_components_side_by_side():
    ids = ["a1", "a2", "a3", "b1", "b2", "b3"]
    edges = [("a1", "a2"), ("a1", "a3"), ("b1", "b2"), ("b1", "b3")]
    lay = layout(ids, edges)
    check(lay, ids, edges)
    for layer in lay.layers:
        comps = [v[0] for v in layer]
        assert comps == sorted(comps), "a component's nodes are not split by the other's"
    a_right = max(lay.nodes[v].x + lay.nodes[v].w for v in ids if v[0] == "a")
    b_left = min(lay.nodes[v].x for v in ids if v[0] == "b")
    assert a_right <= b_left


def test_long_edge_skips_layers_without_touching_a_box():
    ids = ["a", "b", "c", "d"]
    edges = [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d")]
    lay = layout(ids, edges)
    check(lay, ids, edges)  # no cell of a path inside any box but its own start
    assert [lay.nodes[v].layer for v in ids] == [0, 1, 2, 3]
    long = next(p for p in lay.edges if (p.source, p.target) == ("a", "d"))
    ys = [y for _, y in long.points]
    assert min(ys) < lay.nodes["b"].y and max(ys) == lay.nodes["d"].y - 1
    # it passes the rows of b and c in one column beside them (check: no path cell inside a box)
    passing = [(x0, y0, y1) for (x0, y0), (x1, y1) in zip(long.points, long.points[1:], strict=False) if x0 == x1]
    b, c = lay.nodes["b"], lay.nodes["c"]
    assert any(y0 <= b.y and y1 >= c.y + c.h - 1 for _, y0, y1 in passing)


def test_source_pulled_down_to_its_dependent():
    # "late" needs nothing, and only "d" (layer 3) needs it: it sits in layer 2, not 0
    ids = ["a", "b", "c", "d", "late"]
    edges = [("a", "b"), ("b", "c"), ("c", "d"), ("late", "d")]
    lay = layout(ids, edges)
    check(lay, ids, edges)
    assert lay.nodes["late"].layer == 2
    assert layout(ids, edges, tighten=False).nodes["late"].layer == 0


def test_cycles_do_not_hang_and_are_reported():
    ids = ["a", "b", "c", "d"]
    edges = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("d", "d"), ("a", "ghost")]
    lay = layout(ids, edges)
    check(lay, ids, edges)
    assert len(lay.dropped) == 1 and lay.dropped[0] in {("a", "b"), ("b", "c"), ("c", "a")}
    assert all(p.source != p.target for p in lay.edges)


def test_everything_in_a_cycle():
    ids = [f"n{i}" for i in range(30)]
    edges = [(ids[i], ids[(i + 1) % 30]) for i in range(30)] + [(ids[i], ids[(i + 7) % 30]) for i in range(30)]
    lay = layout(ids, edges)
    check(lay, ids, edges)
    assert lay.dropped


def test_empty_and_single():
    empty = layout([], [])
    assert (empty.width, empty.height, empty.nodes, empty.edges) == (0, 0, {}, [])
    one = layout(["x"], [], widths={"x": 12}, node_height=4)
    assert one.nodes["x"].w == 12 and one.nodes["x"].h == 4 and (one.width, one.height) == (12, 4)


def test_widths_are_kept():
    ids = ["a", "b", "c"]
    widths = {"a": 30, "b": 5, "c": 11}
    lay = layout(ids, [("a", "b"), ("a", "c")], widths)
    assert {v: lay.nodes[v].w for v in ids} == widths


def test_a_narrow_box_is_widened_for_separate_arrivals():
    # four sources that each go elsewhere too must arrive in four columns of "t"
    srcs = ["s1", "s2", "s3", "s4"]
    edges = [(s, "t") for s in srcs] + [(s, f"o{i}") for i, s in enumerate(srcs)]
    ids = [*srcs, "t", "o0", "o1", "o2", "o3"]
    lay = layout(ids, edges, default_width=3)
    check(lay, ids, edges)
    assert lay.nodes["t"].w >= 6 and lay.nodes["o0"].w == 3
    assert len({p.points[-1] for p in lay.edges if p.target == "t"}) == 4


# --------------------------------------------------------------------------- crossings
def test_count_crossings():
    assert count_crossings([["a", "b"], ["c", "d"]], [("a", "d"), ("b", "c")]) == 1
    assert count_crossings([["a", "b"], ["c", "d"]], [("a", "c"), ("b", "d")]) == 0
    assert count_crossings([["a", "b", "c"], ["x", "y", "z"]], [("a", "z"), ("b", "y"), ("c", "x")]) == 3


def test_crossing_reduction_untwists_a_twisted_ladder():
    top = [f"t{i}" for i in range(8)]
    bottom = [f"b{i}" for i in range(8)]
    edges = [(top[i], bottom[7 - i]) for i in range(8)] + [(top[i], bottom[(7 - i + 1) % 8]) for i in range(8)]
    naive = count_crossings([top, bottom], edges)
    lay = layout(top + bottom, edges)
    check(lay, top + bottom, edges)
    assert naive >= 28
    assert lay.crossings < naive // 4
    assert count_crossings(lay.layers, edges) == lay.crossings


def test_crossing_reduction_beats_input_order_on_random_layered_graphs():
    rng = random.Random(5)
    better = 0
    for _ in range(10):
        layers = [[f"L{li}n{i}" for i in range(6)] for li in range(4)]
        edges = [(a, b) for li in range(3) for a in layers[li] for b in layers[li + 1] if rng.random() < 0.3]
        # every node in one layer gets an edge, so longest-path layering keeps these layers
        for li in range(3):
            for a, b in zip(layers[li], rng.sample(layers[li + 1], 6), strict=True):
                edges.append((a, b))
        edges = list(dict.fromkeys(edges))
        lay = layout([v for layer in layers for v in layer], edges, tighten=False)
        assert [sorted(layer) for layer in lay.layers] == [sorted(layer) for layer in layers]
        naive = count_crossings(layers, edges)
        assert lay.crossings == count_crossings(lay.layers, edges) <= naive
        better += lay.crossings < naive
    assert better == 10


# --------------------------------------------------------------------------- properties
@st.composite
def dags(draw):
    n = draw(st.integers(0, 22))
    ids = [f"v{i}" for i in range(n)]
    pairs = draw(st.lists(st.tuples(st.integers(0, max(0, n - 1)), st.integers(0, max(0, n - 1))), max_size=3 * n))
    edges = [(ids[min(a, b)], ids[max(a, b)]) for a, b in pairs if a != b] if n else []
    widths = {v: draw(st.integers(3, 14)) for v in ids}
    order = draw(st.permutations(ids))
    return order, edges, widths


@settings(max_examples=150, deadline=None)
@given(dags(), st.sampled_from([2, 3, 4]))
def test_random_dags_keep_every_rule(dag, height):
    ids, edges, widths = dag
    lay = layout(ids, edges, widths, node_height=height)
    check(lay, ids, edges)
    assert lay.dropped == []
    assert all(lay.nodes[v].w >= w for v, w in widths.items())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)), max_size=40))
def test_random_graphs_with_cycles_terminate(pairs):
    ids = [f"v{i}" for i in range(13)]
    edges = [(ids[a], ids[b]) for a, b in pairs]
    lay = layout(ids, edges)
    check(lay, ids, edges)


def test_bigger_random_dags_keep_every_rule():
    rng = random.Random(11)
    for n, p in [(60, 0.15), (120, 0.06), (200, 0.03)]:
        ids, edges = random_dag(rng, n, p, window=25)
        lay = layout(ids, edges, default_width=rng.choice([9, 20]), node_height=rng.choice([3, 4]))
        check(lay, ids, edges)


def test_deterministic():
    rng = random.Random(3)
    ids, edges = random_dag(rng, 80, 0.1)
    assert layout(ids, edges) == layout(list(ids), list(edges))
