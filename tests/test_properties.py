"""Property-based: random sequences of operations from several workers, on both
backends, with the backlog's invariants checked after every step.

Workers are separate ``Backlog`` instances on separate engines (separate
connections), interleaved by hypothesis, sharing a fake clock so that leases
end; a second test runs real processes at once and checks the same invariants
when they are done.
"""

from __future__ import annotations

import multiprocessing as mp
import random
from collections import Counter
from datetime import timedelta

import pytest
from conftest import reap
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from mosaic_tui.errors import MosaicError
from mosaic_tui.repository import Backlog, utcnow

IDS = [f"k{i}" for i in range(7)]
WORKERS = 3

card_id = st.sampled_from(IDS)
worker = st.integers(0, WORKERS - 1)
OPS = st.one_of(
    st.tuples(st.just("create"), worker, card_id, st.integers(-2, 2), st.lists(card_id, max_size=3)),
    st.tuples(st.just("claim"), worker, st.none() | card_id, st.sampled_from([1, 30, 600])),
    st.tuples(st.just("claim"), worker, st.none(), st.just(600)),
    st.tuples(st.just("complete"), worker, card_id, st.booleans()),
    st.tuples(st.just("heartbeat"), worker, card_id, st.sampled_from([1, 30, 600])),
    st.tuples(st.just("reclaim"), worker, st.none() | card_id),
    st.tuples(st.sampled_from(["block", "unblock", "reopen"]), worker, card_id),
    st.tuples(st.sampled_from(["link", "unlink"]), worker, card_id, card_id),
    st.tuples(st.just("tick"), st.integers(1, 700)),
)


def apply(backlogs, op, owner_of=lambda w: f"w{w}"):
    """Run one operation; refusals (MosaicError) are part of the game, anything else is a bug."""
    kind = op[0]
    if kind == "tick":
        return None
    b, me = backlogs[op[1]], owner_of(op[1])
    try:
        if kind == "create":
            return b.create(op[2], f"card {op[2]}", priority=op[3], depends_on=op[4])
        if kind == "claim":
            card = b.claim(me, ttl=op[3], id=op[2])
            if card is not None:
                assert card.status == "claimed" and card.claim_owner == me
            return card
        if kind == "complete":
            return b.complete(op[2], owner=me if op[3] else None)
        if kind == "heartbeat":
            return b.heartbeat(op[2], me, ttl=op[3])
        if kind == "reclaim":
            return b.reclaim(op[2])
        if kind in ("block", "unblock", "reopen"):
            return getattr(b, kind)(op[2])
        if kind in ("link", "unlink"):
            return getattr(b, kind)(op[2], op[3])
    except MosaicError as exc:
        assert exc.exit_code in (2, 3, 4), exc
        assert "\n" not in str(exc)
        return exc
    raise AssertionError(f"unknown op {op}")


def check_invariants(b: Backlog) -> None:
    cards = {c.id: c for c in b.list()}
    # Every claimed card has an owner and a lease; no other card has either.
    for c in cards.values():
        lease = (c.claim_owner, c.claimed_at, c.claim_ttl_seconds)
        if c.status == "claimed":
            assert None not in lease and c.claim_ttl_seconds > 0, c
        else:
            assert lease == (None, None, None), c
    # depends_on, the edge table and the unmet counts agree.
    edges = b.edges()
    assert sorted(edges) == sorted((c.id, d) for c in cards.values() for d in c.depends_on)
    for c in cards.values():
        unmet = sum(1 for d in c.depends_on if d not in cards or cards[d].status != "done")
        assert c.unmet_deps == unmet, (c.id, c.unmet_deps, unmet)
    # Claimable: exactly the ready cards whose dependencies are all done.
    claimable = [c.id for c in b.list(claimable=True)]
    expected = {c.id for c in cards.values() if c.status == "ready"
                and all(d in cards and cards[d].status == "done" for d in c.depends_on)}
    assert set(claimable) == expected
    # No cycle (iterative DFS, white/grey/black).
    graph: dict[str, list[str]] = {}
    for a, d in edges:
        graph.setdefault(a, []).append(d)
    colour: dict[str, int] = {}
    for start in graph:
        if colour.get(start):
            continue
        stack = [(start, iter(graph.get(start, ())))]
        colour[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                colour[node] = 2
                stack.pop()
            elif colour.get(nxt) == 1:
                raise AssertionError(f"cycle through {nxt}")
            elif not colour.get(nxt):
                colour[nxt] = 1
                stack.append((nxt, iter(graph.get(nxt, ()))))
    # The events replay to the current state.
    status: dict[str, str] = {}
    owner: dict[str, str | None] = {}
    claims: Counter[str] = Counter()
    for ev in b.events():
        if ev.kind in ("noted", "labeled", "unlabeled"):  # not status moves (a reclaim's system note)
            assert ev.card_id in status and ev.old_status is None and ev.new_status is None, ev
            continue
        if ev.kind == "created":
            assert ev.card_id not in status
        else:
            assert ev.card_id in status and ev.old_status == status[ev.card_id], ev
        status[ev.card_id] = ev.new_status
        if ev.kind == "claimed":
            claims[ev.card_id] += 1
            owner[ev.card_id] = ev.owner
    assert status == {cid: c.status for cid, c in cards.items()}
    for cid, c in cards.items():
        assert claims[cid] == c.attempts, (cid, claims[cid], c.attempts)
        if c.status == "claimed":
            assert owner[cid] == c.claim_owner


def _reset(b: Backlog) -> None:
    with b.db.write() as conn:
        for table in ("backlog", "backlog_deps", "backlog_events"):
            conn.execute(text(f"DELETE FROM {table}"))  # fixed table names, no user input


@pytest.fixture
def workers(db_url):
    offset = [timedelta(0)]
    clock = lambda: utcnow() + offset[0]  # noqa: E731 - one clock shared by every worker
    backlogs = [Backlog.open(db_url, clock=clock) for _ in range(WORKERS)]
    for b in backlogs:
        b.db.ensure_schema()
    yield backlogs, offset
    for b in backlogs:
        b.close()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(OPS, min_size=3, max_size=30))
def test_random_operations_from_several_workers_keep_the_invariants(workers, ops):
    backlogs, offset = workers
    offset[0] = timedelta(0)
    _reset(backlogs[0])
    for op in ops:
        if op[0] == "tick":
            offset[0] += timedelta(seconds=op[1])
        got = apply(backlogs, op)
        if op[0] == "claim" and got is not None and not isinstance(got, MosaicError):
            assert backlogs[0].get(got.id).unmet_deps == 0  # never a card waiting on anything
        check_invariants(backlogs[0])


def _proc_worker(url, name, seed, steps, results):
    rnd = random.Random(seed)
    b = Backlog.open(url)
    errors = []
    for _ in range(steps):
        op = _random_op(rnd)
        try:
            apply([b] * WORKERS, op, owner_of=lambda w: f"{name}-{w}")
        except Exception as exc:  # noqa: BLE001 - reported to the parent
            errors.append(f"{op}: {type(exc).__name__}: {exc}")
    results.put(errors)
    b.close()


def _random_op(rnd: random.Random):
    w, a, c = rnd.randrange(WORKERS), rnd.choice(IDS), rnd.choice(IDS)
    return rnd.choice([
        ("create", w, a, rnd.randint(-2, 2), rnd.sample(IDS, rnd.randint(0, 2))),
        ("claim", w, None, rnd.choice([1, 600])),
        ("claim", w, None, 600),
        ("claim", w, a, 600),
        ("complete", w, a, rnd.random() < 0.7),
        ("heartbeat", w, a, 600),
        ("reclaim", w, None),
        ("reclaim", w, a),
        ("block", w, a), ("unblock", w, a), ("reopen", w, a),
        ("link", w, a, c), ("unlink", w, a, c),
    ])


def test_real_processes_doing_random_operations_at_once_keep_the_invariants(db_url):
    b = Backlog.open(db_url)
    b.db.ensure_schema()
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=_proc_worker, args=(db_url, f"p{i}", 1000 + i, 120, results)) for i in range(3)]
    for p in procs:
        p.start()
    try:
        errors = [e for _ in procs for e in results.get(timeout=180)]
    finally:
        reap(procs)
    assert all(p.exitcode == 0 for p in procs)
    assert errors == []
    assert b.count() > 0 and any(e.kind == "claimed" for e in b.events())
    check_invariants(b)
    b.close()
