"""Keystones and critical paths read from the database (``mosaic_tui.repository.watch.impact``), on both backends.

The figures are checked against a hand count on the board's fixture, against
a brute-force walk of the database's own edges on random backlogs, and after
other programs' plain-SQL writes (the triggers keep ``backlog_deps``).
"""

from __future__ import annotations

import json
import random

import pytest
from conftest import run_sql

from fixtures import FixedClock
from mosaic_tui.db.engine import open_database
from mosaic_tui.repository.watch.impact import Impact, impact
from mosaic_tui.repository import Backlog

# The fixture by hand: M1-02 (claimed) <- M1-03, M1-04; M1-04 <- M1-05; M1-03 and M1-05 <- M1-07; M2-02 <- M2-03.
# M1-01 and M2-05 are done (they count for nothing); M2-04 is blocked (unfinished, nothing waits on it).
SEEDED_UNLOCKS = {"M1-02": 4, "M1-03": 1, "M1-04": 2, "M1-05": 1, "M1-06": 0, "M1-07": 0,
                  "M2-01": 0, "M2-02": 1, "M2-03": 0, "M2-04": 0}


def test_the_fixtures_keystones_and_critical_paths_are_the_hand_count(board):
    seeded, _ = board
    found = impact(seeded)
    assert found.unlocks == SEEDED_UNLOCKS
    assert found.critical == {"M1": ["M1-02", "M1-04", "M1-05", "M1-07"], "M2": ["M2-02", "M2-03"]}
    assert found.path() == ("M1", ["M1-02", "M1-04", "M1-05", "M1-07"])  # the longest of any phase
    assert found.path("M2") == ("M2", ["M2-02", "M2-03"])
    assert found.path("nope") == ("nope", [])
    assert (found.cards, found.edges) == (10, 6)


def test_another_programs_plain_sql_writes_count(board):
    seeded, _ = board
    # a card written by another program with plain SQL, waiting on M1-07: everything upstream unlocks one more
    deps = "CAST(:deps AS jsonb)" if seeded.backend == "postgresql" else ":deps"
    run_sql(seeded, "INSERT INTO backlog (id, title, status, phase, depends_on) "
                    f"VALUES ('X-1', 'From elsewhere', 'ready', 'M1', {deps})", {"deps": json.dumps(["M1-07"])})
    found = impact(seeded)
    assert found.unlocks["M1-02"] == 5 and found.unlocks["M1-07"] == 1 and found.unlocks["X-1"] == 0
    assert found.critical["M1"] == ["M1-02", "M1-04", "M1-05", "M1-07", "X-1"]
    # M1-04 done by plain SQL: M1-05 no longer waits through it on M1-02
    run_sql(seeded, "UPDATE backlog SET status = 'done' WHERE id = 'M1-04'")
    found = impact(seeded)
    assert "M1-04" not in found.unlocks
    assert found.unlocks["M1-02"] == 3  # M1-03, M1-07, X-1
    assert found.critical["M1"] == ["M1-02", "M1-03", "M1-07", "X-1"]


def test_ids_are_list_in_claim_order_under_every_filter(board):
    seeded, _ = board
    for kw in ({}, {"status": "ready"}, {"phase": "M1"}, {"search": "graph"}, {"status": "claimed", "owner": "agent-7"}):
        assert seeded.ids(**kw) == [c.id for c in seeded.list(**kw)]


def test_by_impact_sorts_most_first_and_keeps_claim_order_on_ties(board):
    seeded, _ = board
    found = impact(seeded)
    ready = seeded.ids(status="ready")
    assert found.by_impact(ready) == ["M1-04", "M1-03", "M1-05", "M2-02", "M1-07", "M2-03"]
    assert Impact().by_impact(ready) == ready  # nothing counted yet: claim order


def _brute(nodes: dict[str, str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """For each unfinished card, the unfinished cards reachable from it along edges between unfinished cards."""
    live = {i for i, s in nodes.items() if s != "done"}
    down: dict[str, list[str]] = {i: [] for i in live}
    for dep, card in edges:
        if dep in live and card in live:
            down[dep].append(card)
    out = {}
    for start in live:
        seen, stack = set(), [start]
        while stack:
            for nxt in down[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        out[start] = len(seen - {start})
    return out


@pytest.mark.parametrize("seed_", [1, 2, 3])
def test_random_backlogs_match_a_brute_force_walk(db_url, seed_):
    rng = random.Random(seed_)
    backlog = Backlog(open_database(db_url), clock=FixedClock())
    try:
        ids = [f"C{i:03d}" for i in range(60)]
        for i, cid in enumerate(ids):
            deps = rng.sample(ids[:i], k=min(i, rng.choice([0, 1, 1, 2, 3])))
            backlog.create(cid, cid, phase=rng.choice(["A", "B", None]), depends_on=deps)
        for cid in rng.sample(ids, 20):
            card = backlog.get(cid)
            if card.status == "ready":
                backlog.complete(cid)  # out of order too: a done card between unfinished ones
        cards = {c.id: c for c in backlog.list()}
        edges = [(dep, card) for card, dep in backlog.edges()]
        found = impact(backlog)
        assert found.unlocks == _brute({i: c.status for i, c in cards.items()}, edges)
        longest: dict = {}  # card -> the longest chain of its phase's unfinished cards ending at it (ids are topological)
        for cid in ids:
            c = cards[cid]
            if c.status != "done":
                longest[cid] = 1 + max((longest[d] for d in c.depends_on if d in longest and cards[d].phase == c.phase),
                                       default=0)
        for phase, chain in found.critical.items():  # a chain of the phase's unfinished cards, each waiting on the one before
            assert all(cards[c].phase == phase and cards[c].status != "done" for c in chain)
            assert all(a in cards[b].depends_on for a, b in zip(chain, chain[1:]))
            assert len(chain) == max(n for cid, n in longest.items() if cards[cid].phase == phase)
        assert set(found.critical) == {cards[cid].phase for cid in longest}
    finally:
        backlog.close()


def test_with_no_phase_the_critical_path_is_the_whole_backlogs_across_phases(board):
    """Per phase, edges between phases are not followed; the whole backlog's longest chain follows them:
    M1-07 <- M2-06 <- M3-01 <- M3-02 makes a chain of 7 from M1-02 through three phases."""
    seeded, _ = board
    seeded.create("M2-06", "Needs the M1 chain", phase="M2", depends_on=["M1-07"])
    seeded.create("M3-01", "Needs M2-06", phase="M3", depends_on=["M2-06"])
    seeded.create("M3-02", "Needs M3-01", phase="M3", depends_on=["M3-01"])
    found = impact(seeded)
    chain = ["M1-02", "M1-04", "M1-05", "M1-07", "M2-06", "M3-01", "M3-02"]
    assert found.longest == chain
    assert found.path() == ("M1 → M2 → M3", chain)
    assert max(len(v) for v in found.critical.values()) == 4  # no phase's own path is that long
    assert found.path("M3") == ("M3", ["M3-01", "M3-02"]) and found.path(None, whole=False) == (None, [])
