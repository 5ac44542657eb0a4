"""A bulk block while agents in other processes claim and complete, on both backends."""

from __future__ import annotations

import multiprocessing as mp
import time

from conftest import reap
from sqlalchemy import text

from mosaic_tui.errors import Conflict
from mosaic_tui.repository import Backlog

CTX = mp.get_context("spawn")
AGENTS = 2
CARDS = 400


def _agent(url, name, started, results):
    backlog = Backlog.open(url)
    backlog.db.ensure_schema()
    completed, lost = [], []
    while (card := backlog.claim(name, ttl=600)) is not None:
        time.sleep(0.002)  # the work
        try:
            backlog.complete(card.id, owner=name)
            completed.append(card.id)
            started.set()
        except Conflict:
            lost.append(card.id)  # blocked under our feet: the claim is gone, as the block says
    results.put((name, completed, lost))
    backlog.close()


def test_bulk_block_while_agents_claim(db_url):
    backlog = Backlog.open(db_url)
    backlog.db.ensure_schema()
    ids = [f"c{i:04d}" for i in range(CARDS)]
    with backlog.db.engine.begin() as conn:
        conn.execute(text("INSERT INTO backlog (id, title, priority) VALUES (:id, 't', :p)"),
                     [{"id": i, "p": n % 5} for n, i in enumerate(ids)])
    started = CTX.Event()
    results = CTX.Queue()
    procs = [CTX.Process(target=_agent, args=(db_url, f"agent-{n}", started, results)) for n in range(AGENTS)]
    for p in procs:
        p.start()
    try:
        assert started.wait(timeout=120), "no agent completed a card"
        result = backlog.bulk("block", ids)
        outcomes = [results.get(timeout=120) for _ in procs]
    finally:
        reap(procs)
    assert all(p.exitcode == 0 for p in procs)
    completed = {i for _, done, _ in outcomes for i in done}
    lost = {i for _, _, gone in outcomes for i in gone}

    # Every card is either blocked by the bulk action or refused, never both, never neither.
    assert set(result.done) | set(result.refused) == set(ids) and not set(result.done) & set(result.refused)
    assert result.done and result.refused  # the two really overlapped
    # Refused exactly the cards the agents had completed before the block, each with its reason.
    assert set(result.refused) == completed
    assert all(reason == f"{i} is done" for i, reason in result.refused.items())
    # A claim the block cleared could not be completed afterwards.
    assert lost <= set(result.done)
    cards = {c.id: c for c in backlog.list()}
    for i in result.done:
        assert cards[i].status == "blocked" and cards[i].claim_owner is None
    for i in completed:
        assert cards[i].status == "done"
    # The log agrees: no card was claimed after it was blocked, and each got one blocked event.
    events = backlog.events()
    blocked_at = {}
    for ev in events:
        if ev.kind == "blocked":
            assert ev.card_id not in blocked_at
            blocked_at[ev.card_id] = ev.id
        if ev.kind == "claimed" and ev.card_id in blocked_at:
            raise AssertionError(f"{ev.card_id} claimed after it was blocked")
    assert set(blocked_at) == set(result.done)
    backlog.close()
