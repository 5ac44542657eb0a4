"""Crashes and contention with real processes: SIGKILL mid-transaction, an 8-process
SQLite hammer, two processes racing the first migration (both backends)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter
from datetime import timedelta

import pytest
from conftest import new_pg_database, reap, run_sql

from mosaic_tui.db.engine import SQLITE_BUSY_TIMEOUT_S
from mosaic_tui.db.schema import HEAD
from mosaic_tui.repository import Backlog, utcnow

# A child that runs one repository call and stops INSIDE its transaction: every
# operation is one Database.run(fn) = BEGIN; fn(conn); COMMIT. The stand-in runs
# fn, announces itself and waits to be killed before the COMMIT.
KILL_CHILD = textwrap.dedent(
    """
    import sys, time
    from mosaic_tui.db.engine import Database
    from mosaic_tui.repository import Backlog
    url, op, card_id = sys.argv[1], sys.argv[2], sys.argv[3]
    b = Backlog.open(url)
    if op == "complete":
        got = b.claim("victim", ttl=60, id=card_id)
        assert got is not None and got.id == card_id
    def stall(self, fn, *, write=True, **_):
        with self.write() if write else self.read() as conn:
            result = fn(conn)
            if write:
                server_pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() if "postgresql" in url else "-"
                print("IN-TX", getattr(result, "id", None) or result[0], getattr(result, "status", None) or "?",
                      server_pid, flush=True)
                time.sleep(120)
            return result
    Database.run = stall
    if op == "claim":
        b.claim("victim", ttl=60)
    else:
        b.complete(card_id, owner="victim")
    print("COMMITTED", flush=True)  # never reached: killed first
    """
)


def _kill_in_transaction(url: str, op: str, card_id: str = "-") -> str:
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_CHILD, url, op, card_id],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    line = ""
    try:
        line = proc.stdout.readline()
        assert line.startswith("IN-TX"), f"child did not reach its transaction: {line!r} {proc.stderr.read()}"
        return line
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        proc.stdout.close()
        proc.stderr.close()
        if url.startswith("postgresql") and line.startswith("IN-TX"):
            _until_the_server_process_ended(url, int(line.split()[3]))


def _until_the_server_process_ended(url: str, server_pid: int, timeout: float = 60.0) -> None:
    """Postgres: the killed client's server process rolls back and lets go of its row locks only once it has
    read the closed socket, which on a busy machine is not at once (a SKIP LOCKED claim or reclaim made
    before then passes over the dead transaction's rows). (SQLite: the lock went with the process.)"""
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (server_pid,)).fetchone()[0]:
            assert time.monotonic() < deadline, f"server process {server_pid} still there after its client was killed"
            time.sleep(0.02)


def _drainer(url, name, results):
    b = Backlog.open(url)
    taken = []
    while (card := b.claim(name, ttl=600)) is not None:
        taken.append(card.id)
        b.complete(card.id, owner=name)
    results.put((name, taken))
    b.close()


def _drain_with_processes(url: str, workers: int) -> list[str]:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=_drainer, args=(url, f"d{i}", results)) for i in range(workers)]
    for p in procs:
        p.start()
    try:
        taken = [cid for _ in procs for cid in results.get(timeout=120)[1]]
    finally:
        reap(procs)
    assert all(p.exitcode == 0 for p in procs)
    return taken


def test_sigkill_mid_claim_and_mid_complete_loses_and_doubles_nothing(db_url):
    repo = Backlog.open(db_url)
    ids = [f"K{i:02d}" for i in range(12)]
    for i, cid in enumerate(ids):
        repo.create(cid, f"card {cid}", priority=100 - i)
    before = repo.last_event_id()

    # 1. Killed inside the claim's transaction: the claim never happened.
    line = _kill_in_transaction(db_url, "claim")
    assert line.split()[1:3] == ["K00", "claimed"]  # it had claimed K00, uncommitted
    k00 = repo.get("K00")
    assert (k00.status, k00.claim_owner, k00.attempts) == ("ready", None, 0)
    assert repo.events(since=before) == []
    # The lock the dead transaction held is gone: the same card is claimable now, without waiting on a lock
    # (a wait would last the busy timeout, SQLITE_BUSY_TIMEOUT_S; SKIP LOCKED would give another card).
    t0 = time.monotonic()
    got = repo.claim("survivor", ttl=60)
    assert got.id == "K00" and time.monotonic() - t0 < SQLITE_BUSY_TIMEOUT_S / 2
    repo.release("K00")

    # 2. Killed inside complete's transaction: the card is still claimed by the dead worker...
    line = _kill_in_transaction(db_url, "complete", "K01")
    assert line.split()[1:3] == ["K01", "done"]
    k01 = repo.get("K01")
    assert (k01.status, k01.claim_owner, k01.attempts) == ("claimed", "victim", 1)
    # ...only until its lease ends: then reclaim hands it back, and nothing else.
    assert repo.reclaim() == []
    later = Backlog.open(db_url, clock=lambda: utcnow() + timedelta(seconds=61))
    assert later.reclaim() == ["K01"]
    k01 = repo.get("K01")
    assert (k01.status, k01.claim_owner, k01.claimed_at) == ("ready", None, None)
    assert repo.stats()["expiredClaimCount"] == 0

    # 3. Survivors drain the rest: every card exactly once, none left claimed.
    taken = _drain_with_processes(db_url, 3)
    assert sorted(taken) == sorted(set(taken)) == ids
    assert {c.status for c in repo.list()} == {"done"}
    completed = Counter(e.card_id for e in repo.events() if e.kind == "completed")
    assert completed == Counter(ids)
    assert Counter(e.card_id for e in repo.events() if e.kind == "claimed")["K01"] == 2  # victim, then a drainer
    later.close()
    repo.close()


# --------------------------------------------------------------------------- SQLite hammer
def _hammer(url, name, rounds, results):
    import random

    from mosaic_tui.errors import MosaicError

    rnd = random.Random(name)
    b = Backlog.open(url)
    errors: list[str] = []
    done = 0
    for i in range(rounds):
        try:
            op = rnd.random()
            if op < 0.25:
                b.create(f"{name}-{i}", f"made by {name}", priority=rnd.randrange(5))
            elif op < 0.65:
                card = b.claim(name, ttl=300)
                if card is not None:
                    b.heartbeat(card.id, name, ttl=300)
                    b.complete(card.id, owner=name)
                    done += 1
            elif op < 0.8:
                b.stats()
            elif op < 0.9:
                b.list(claimable=True, limit=20)
            else:
                cards = b.list(limit=5)
                if len(cards) >= 2:
                    try:
                        b.link(cards[0].id, cards[-1].id)
                    except MosaicError as exc:  # a cycle or a race on ids: expected refusals
                        if exc.exit_code not in (3, 4):
                            raise
        except Exception as exc:  # noqa: BLE001 - every failure is reported to the parent
            errors.append(f"{type(exc).__name__}: {exc}")
    results.put((name, done, errors))
    b.close()


def test_sqlite_eight_processes_hammering_one_file_never_locked_and_file_intact(sqlite_url):
    import multiprocessing as mp

    b = Backlog.open(sqlite_url)
    for i in range(40):
        b.create(f"seed-{i}", f"seed {i}", priority=i % 3)
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=_hammer, args=(sqlite_url, f"h{i}", 60, results)) for i in range(8)]
    for p in procs:
        p.start()
    try:
        outcomes = [results.get(timeout=180) for _ in procs]
    finally:
        reap(procs)
    assert all(p.exitcode == 0 for p in procs)
    errors = [e for _, _, errs in outcomes for e in errs]
    assert not [e for e in errors if "locked" in e.lower() or "busy" in e.lower()], errors
    assert errors == []
    completed = sum(done for _, done, _ in outcomes)
    assert completed > 0
    assert Counter(e.kind for e in b.events())["completed"] == completed
    assert b.count(status="claimed") == 0
    b.close()
    con = sqlite3.connect(sqlite_url)
    assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    con.close()


# --------------------------------------------------------------------------- first migration race
MIGRATE_CHILD = textwrap.dedent(
    """
    import json, sys, time
    from mosaic_tui.db import schema
    from mosaic_tui.repository import Backlog
    url, name, start_at = sys.argv[1], sys.argv[2], float(sys.argv[3])
    seen = {"migrate_called": False, "upgraded": False}
    real_upgrade, real_migrate = schema._upgrade, schema.migrate
    def upgrade(conn):
        seen["upgraded"] = True
        time.sleep(1.5)  # hold the migration lock long enough for the other process to arrive
        real_upgrade(conn)
    def migrate(db):
        seen["migrate_called"] = True
        return real_migrate(db)
    schema._upgrade, schema.migrate = upgrade, migrate
    while time.time() < start_at:
        time.sleep(0.005)
    b = Backlog.open(url)
    card = b.create(name, "made by " + name)
    seen["count"] = b.count()
    seen["version"] = b.schema_version()
    print(json.dumps(seen), flush=True)
    """
)


HOLD_WRITE_LOCK = textwrap.dedent(
    """
    import sqlite3, sys, time
    con = sqlite3.connect(sys.argv[1], isolation_level=None)
    con.execute("BEGIN IMMEDIATE")  # the write lock of a file still in rollback mode, as a process switching it holds it
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
    con.execute("ROLLBACK")
    """
)


def test_a_new_sqlite_file_whose_write_lock_another_process_holds_is_waited_for_not_locked(tmp_path):
    """Switching a new file to WAL asks for the write lock under a read lock, which SQLite does not wait for:
    two processes opening one new file at once met "database is locked" at once (seen in CI). It waits now."""
    path = tmp_path / "new.db"
    path.touch()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_WRITE_LOCK, str(path), "1.0"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        b = Backlog.open(str(path))
        b.create("after-the-lock", "made once the other process let go")
        assert [c.id for c in b.list()] == ["after-the-lock"]
        b.close()
    finally:
        holder.wait(timeout=60)
    assert holder.returncode == 0
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    con.close()


@pytest.fixture
def fresh_db_url(request, tmp_path):
    """A database never migrated: a new SQLite path, or a brand-new Postgres database."""
    if request.param == "sqlite":
        yield str(tmp_path / "fresh" / "backlog.db")
        return
    request.getfixturevalue("pg_server")  # skips (or fails under MOSAIC_REQUIRE_PG=1) without a server
    with new_pg_database("mosaic_fresh") as url:
        yield url


@pytest.mark.parametrize("fresh_db_url", ["sqlite", "pg"], indirect=True)
def test_two_processes_run_the_first_migration_at_once_one_migrates_the_other_waits(fresh_db_url):
    start_at = time.time() + 2.0  # both are imported and waiting by then
    procs = [
        subprocess.Popen([sys.executable, "-c", MIGRATE_CHILD, fresh_db_url, name, str(start_at)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name in ("first", "second")
    ]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert "Traceback" not in err
        outs.append(json.loads(out))
    assert sorted(o["upgraded"] for o in outs) == [False, True]  # exactly one migrated
    assert all(o["migrate_called"] for o in outs)  # the other came in during it, and waited
    assert all(o["version"] == HEAD for o in outs)
    assert sorted(o["count"] for o in outs)[-1] == 2
    b = Backlog.open(fresh_db_url)
    assert sorted(c.id for c in b.list()) == ["first", "second"]
    rows = run_sql(b, "SELECT version_num FROM mosaic_tui_alembic_version")
    assert [tuple(r) for r in rows] == [(HEAD,)]
    b.close()
