"""Postgres behind PgBouncer in transaction pooling mode, and a server with no free connection slot.

The tests reach the database through a real PgBouncer of their own
(tests/pooler.py: transaction mode, 4 server connections per database, so
that one server connection serves many clients' transactions in turn). They
skip without the ``pgbouncer`` binary, and fail instead under
MOSAIC_REQUIRE_PG=1 (CI installs it). One checks, on a direct connection,
that no statement is prepared on the server unless MOSAIC_PG_DIRECT=1.
"""

from __future__ import annotations

import asyncio
import html
import json
import multiprocessing as mp
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

import pooler
from conftest import PG_ADMIN_URL, new_pg_database
from mosaic_tui import cli
from mosaic_tui.db import engine as db_engine
from mosaic_tui.db.feed import PG_POLL_S
from mosaic_tui.db.schema import HEAD
from mosaic_tui.errors import Busy, DatabaseFailure, InvalidInput, Unavailable
from mosaic_tui.repository import Backlog
from test_cli_subprocess import MT

POOL_SIZE = 4


@pytest.fixture(scope="module")
def bouncer(pg_server):
    """A PgBouncer in transaction mode in front of the test server, for this module."""
    pooler.need()
    with pooler.PgBouncer(pool_mode="transaction", pool_size=POOL_SIZE) as b:
        yield b


@pytest.fixture
def pooled(bouncer, pg_url) -> str:
    """The URL of an empty backlog (migrated: the session's database) through the pooler."""
    return bouncer.url(pg_url)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.run(list(argv))
    got = capsys.readouterr()
    return code, got.out, got.err


# --------------------------------------------------------------------------- every command
def test_every_cli_command_through_the_pooler(capsys, pooled, pg_url, tmp_path, bouncer):
    db = ["--db", pooled, "--json"]

    def ok(*args: str):
        code, out, err = _run(capsys, *args, *db)
        assert code == 0 and err == "", (args, code, err)
        return json.loads(out) if out.strip() and not args[0] == "export" else out

    assert ok("db")["schemaVersion"] == HEAD
    for i in range(12):  # more than psycopg's auto-prepare threshold (5) of the same statements
        ok("create", f"c{i:02d}", f"card {i}", "--priority", str(i % 3), "--phase", "P1")
    ok("create", "dep", "depends on c00", "--deps", "c00")
    assert ok("show", "dep")["dependsOn"] == ["c00"]
    assert len(ok("list", "--status", "ready")) == 13
    claimed = []
    for i in range(8):
        card = ok("claim", "--owner", f"agent{i}", "--ttl", "60")
        claimed.append(card["id"])
        assert ok("heartbeat", card["id"], "--owner", f"agent{i}", "--ttl", "120")["claimTtlSeconds"] >= 120
    assert len(set(claimed)) == 8
    for i, cid in enumerate(claimed[:6]):
        assert ok("complete", cid, "--owner", f"agent{i}")["status"] == "done"
    assert ok("reclaim", "--id", claimed[6])["reclaimed"] == [claimed[6]]
    assert ok("reclaim")["reclaimed"] == []
    ok("link", "c11", "c10")
    assert ok("unlink", "c11", "c10")["dependsOn"] == []
    assert ok("block", "c09", "--reason", "blocked through the pooler")["status"] == "blocked"
    assert ok("note", "c09", "a note through the pooler", "--owner", "agent1")["author"] == "agent1"
    assert [n["kind"] for n in ok("notes", "c09")] == ["block", "note"]
    assert ok("label", "c09", "c10", "+pooled")["c10"] == ["pooled"]
    assert {c["id"] for c in ok("list", "--label", "pooled")} == {"c09", "c10"}
    assert ok("show", "c09")["noteCount"] == 2
    assert ok("unblock", "c09")["status"] == "ready"
    assert ok("reopen", claimed[0])["status"] == "ready"
    stats = ok("stats")
    assert stats["total"] == 13 and stats["counts"]["done"] == 5 and stats["counts"]["claimed"] == 1
    events = ok("events", "--limit", "500")
    assert len(events) == len({e["id"] for e in events}) and {e["kind"] for e in events} >= {
        "created", "claimed", "heartbeat", "completed", "released", "linked", "unlinked", "blocked", "unblocked",
        "reopened", "noted", "labeled"}
    export = tmp_path / "backlog.jsonl"
    assert ok("export", str(export)) and export.stat().st_size > 0
    with new_pg_database("mosaic_pool_copy") as other:
        # import and migrate into a brand-new database, through the pooler (the first migration included)
        imported = _run(capsys, "import", str(export), "--db", bouncer.url(other), "--json")
        assert imported[0] == 0, imported[2]
        assert json.loads(imported[1])["imported"]["inserted"] == 13
    with new_pg_database("mosaic_pool_mig") as other:
        code, out, err = _run(capsys, "migrate", "--to", bouncer.url(other), *db)
        assert code == 0, err
        assert json.loads(out)["migrated"]["cards"] == 13
    # The pooler really shared its few server connections between these commands' transactions.
    servers = [r for r in bouncer.show("SERVERS") if r["database"] == make_url(pg_url).database]
    assert 1 <= len(servers) <= POOL_SIZE


# --------------------------------------------------------------------------- 32 workers
def _drainer(url: str, name: str, start, results) -> None:
    backlog = Backlog.open(url)
    taken: list[str] = []
    errors: list[str] = []
    start.wait()
    while len(errors) < 50:
        try:
            card = backlog.claim(name, ttl=600)
        except Exception as exc:  # noqa: BLE001 - counted: the test wants none
            errors.append(f"claim: {type(exc).__name__}: {exc}")
            continue
        if card is None:
            break
        taken.append(card.id)
        try:
            backlog.complete(card.id, owner=name)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"complete: {type(exc).__name__}: {exc}")
    backlog.close()
    results.put((name, taken, errors))


def test_32_workers_drain_2000_cards_through_the_pooler(pooled, pg_url):
    """In-process Backlog objects (long-lived connections: what psycopg's auto-prepare broke)."""
    n, workers = 2000, 32  # ~60 claims a worker: far past psycopg's auto-prepare threshold (5)
    b = Backlog.open(pg_url)
    b.db.ensure_schema()  # (not left to an earlier test: run alone, the session's database is new)
    with b.db.engine.begin() as conn:
        conn.execute(text("INSERT INTO backlog (id, title, priority) VALUES (:id, :title, :p)"),
                     [{"id": f"c{i:05d}", "title": f"card {i}", "p": i % 7} for i in range(n)])
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["mosaic_tui.repository"])  # 32 interpreters share the imports
    start = ctx.Barrier(workers + 1)
    results = ctx.Queue()
    procs = [ctx.Process(target=_drainer, args=(pooled, f"w{i}", start, results)) for i in range(workers)]
    for p in procs:
        p.start()
    try:
        start.wait(timeout=120)
        got = [results.get(timeout=300) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
    errors = [e for _, _, errs in got for e in errs]
    taken = [cid for _, ids, _ in got for cid in ids]
    assert errors == [], f"{len(errors)} errors, e.g. {errors[:3]}"
    dupes = [cid for cid, k in Counter(taken).items() if k > 1]
    assert dupes == [], f"claimed twice: {dupes[:10]}"
    assert len(taken) == n  # none lost
    assert b.count(status="done") == n and b.count() == n
    rows = b.db.run(lambda c: c.execute(text("SELECT count(*) FROM backlog WHERE attempts <> 1")).scalar(), write=False)
    assert rows == 0
    assert sum(1 for _, ids, _ in got if ids) > workers // 2  # the work was shared out
    assert all(p.exitcode == 0 for p in procs)
    b.close()


# --------------------------------------------------------------------------- migrations
MIGRATE_CHILD = r"""
import json, sys, time
from mosaic_tui.db import schema
from mosaic_tui.repository import Backlog

url, name, start_at = sys.argv[1], sys.argv[2], float(sys.argv[3])
seen = {"upgraded": False}
real_upgrade = schema._upgrade
def upgrade(conn):
    seen["upgraded"] = True
    time.sleep(1.0)  # hold the lock while the others arrive
    real_upgrade(conn)
schema._upgrade = upgrade
while time.time() < start_at:
    time.sleep(0.005)
b = Backlog.open(url)
b.create(name, "made by " + name)
seen["version"] = b.schema_version()
print(json.dumps(seen), flush=True)
"""


def test_the_first_migration_by_4_processes_at_once_through_the_pooler(pg_server):
    """Through 2 server connections for 4 processes: a session lock taken in one transaction would be
    held by whichever server connection ran it, and the next process to get that one would hold it too."""
    pooler.need()
    with new_pg_database("mosaic_pool_fresh") as direct, pooler.PgBouncer(pool_size=2) as bouncer:
        url = bouncer.url(direct)
        start_at = time.time() + 3.0
        procs = [subprocess.Popen([sys.executable, "-c", MIGRATE_CHILD, url, f"p{i}", str(start_at)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(4)]
        outs = []
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0 and "Traceback" not in err, err
            outs.append(json.loads(out))
        assert sorted(o["upgraded"] for o in outs) == [False, False, False, True]  # one migrated, three waited
        assert all(o["version"] == HEAD for o in outs)
        with psycopg.connect(direct, autocommit=True) as conn:
            assert conn.execute("SELECT version_num FROM mosaic_tui_alembic_version").fetchall() == [(HEAD,)]
            assert sorted(r[0] for r in conn.execute("SELECT id FROM backlog")) == ["p0", "p1", "p2", "p3"]
            # The lock went with its transaction: no server connection of the pool still holds it.
            held = conn.execute("SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                                "WHERE l.locktype = 'advisory' AND d.datname = current_database()").fetchone()[0]
            assert held == 0


# --------------------------------------------------------------------------- the change feed
def test_the_feed_through_the_pooler_polls_and_says_so(pooled, pg_url, bouncer):
    b = Backlog.open(pooled)
    feed = b.feed()
    try:
        assert (feed.status, feed.interval, feed.label) == ("polling", PG_POLL_S, f"polling (every {PG_POLL_S:g}s)")
        time.sleep(PG_POLL_S)
        feed.wait(0)  # settle on "nothing new"
        Backlog.open(pg_url).create("x", "a change")
        deadline = time.monotonic() + 10
        while not feed.wait(0.5):
            assert time.monotonic() < deadline, "the polling feed never saw the change"
    finally:
        feed.close()
        b.close()
    # Given a listen URL (the server itself, or a pooler in session mode), it is live.
    with pooler.PgBouncer(pool_mode="session", pool_size=2) as session_mode:
        for listen in (pg_url, session_mode.url(pg_url)):
            b = Backlog.open(pooled, listen_url=listen)
            feed = b.feed()
            try:
                assert (feed.status, feed.interval, feed.label) == ("live", None, "live")
                Backlog.open(pooled).create(f"y{uuid.uuid4().hex[:6]}", "another change")
                assert feed.wait(10.0)
            finally:
                feed.close()
                b.close()


def _follow(args: list[str], env: dict) -> tuple[subprocess.Popen, list[str], threading.Event]:
    proc = subprocess.Popen([MT, "events", "--follow", "--json", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    got = threading.Event()

    def read():
        for line in proc.stdout:
            lines.append(line)
            got.set()

    threading.Thread(target=read, daemon=True).start()
    return proc, lines, got


@pytest.mark.parametrize("listen", ["listen-url", "none"])
def test_events_follow_through_the_pooler(listen, pooled, pg_url):
    b = Backlog.open(pooled)
    b.create("old", "before following")
    since = b.last_event_id()
    env = {**os.environ, "MOSAIC_LISTEN_URL": pg_url} if listen == "listen-url" else dict(os.environ)
    env.pop("DATABASE_URL", None)
    proc, lines, _ = _follow(["--since", str(since), "--db", pooled], env)
    watchdog = threading.Timer(120, proc.kill)
    watchdog.start()
    try:
        n = 40
        for i in range(n):  # from other connections of the pool, while it follows
            b.create(f"n{i:02d}", f"new {i}")
            if i % 10 == 0:
                time.sleep(0.3)
        want = set(range(since + 1, b.last_event_id() + 1))
        deadline = time.monotonic() + 30
        while len(lines) < len(want) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.send_signal(2)  # Ctrl-C
        try:
            _, err = proc.communicate(timeout=30)
        finally:
            watchdog.cancel()
        b.close()
    ids = [json.loads(line)["id"] for line in lines]
    assert ids == sorted(want)  # every event, in order, once
    assert proc.returncode == 0, err
    notes = [json.loads(line) for line in err.splitlines()]
    if listen == "listen-url":
        assert notes == []  # live: nothing to say
    else:
        assert notes == [{"feed": {"status": "polling", "interval": PG_POLL_S, "message": notes[0]["feed"]["message"]}}]
        assert "pooler" in notes[0]["feed"]["message"]


def test_events_follow_human_form_says_polling_every_n_seconds(pooled):
    env = dict(os.environ)
    env.pop("MOSAIC_LISTEN_URL", None)
    proc = subprocess.Popen([MT, "events", "--follow", "--db", pooled], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = proc.stderr.readline()
    finally:
        proc.send_signal(2)
        proc.communicate(timeout=30)
    assert first.startswith(f"mosaic-tui: events: polling (every {PG_POLL_S:g}s): ")
    assert "--listen-url" in first and "MOSAIC_LISTEN_URL" in first


# --------------------------------------------------------------------------- the board
def screen_text(app) -> str:
    """What the board's screen shows, as text (from its SVG screenshot)."""
    svg = app.export_screenshot()
    spans = re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S)
    return "\n".join(html.unescape(s).replace("\xa0", " ") for s in spans)


def test_the_board_through_the_pooler(pooled, pg_url):
    from mosaic_tui.board import make_app

    b = Backlog.open(pooled)
    for i in range(6):
        b.create(f"POOL-{i}", f"Pooled card {i}", phase="P")
    b.claim("agent", 600, "POOL-1")

    async def run():
        app = make_app(b)
        async with app.run_test(size=(160, 45)) as pilot:
            async def until(what: str, timeout: float = 20.0) -> str:
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    shown = screen_text(app)
                    if what in shown:
                        return shown
                    await pilot.pause(0.1)
                raise AssertionError(f"{what!r} never shown; the screen:\n{screen_text(app)}")

            shown = await until("POOL-5")
            assert "POOL-1" in shown and "agent" in shown
            await until("polling")  # the feed found no notifications through the pooler, and says so
            other = Backlog.open(pooled)
            other.create("POOL-NEW", "Made elsewhere")  # arrives through the polling feed
            other.close()
            await until("POOL-NEW")
            await pilot.press("q")

    asyncio.run(run())
    b.close()


# --------------------------------------------------------------------------- a full server
def _hold(url: str, n: int) -> list:
    return [psycopg.connect(url, autocommit=True) for _ in range(n)]


def test_a_full_pooler_is_busy_not_unreachable(pg_url):
    pooler.need()
    with pooler.PgBouncer(pool_mode="transaction", pool_size=2, max_client_conn=3) as tiny:
        url = tiny.url(pg_url)
        held = _hold(url, 3)
        try:
            started = time.monotonic()
            r = subprocess.run([MT, "list", "--json", "--wait", "0", "--db", url], capture_output=True, text=True,
                               timeout=60)
            assert r.returncode == 5 and r.stdout == ""
            err = json.loads(r.stderr)["error"]
            assert err["code"] == "busy"
            assert "too many clients" in err["message"] and "retry" in err["message"]
            assert "no more connections allowed" in err["message"]
            # In-process: Busy, a kind of Unavailable, after retrying for the wait given.
            with pytest.raises(Busy) as caught:
                Backlog.open(url, wait=0.5).count()
            assert isinstance(caught.value, Unavailable) and caught.value.exit_code == 5
            assert "retried for 0.5 s" in str(caught.value)
            assert time.monotonic() - started < 50
            # --wait: the command retries while the server is full, and gets through once a slot frees up.
            proc = subprocess.Popen([MT, "list", "--json", "--wait", "30", "--db", url], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            time.sleep(1.0)
            assert proc.poll() is None  # still waiting
            held.pop().close()
            out, err_text = proc.communicate(timeout=60)
            assert proc.returncode == 0 and json.loads(out) == [], err_text
        finally:
            for c in held:
                c.close()


def test_a_server_with_no_free_slot_is_busy(pg_url):
    """Postgres' own refusal (SQLSTATE 53300), direct and through the pooler: a role allowed 2 connections."""
    pooler.need()
    role = f"mosaic_storm_{uuid.uuid4().hex[:8]}"
    migrated = Backlog.open(pg_url)  # the tables to grant on (not left to an earlier test: run alone, none yet)
    migrated.db.ensure_schema()
    migrated.close()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 2")
    try:
        with psycopg.connect(pg_url, autocommit=True) as owner:
            owner.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
            owner.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
        direct = make_url(pg_url).set(username=role).render_as_string(hide_password=False)
        with pooler.PgBouncer(pool_mode="transaction", pool_size=2, users=(role,)) as bouncer:
            for url in (direct, bouncer.url(direct)):
                held = _hold(direct, 2)
                try:
                    r = subprocess.run([MT, "stats", "--json", "--wait", "0", "--db", url], capture_output=True,
                                       text=True, timeout=60)
                    assert r.returncode == 5, r.stderr
                    err = json.loads(r.stderr)["error"]
                    assert err["code"] == "busy" and f'too many connections for role "{role}"' in err["message"]
                    r = subprocess.run([MT, "stats", "--wait", "0", "--db", url], capture_output=True, text=True,
                                       timeout=60)
                    assert r.returncode == 5 and r.stderr.count("\n") == 1
                    assert "database busy" in r.stderr and "retry later" in r.stderr and "Traceback" not in r.stderr
                finally:
                    for c in held:
                        c.close()
                # A slot free: the same command works.
                r = subprocess.run([MT, "stats", "--json", "--wait", "0", "--db", url], capture_output=True,
                                   text=True, timeout=60)
                assert r.returncode == 0, r.stderr
    finally:
        with psycopg.connect(pg_url, autocommit=True) as owner:
            owner.execute(f"DROP OWNED BY {role}")
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP ROLE IF EXISTS {role}")


def _prepared_on_server(b: Backlog) -> int:
    """How many statements the server holds prepared for the session of ``b``'s (one) pooled connection."""
    return b.db.run(lambda c: c.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar(), write=False)


def test_no_server_side_prepared_statements_unless_told_the_connection_is_direct(pg_url, monkeypatch):
    monkeypatch.delenv("MOSAIC_PG_DIRECT", raising=False)
    for direct, expect_prepared in (("0", False), ("1", True)):
        monkeypatch.setenv("MOSAIC_PG_DIRECT", direct)
        b = Backlog.open(pg_url)
        for i in range(8):  # more than psycopg's threshold (5) of the same statements, on one connection
            b.create(f"p{direct}-{i}", "card")
            b.claim("w", 60)
        assert (_prepared_on_server(b) > 0) is expect_prepared
        b.close()
    monkeypatch.setenv("MOSAIC_PG_DIRECT", "maybe")
    with pytest.raises(InvalidInput, match="MOSAIC_PG_DIRECT must be 1 or 0"):
        Backlog.open(pg_url).count()


def test_a_statement_error_through_the_pooler_is_not_unreachable(pooled, bouncer, monkeypatch):
    """What auto-prepare does behind a transaction pooler (MOSAIC_PG_DIRECT=1 set where it is not
    true), made to happen on purpose (prepare at once), is a database error, never "unreachable"."""
    monkeypatch.setenv("MOSAIC_PG_DIRECT", "1")
    monkeypatch.setattr(db_engine, "PG_DIRECT_PREPARE_THRESHOLD", 0)
    b = Backlog.open(pooled)
    count = text("SELECT count(*) FROM backlog")
    try:
        assert b.db.run(lambda c: c.execute(count).scalar(), write=False) == 0  # prepared on server connection S
        other = psycopg.connect(pooled)  # PgBouncer hands out the most recently used server connection: S
        other.execute("SELECT 1")  # ... and keeps it for this open transaction
        try:
            with pytest.raises(DatabaseFailure) as caught:
                for _ in range(POOL_SIZE):  # run on another server connection, where it was never prepared
                    b.db.run(lambda c: c.execute(count).scalar(), write=False)
        finally:
            other.close()
    finally:
        b.close()
    err = caught.value
    assert err.code == "database_error" and not isinstance(err, Unavailable)
    assert "prepared statement" in str(err) and "unreachable" not in str(err)
    assert "MOSAIC_PG_DIRECT=1" in str(err) and "unset it" in str(err)  # says what to do
