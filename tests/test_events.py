"""The event history and the change feed, on both backends, with real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from sqlalchemy import text

from mosaic_tui.repository import Backlog

PLAIN_SQL = [
    ("INSERT INTO backlog (id, title) VALUES ('x', 'external')", "created", None, "ready"),
    ("UPDATE backlog SET status = 'claimed', claim_owner = 'fleet', claim_ttl_seconds = 60, "
     "claimed_at = CURRENT_TIMESTAMP WHERE id = 'x'", "claimed", "ready", "claimed"),
    ("UPDATE backlog SET claim_ttl_seconds = 120 WHERE id = 'x'", "heartbeat", "claimed", "claimed"),
    ("UPDATE backlog SET status = 'ready', claim_owner = NULL, claim_ttl_seconds = NULL, claimed_at = NULL "
     "WHERE id = 'x'", "released", "claimed", "ready"),
    ("UPDATE backlog SET status = 'blocked' WHERE id = 'x'", "blocked", "ready", "blocked"),
    ("UPDATE backlog SET status = 'ready' WHERE id = 'x'", "unblocked", "blocked", "ready"),
    ("UPDATE backlog SET status = 'done' WHERE id = 'x'", "completed", "ready", "done"),
    ("UPDATE backlog SET status = 'ready' WHERE id = 'x'", "reopened", "done", "ready"),
    ("UPDATE backlog SET depends_on = '[\"y\"]' WHERE id = 'x'", "linked", "ready", "ready"),
    ("UPDATE backlog SET depends_on = '[]' WHERE id = 'x'", "unlinked", "ready", "ready"),
    ("UPDATE backlog SET title = 'renamed', priority = 5 WHERE id = 'x'", "edited", "ready", "ready"),
    ("UPDATE backlog SET unmet_deps = unmet_deps WHERE id = 'x'", None, None, None),  # nothing tracked changed
    ("DELETE FROM backlog WHERE id = 'x'", "deleted", "ready", None),
]


def test_plain_sql_from_another_program_leaves_every_event(repo):
    repo.create("y", "a dependency")
    start = repo.last_event_id()
    repo.db.ensure_schema()
    expected = []
    for statement, kind, old, new in PLAIN_SQL:
        with repo.db.engine.begin() as conn:
            conn.execute(text(statement))
        if kind:
            expected.append((kind, old, new))
    got = [(e.kind, e.old_status, e.new_status) for e in repo.events(since=start)]
    assert got == expected
    owners = [e.owner for e in repo.events(since=start) if e.kind in ("claimed", "heartbeat", "released")]
    assert owners == ["fleet", "fleet", "fleet"]


def _writer(url: str, prefix: str, n: int) -> subprocess.Popen:
    code = (
        "import sys; from mosaic_tui.repository import Backlog; b = Backlog.open(sys.argv[1]);"
        "[b.create(f'{sys.argv[2]}-{i}', 't') for i in range(int(sys.argv[3]))]"
    )
    return subprocess.Popen([sys.executable, "-c", code, url, prefix, str(n)])


def test_feed_and_cursor_see_other_processes_in_order_none_missing_none_twice(db_url):
    backlog = Backlog.open(db_url)
    backlog.db.ensure_schema()
    cursor = backlog.cursor()
    feed = backlog.feed()
    writers = [_writer(db_url, f"p{i}", 60) for i in range(3)]
    seen = []
    deadline = time.monotonic() + 90
    while len(seen) < 180 and time.monotonic() < deadline:
        feed.wait(0.5)
        seen += cursor.fetch()
    for w in writers:
        assert w.wait(60) == 0
    seen += cursor.fetch()
    feed.close()
    ids = [e.id for e in seen]
    assert len(ids) == len(set(ids)) == 180
    # per process, its cards' events arrive in the order it made them
    for i in range(3):
        mine = [e.card_id for e in seen if e.card_id.startswith(f"p{i}-")]
        assert mine == [f"p{i}-{n}" for n in range(60)]
    assert {e.kind for e in seen} == {"created"}


def test_cursor_catches_an_event_that_commits_after_a_higher_one(pg_url):
    """Postgres assigns event ids before commit: a lower id can become visible later."""
    backlog = Backlog.open(pg_url)
    backlog.create("a", "a")
    backlog.create("b", "b")
    cursor = backlog.cursor()
    slow = psycopg.connect(pg_url)
    slow.execute("UPDATE backlog SET status = 'blocked' WHERE id = 'a'")  # takes an event id, not committed
    backlog.block("b")  # a higher event id, committed first
    first = [e.card_id for e in cursor.fetch()]
    slow.commit()
    slow.close()
    second = [e.card_id for e in cursor.fetch()]
    assert first == ["b"] and second == ["a"]
    assert cursor.fetch() == []


def test_feed_wakes_on_a_commit_not_at_its_timeout(db_url):
    """One wait, long enough for anything: it ends with True soon after the commit, not before it (a spurious
    wake) nor at its timeout. (How soon, on a quiet machine: bench/live.py, docs/performance/live.md.)"""
    backlog = Backlog.open(db_url)
    backlog.db.ensure_schema()
    feed = backlog.feed()
    assert feed.status in ("live", "polling")
    assert feed.wait(0.05) is False  # nothing happened
    writing: list[float] = []
    t = threading.Timer(0.3, lambda: (writing.append(time.monotonic()), backlog.create("late", "late")))
    t.start()
    timeout = 120.0
    woke = feed.wait(timeout)
    woke_at = time.monotonic()
    t.join()
    feed.close()
    assert woke and writing and writing[0] <= woke_at
    assert woke_at - writing[0] < timeout / 4  # the commit woke it, not the end of its wait


def test_sqlite_feed_holds_no_lock(sqlite_url):
    """A following reader never makes a writer wait: writes succeed at once with a 0 busy timeout."""
    import sqlite3

    backlog = Backlog.open(sqlite_url)
    backlog.db.ensure_schema()
    feed = backlog.feed()
    stop = threading.Event()

    def follow():
        while not stop.is_set():
            feed.wait(0.01)

    th = threading.Thread(target=follow)
    th.start()
    conn = sqlite3.connect(sqlite_url, timeout=0, isolation_level=None)
    try:
        for i in range(200):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO backlog (id, title) VALUES (?, 't')", (f"n{i}",))
            conn.execute("COMMIT")
    finally:
        stop.set()
        th.join()
        conn.close()
        feed.close()
    assert backlog.count() == 200


@pytest.mark.skipif(os.environ.get("MOSAIC_TEST_PG_CONTROL") != "1",
                    reason="restarts the local Postgres server: set MOSAIC_TEST_PG_CONTROL=1 to run (CI does)")
def test_feed_survives_a_postgres_restart_and_catches_up(pg_url):
    backlog = Backlog.open(pg_url)
    backlog.create("before", "b")
    cursor = backlog.cursor()
    feed = backlog.feed()
    assert feed.status == "live"
    cluster = os.listdir("/etc/postgresql")[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main", "restart"], check=True, timeout=120)
    # Changes made while the feed was away (it has not reconnected yet).
    for _ in range(100):
        try:
            Backlog.open(pg_url).block("before")
            break
        except Exception:  # noqa: BLE001 - server still starting
            time.sleep(0.2)
    statuses = []
    deadline = time.monotonic() + 30
    events = []
    while time.monotonic() < deadline and not (events and feed.status == "live"):
        feed.wait(0.5)
        statuses.append(feed.status)
        try:
            events += cursor.fetch()
        except Exception:  # noqa: BLE001 - the pool's old connections fail once
            pass
    assert [e.kind for e in events] == ["blocked"]
    assert "lost" in statuses and feed.status == "live"
    feed.close()


def test_a_busy_postgres_feed_stops_listening_and_listens_again(pg_url):
    """Busy: UNLISTEN (no signal per commit) and "look" after a short pause; quiet again: LISTEN,
    "look" once for what came in between, then wait for notifications as before."""
    backlog = Backlog.open(pg_url)
    backlog.db.ensure_schema()
    feed = backlog.feed()

    def channels() -> list[str]:
        return [r[0] for r in feed._conn.execute("SELECT pg_listening_channels()")]

    assert channels() == ["mosaic_backlog"] and feed.wait(0.05) is False
    feed.busy = True
    assert feed.wait(1.0) is True  # no notification needed: the reader paces itself
    assert channels() == [] and feed.status == "live"
    backlog.create("while-busy", "made while the feed did not listen")
    feed.busy = False
    assert feed.wait(0.05) is True  # listening again: one look for what came in between
    assert channels() == ["mosaic_backlog"]
    assert feed.wait(0.05) is False
    writer = threading.Timer(0.2, lambda: backlog.create("after", "after"))
    writer.start()
    assert feed.wait(60) is True
    writer.join()
    feed.close()
    backlog.close()


def test_follow_says_when_it_reads_the_replica_and_that_it_may_lag(capsys):
    """``events --follow`` with ``--read-url``, the primary down: the feed's state ``replica`` gets its own
    line on stderr (not the pooler's advice), with the interval it polls at."""
    import json

    from mosaic_tui.cli.events import _feed_note
    from mosaic_tui.db.feed import ChangeFeed

    feed = ChangeFeed()
    feed.status, feed.interval, feed.where = "polling", 1.0, " the replica"
    _feed_note(feed.state, feed, False)
    _feed_note(feed.state, feed, True)
    plain, as_json = capsys.readouterr().err.splitlines()
    assert plain.startswith("mosaic-tui: events: polling the replica (every 1s): the primary does not answer")
    assert "may lag" in plain and "pooler" not in plain
    assert json.loads(as_json)["feed"] == {"status": "replica", "interval": 1.0, "message": plain.split(": ", 3)[3]}
