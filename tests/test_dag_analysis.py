"""Keystones and critical paths (mosaic_tui.dag.analysis), against hand-worked shapes and brute force."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mosaic_tui.dag import acyclic, analyse, critical_path, critical_paths, from_card_edges, keystones


def ready(*ids: str) -> dict[str, str]:
    return dict.fromkeys(ids, "ready")


# --------------------------------------------------------------------------- keystones
def test_chain():
    ids = ["a", "b", "c", "d"]
    edges = [("a", "b"), ("b", "c"), ("c", "d")]
    assert keystones(ids, ready(*ids), edges) == {"a": 3, "b": 2, "c": 1, "d": 0}


def test_diamond_counts_a_card_reached_twice_once():
    ids = ["a", "b", "c", "d"]
    edges = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]
    assert keystones(ids, ready(*ids), edges) == {"a": 3, "b": 1, "c": 1, "d": 0}


def test_fan_out_and_fan_in():
    kids = [f"k{i}" for i in range(50)]
    ids = ["root", *kids, "sink"]
    edges = [("root", k) for k in kids] + [(k, "sink") for k in kids]
    ks = keystones(ids, ready(*ids), edges)
    assert ks["root"] == 51 and all(ks[k] == 1 for k in kids) and ks["sink"] == 0


def test_done_cards_hold_nothing_up_and_are_not_counted():
    ids = ["a", "b", "c", "d"]
    statuses = {"a": "ready", "b": "done", "c": "ready", "d": "claimed"}
    edges = [("a", "b"), ("b", "c"), ("a", "d")]
    # c waits on nothing unfinished (b is done); d waits on a
    assert keystones(ids, statuses, edges) == {"a": 1, "c": 0, "d": 0}


def test_claimed_and_blocked_count_as_unfinished():
    ids = ["a", "b", "c"]
    statuses = {"a": "claimed", "b": "blocked", "c": "ready"}
    assert keystones(ids, statuses, [("a", "b"), ("b", "c")]) == {"a": 2, "b": 1, "c": 0}


def test_two_components_and_unknown_ids():
    ids = ["a1", "a2", "b1", "b2", "b3"]
    edges = [("a1", "a2"), ("b1", "b2"), ("b2", "b3"), ("ghost", "a1"), ("a2", "ghost")]
    assert keystones(ids, ready(*ids), edges) == {"a1": 1, "a2": 0, "b1": 2, "b2": 1, "b3": 0}


def test_ids_without_a_status_are_not_cards():
    assert keystones(["a", "b"], {"a": "ready"}, [("a", "b")]) == {"a": 0}


def test_cycles_do_not_hang():
    ids = ["a", "b", "c", "d"]
    edges = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]
    ks = keystones(ids, ready(*ids), edges)
    assert set(ks) == set(ids) and ks["d"] == 0 and max(ks.values()) <= 3
    chain = critical_path(ids, ready(*ids), edges)
    assert 1 <= len(chain) <= 4 and len(set(chain)) == len(chain)


def test_long_chain_is_iterative():
    ids = [f"c{i}" for i in range(20_000)]
    edges = list(zip(ids, ids[1:], strict=False))
    ks = keystones(ids, ready(*ids), edges)
    assert ks["c0"] == 19_999 and ks["c19999"] == 0
    assert critical_path(ids, ready(*ids), edges) == ids


# --------------------------------------------------------------------------- critical paths
def test_critical_path_of_a_diamond_with_a_tail():
    ids = ["a", "b", "c", "d", "e", "x"]
    edges = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("d", "e")]
    assert critical_path(ids, ready(*ids), edges) == ["a", "b", "d", "e"]  # b before c: given first


def test_critical_path_skips_done_work():
    ids = ["a", "b", "c", "d"]
    statuses = {"a": "done", "b": "ready", "c": "ready", "d": "done"}
    edges = [("a", "b"), ("b", "c"), ("c", "d")]
    assert critical_path(ids, statuses, edges) == ["b", "c"]
    assert critical_path(ids, dict.fromkeys(ids, "done"), edges) == []


def test_critical_paths_per_phase_do_not_follow_edges_between_phases():
    ids = ["M1-01", "M1-02", "M2-01", "M2-02", "M2-03"]
    phase = {i: i[:2] for i in ids}
    edges = [("M1-01", "M1-02"), ("M1-02", "M2-01"), ("M2-01", "M2-02"), ("M2-02", "M2-03")]
    out = critical_paths(ids, ready(*ids), edges, phase)
    assert out == {"M1": ["M1-01", "M1-02"], "M2": ["M2-01", "M2-02", "M2-03"]}
    assert critical_path(ids, ready(*ids), edges) == ids


def test_analyse_and_edge_direction():
    # the repository gives (card, dependency); the graph code takes (dependency, card)
    assert from_card_edges([("M1-02", "M1-01")]) == [("M1-01", "M1-02")]
    a = analyse(["x", "y"], ready("x", "y"), from_card_edges([("y", "x")]))
    assert a.unlocks == {"x": 1, "y": 0} and a.critical == ["x", "y"]


def test_acyclic_order_and_dropped_edges():
    order, dropped = acyclic(["c", "b", "a"], [("a", "b"), ("b", "c")])
    assert order == ["a", "b", "c"] and dropped == []
    order, dropped = acyclic(["a", "b"], [("a", "b"), ("b", "a")])
    assert sorted(order) == ["a", "b"] and len(dropped) == 1


# --------------------------------------------------------------------------- against brute force
@st.composite
def graphs(draw):
    n = draw(st.integers(0, 18))
    ids = [f"v{i}" for i in range(n)]
    pairs = draw(st.lists(st.tuples(st.integers(0, max(0, n - 1)), st.integers(0, max(0, n - 1))), max_size=3 * n))
    edges = [(ids[min(a, b)], ids[max(a, b)]) for a, b in pairs if a != b] if n else []
    statuses = {v: draw(st.sampled_from(["ready", "ready", "claimed", "blocked", "done"])) for v in ids}
    order = draw(st.permutations(ids))
    return order, statuses, edges


def _live_graph(statuses, edges):
    live = {v for v, s in statuses.items() if s != "done"}
    succ: dict[str, set[str]] = {v: set() for v in live}
    for a, b in edges:
        if a in live and b in live:
            succ[a].add(b)
    return live, succ


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_keystones_match_brute_force_reachability(g):
    ids, statuses, edges = g
    live, succ = _live_graph(statuses, edges)
    want = {}
    for v in live:
        seen: set[str] = set()
        stack = [v]
        while stack:
            for w in succ[stack.pop()]:
                if w not in seen:
                    seen.add(w)
                    stack.append(w)
        want[v] = len(seen)
    assert keystones(ids, statuses, edges) == want


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_critical_path_is_a_longest_chain_of_unfinished_cards(g):
    ids, statuses, edges = g
    live, succ = _live_graph(statuses, edges)
    memo: dict[str, int] = {}

    def longest_from(v: str) -> int:
        if v not in memo:
            memo[v] = 1 + max((longest_from(w) for w in succ[v]), default=0)
        return memo[v]

    chain = critical_path(ids, statuses, edges)
    assert len(chain) == max((longest_from(v) for v in live), default=0)
    assert all(v in live for v in chain)
    assert all(b in succ[a] for a, b in zip(chain, chain[1:], strict=False))
