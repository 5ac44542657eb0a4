"""The board's label change and its undo while another process labels the same cards, on both backends:
an undo that goes through never takes back the other process's label; one that would is refused."""

from __future__ import annotations

import multiprocessing as mp

from conftest import reap
from sqlalchemy import text

from mosaic_tui.errors import Conflict
from mosaic_tui.repository import Backlog, History

CTX = mp.get_context("spawn")
CARDS = 40
ROUNDS = 60


def _other(url, ids, started, results):
    """Another program: ``label`` (the CLI's and the MCP's path) toggles ``theirs`` on a moving window of cards."""
    backlog = Backlog.open(url)
    backlog.db.ensure_schema()
    last: dict[str, bool] = {}
    for n in range(ROUNDS):
        part = ids[(n * 7) % len(ids):][:10]
        on = n % 2 == 0
        backlog.label(part, add=["theirs"] if on else [], remove=[] if on else ["theirs"])
        last.update(dict.fromkeys(part, on))
        started.set()
    results.put(last)
    backlog.close()


def test_undoing_labels_never_takes_back_another_process_labels(db_url):
    backlog = Backlog.open(db_url)
    backlog.db.ensure_schema()
    ids = [f"c{i:03d}" for i in range(CARDS)]
    with backlog.db.engine.begin() as conn:
        conn.execute(text("INSERT INTO backlog (id, title, priority) VALUES (:id, 't', 0)"), [{"id": i} for i in ids])
    started, results = CTX.Event(), CTX.Queue()
    proc = CTX.Process(target=_other, args=(db_url, ids, started, results))
    proc.start()
    undone = refused = 0
    try:
        assert started.wait(timeout=120), "the other process labeled nothing"
        history = History(backlog)
        ours: set[str] = set()  # where "ours" must be at the end: added, and taken back by each undo that went through
        for n in range(ROUNDS // 3):
            part = ids[(n * 5) % len(ids):][:12]
            change = backlog.relabel(part, add=["ours"]).change
            if change is None:  # every card of the window had it already
                assert set(part) <= ours
                continue
            history.record(change)
            try:
                history.undo()
                undone += 1
            except Conflict as exc:
                assert str(exc).endswith("since; nothing changed") or "since (and" in str(exc)
                refused += 1
                ours |= set(part)
        theirs = results.get(timeout=120)
    finally:
        reap([proc])
    assert proc.exitcode == 0
    assert undone + refused <= ROUNDS // 3 and undone + refused
    now = backlog.labels(ids)
    assert {i for i in ids if "ours" in now[i]} == ours  # each undo took back exactly its own label
    for card_id, on in theirs.items():  # the other process's last word stands on every card
        assert ("theirs" in now[card_id]) == on, card_id
    backlog.close()
