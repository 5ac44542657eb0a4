"""Claims across real processes, on both backends."""

from __future__ import annotations

import multiprocessing as mp
from collections import Counter

from conftest import reap
from sqlalchemy import text

from mosaic_tui.repository import Backlog

CTX = mp.get_context("spawn")
WORKERS = 8


def _racer(url, name, barrier, rounds, results):
    backlog = Backlog.open(url)
    backlog.db.ensure_schema()
    for r in range(rounds):
        barrier.wait()  # the card for round r exists
        card = backlog.claim(name, ttl=600)
        results.put((r, name, card.id if card else None))
        barrier.wait()  # everyone has tried
    backlog.close()


def test_eight_processes_race_for_one_card_exactly_one_wins(db_url):
    rounds = 15
    backlog = Backlog.open(db_url)
    backlog.db.ensure_schema()
    barrier = CTX.Barrier(WORKERS + 1)
    results = CTX.Queue()
    procs = [CTX.Process(target=_racer, args=(db_url, f"w{i}", barrier, rounds, results)) for i in range(WORKERS)]
    for p in procs:
        p.start()
    try:
        for r in range(rounds):
            backlog.create(f"card-{r}", f"round {r}")
            barrier.wait(timeout=120)
            barrier.wait(timeout=120)
            outcomes = [results.get(timeout=60) for _ in range(WORKERS)]
            winners = [(name, cid) for rr, name, cid in outcomes if cid is not None]
            assert all(rr == r for rr, _, _ in outcomes)
            assert len(winners) == 1, f"round {r}: {winners}"
            assert winners[0][1] == f"card-{r}"
            card = backlog.get(f"card-{r}")
            assert card.claim_owner == winners[0][0] and card.attempts == 1
            backlog.complete(card.id, owner=card.claim_owner)
    except BaseException:
        barrier.abort()  # after a failed round the workers would wait at the barrier for ever
        raise
    finally:
        reap(procs)
        backlog.close()
    assert all(p.exitcode == 0 for p in procs)


def _drainer(url, name, start, results):
    backlog = Backlog.open(url)
    backlog.db.ensure_schema()
    start.wait()
    taken = []
    while (card := backlog.claim(name, ttl=600)) is not None:
        taken.append(card.id)
        backlog.complete(card.id, owner=name)
    results.put((name, taken))
    backlog.close()


def test_eight_processes_drain_2000_cards_each_claimed_once(db_url):
    n = 2000
    backlog = Backlog.open(db_url)
    backlog.db.ensure_schema()
    with backlog.db.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO backlog (id, title, priority) VALUES (:id, :title, :p)"),
            [{"id": f"c{i:05d}", "title": f"card {i}", "p": i % 7} for i in range(n)],
        )
    start = CTX.Barrier(WORKERS + 1)
    results = CTX.Queue()
    procs = [CTX.Process(target=_drainer, args=(db_url, f"w{i}", start, results)) for i in range(WORKERS)]
    for p in procs:
        p.start()
    try:
        start.wait(timeout=120)
        got = dict(results.get(timeout=300) for _ in procs)
    finally:
        reap(procs)
    taken = Counter(cid for ids in got.values() for cid in ids)
    assert len(taken) == n and set(taken.values()) == {1}
    assert sum(1 for ids in got.values() if ids) >= 2, "claimers spread over the work"
    stats = backlog.stats()
    assert stats["counts"]["done"] == n and stats["counts"]["claimed"] == 0
    events = Counter(e.kind for e in backlog.events())
    assert events["claimed"] == n and events["completed"] == n
    backlog.close()
