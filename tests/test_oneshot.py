"""The CLI's one-shot path (mosaic_tui.cli.oneshot): claim, heartbeat and complete --json without click,
SQLAlchemy or SQLModel, against the full CLI (click and the repository), on both backends and through a
PgBouncer in transaction mode.

The same command lines run through both paths on two backlogs seeded alike, with one frozen clock: the
outputs (stdout, stderr, exit code) and the backlogs afterwards (every column, and the events the
triggers wrote) must be identical, refusals and bad input included (one line, nothing written). What
the one-shot path leaves to the full one (a first use, an unusual command line) is checked to write
nothing; what it imports is checked on the real console script.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

import pooler
from conftest import new_pg_database
from mosaic_tui.cli import commands
from mosaic_tui.cli import oneshot
from mosaic_tui.repository import Backlog, card_json
from mosaic_tui.repository import verbs
from test_cli_subprocess import MT

HEAVY = ("sqlalchemy", "sqlmodel", "pydantic", "pydantic_core", "click", "alembic", "textual", "rich", "mcp")
T0 = datetime(2026, 5, 1, 9, 30, 0, 123456, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "pg", "pgbouncer"])
def twins(request, tmp_path):
    """Two empty backlogs of one kind (SQLite files, Postgres databases, or those through a PgBouncer)."""
    if request.param == "sqlite":
        yield str(tmp_path / "oneshot.db"), str(tmp_path / "full.db")
        return
    request.getfixturevalue("pg_server")
    with new_pg_database("mosaic_fast") as a, new_pg_database("mosaic_full") as b:
        if request.param == "pg":
            yield a, b
        else:
            pooler.need()
            with pooler.PgBouncer(pool_mode="transaction", pool_size=2) as bouncer:
                yield bouncer.url(a), bouncer.url(b)


@pytest.fixture
def clock(monkeypatch):
    """One frozen clock for both paths (``verbs.utcnow``, which the CLI's Backlog and the one-shot path read)."""
    now = {"t": T0}
    monkeypatch.setattr(verbs, "utcnow", lambda: now["t"])
    return now


def seed(url: str) -> None:
    t = {"now": T0 - timedelta(minutes=10)}

    def tick():
        t["now"] += timedelta(seconds=1)
        return t["now"]

    b = Backlog(Backlog.open(url).db, clock=tick)
    b.create("A", "Alpha", priority=2)
    b.create("B", "Beta", depends_on=["A"])
    b.create("C", "Gamma ✓", priority=5, body="two\nlines", phase="P1", acceptance={"k": [1, "x", None], "ok": True})
    b.create("D", "Delta")
    b.create("E", "Epsilon")
    b.create("F", "Zeta", priority=1, idempotency_key="idem-F")
    b.create("G", "Eta")
    b.block("D")
    b.complete("E")
    b.close()


def state(url: str) -> tuple[list, list]:
    """Every card (every column) and every event but its time and id, in order."""
    b = Backlog.open(url, max_attempts=10**6)  # whatever MOSAIC_MAX_ATTEMPTS holds
    try:
        cards = [(card_json(c), c.unmet_deps) for c in b.list()]
        events = [(e.card_id, e.kind, e.old_status, e.new_status, e.owner) for e in b.events()]
    finally:
        b.close()
    return cards, events


def both(capsys, argv: list[str], fast_url: str, full_url: str):
    """``argv`` through the one-shot path (which must take it) and through the full CLI."""
    capsys.readouterr()
    code = oneshot.attempt([*argv, "--db", fast_url])
    got = capsys.readouterr()
    assert code is not None, f"the one-shot path did not take {argv}"
    full_code = commands.run([*argv, "--db", full_url])
    full = capsys.readouterr()
    return (code, got.out, got.err), (full_code, full.out, full.err)


# (seconds the clock moves first, extra environment, argv, expected exit code)
STEPS = [
    (0, {}, ["claim", "--owner", "w1", "--json"], 0),  # C, the highest priority
    (1, {}, ["claim", "--owner", "w2", "--id", "A", "--ttl", "30", "--json"], 0),
    (0, {}, ["claim", "--owner", "w3", "--id", "B", "--json"], 0),  # waits on A: null
    (0, {}, ["claim", "--owner", "w3", "--id", "D", "--json"], 0),  # blocked: null
    (0, {}, ["claim", "--owner", "w3", "--id", "nope", "--json"], 3),
    (0, {}, ["claim", "--owner", "", "--json"], 2),
    (0, {}, ["claim", "--owner", "w3", "--ttl", "abc", "--json"], 2),
    (0, {}, ["claim", "--owner", "w\x01", "--json"], 2),
    (0, {}, ["claim", "--owner", "w3", "--id", " A", "--json"], 2),
    (2, {}, ["--json", "heartbeat", "C", "--owner", "w1", "--ttl", "60"], 0),
    (0, {}, ["heartbeat", "C", "--owner", "w2", "--json"], 4),
    (0, {}, ["heartbeat", "nope", "--owner", "w1", "--json"], 3),
    (0, {}, ["heartbeat", "F", "--owner", "w1", "--json"], 4),
    (0, {}, ["heartbeat", "C", "--owner", "w1", "--ttl", "0", "--json"], 2),
    (1, {}, ["heartbeat", "C", "--owner", "w1", "--ttl", "2147483647", "--json"], 2),  # the lease would be too long
    (0, {}, ["complete", "C", "--owner", "w2", "--json"], 4),
    (0, {}, ["complete", "E", "--json"], 4),
    (0, {}, ["complete", "nope", "--json"], 3),
    (0, {}, ["complete", "F", "--owner", "w1", "--json"], 4),
    (1, {}, ["complete", "A", "--owner", "w2", "--json"], 0),  # B no longer waits
    (100, {}, ["claim", "--owner", "w4", "--json"], 0),  # C's lease ended: reclaimed, claimed again (attempt 2)
    (0, {}, ["heartbeat", "C", "--owner", "w1", "--json"], 4),  # w1's lease ended
    (0, {}, ["complete", "C", "--owner", "w1", "--json"], 4),
    (1, {}, ["complete", "C", "--owner", "w4", "--json"], 0),
    (0, {"MOSAIC_MAX_ATTEMPTS": "1"}, ["claim", "--owner", "w5", "--ttl", "1", "--json"], 0),  # F
    (5, {"MOSAIC_MAX_ATTEMPTS": "1"}, ["claim", "--owner", "w6", "--json"], 0),  # F over the cap: blocked
    (0, {"MOSAIC_MAX_ATTEMPTS": "x"}, ["claim", "--owner", "w6", "--json"], 2),
    (0, {"MOSAIC_MAX_ATTEMPTS": "x"}, ["claim", "--owner", "", "--json"], 2),  # which error comes first
    (1, {}, ["complete", "D", "--json"], 0),  # blocked -> done, without an owner
    (0, {}, ["claim", "--owner", "w7", "--json"], 0),
    (0, {}, ["claim", "--owner", "w8", "--json"], 0),  # nothing left: null
]


def test_both_paths_write_and_say_the_same(twins, clock, capsys, monkeypatch):
    fast_url, full_url = twins
    seed(fast_url)
    seed(full_url)
    assert state(fast_url) == state(full_url)
    for delta, env, argv, expected in STEPS:
        clock["t"] += timedelta(seconds=delta)
        for key in ("MOSAIC_MAX_ATTEMPTS",):
            monkeypatch.delenv(key, raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        before = state(fast_url)
        (code, out, err), full = both(capsys, argv, fast_url, full_url)
        assert (code, out, err) == full, argv
        assert code == expected, (argv, err)
        if code == 0:
            assert err == "" and out.endswith("\n") and out.count("\n") == 1
            json.loads(out)
        else:  # one line of JSON on stderr, nothing on stdout, nothing written
            assert out == "" and err.count("\n") == 1 and set(json.loads(err)) == {"error"}
            assert state(fast_url) == before
        assert state(fast_url) == state(full_url), argv
    cards, events = state(fast_url)
    assert {c["id"]: c["status"] for c, _ in cards} == {
        "A": "done", "B": "claimed", "C": "done", "D": "done", "E": "done", "F": "blocked", "G": "claimed"}
    kinds = Counter(kind for _, kind, *_ in events)
    assert kinds["claimed"] == 6 and kinds["heartbeat"] == 1 and kinds["released"] == 1 and kinds["blocked"] == 2


def test_both_paths_fail_alike_before_the_transaction(pg_url, tmp_path, capsys, monkeypatch):
    """Unreachable server (password never shown), a file that is not a database, a bad MOSAIC_PG_DIRECT,
    a schema newer than this program: the same line and exit code on both paths, nothing written."""
    not_a_db = tmp_path / "garbage.db"
    not_a_db.write_bytes(b"this is not a database, it is only text" * 40)
    newer = str(tmp_path / "newer.db")
    b = Backlog.open(newer)
    b.create("A", "a")
    b.close()
    import sqlite3

    with sqlite3.connect(newer) as con:
        con.execute("UPDATE mosaic_tui_alembic_version SET version_num = '9999'")
    cases = [
        ("postgresql://agent:hunter2-S3CRET@127.0.0.1:1/fleet", {}, 5, "unavailable"),
        (str(not_a_db), {}, 5, "unavailable"),
        (pg_url, {"MOSAIC_PG_DIRECT": "maybe"}, 2, "invalid_input"),
        (newer, {}, 5, "unavailable"),
    ]
    for url, env, exit_code, code in cases:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        for argv in (["claim", "--owner", "w", "--json"], ["heartbeat", "A", "--owner", "w", "--json"],
                     ["complete", "A", "--json", "--wait", "0"]):
            got, full = both(capsys, argv, url, url)
            assert got == full, (url, argv)
            assert got[0] == exit_code and got[1] == "" and json.loads(got[2])["error"]["code"] == code
            assert "S3CRET" not in got[2] and got[2].count("\n") == 1
        for key in env:
            monkeypatch.delenv(key)
    assert not_a_db.read_bytes().startswith(b"this is not a database")


def test_a_first_use_goes_to_the_full_path_and_writes_nothing_first(tmp_path, capsys):
    fresh = tmp_path / "sub" / "fresh.db"
    assert oneshot.attempt(["claim", "--owner", "w", "--json", "--db", str(fresh)]) is None
    assert not fresh.exists() and not fresh.parent.exists()  # the full path creates it, private, and migrates
    capsys.readouterr()
    assert oneshot.run(["claim", "--owner", "w", "--json", "--db", str(fresh)]) == 0
    assert capsys.readouterr().out == "null\n"
    assert fresh.stat().st_mode & 0o777 == 0o600
    assert oneshot.attempt(["claim", "--owner", "w", "--json", "--db", str(fresh)]) == 0  # migrated: this path now


def test_a_never_migrated_postgres_goes_to_the_full_path(pg_server, capsys):
    with new_pg_database("mosaic_fresh") as url:
        assert oneshot.attempt(["claim", "--owner", "w", "--json", "--db", url]) is None
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT to_regclass('backlog')").fetchone()[0] is None
        assert oneshot.run(["claim", "--owner", "w", "--json", "--db", url]) == 0
        assert oneshot.attempt(["claim", "--owner", "w", "--json", "--db", url]) == 0
        assert capsys.readouterr().out == "null\nnull\n"


@pytest.mark.parametrize("argv", [
    ["claim", "--owner", "w"],  # no --json: the human form is the full CLI's
    ["claim", "--json"],  # --owner missing: click says so
    ["claim", "--owner", "w", "--json", "--help"],
    ["claim", "--owner", "w", "--json", "extra"],
    ["heartbeat", "--owner", "w", "--json"],
    ["heartbeat", "A", "B", "--owner", "w", "--json"],
    ["claim", "--owner", "w", "--owner", "x", "--json"],
    ["claim", "--owner", "--json"],
    ["claim", "--owner", "-w", "--json"],
    ["--phase", "P", "claim", "--owner", "w", "--json"],
    ["claim", "--listen-url", "postgresql://x/y", "--owner", "w", "--json"],
    ["claim", "--owner", "w", "--json", "--wait", "nan"],
    ["claim", "--owner", "w", "--json", "--wait", "5000"],
    ["claim", "--owner", "w", "--json", "--", "x"],
    ["claim", "--owner", "w", "--json=1"],
    ["complete", "--", "-A", "--json"],
    ["list", "--json"],
    ["reclaim", "--json"],
    ["--version"],
    [],
])
def test_command_lines_it_is_not_sure_of_go_to_click(argv):
    assert oneshot.parse(argv) is None


def test_command_lines_it_reads_as_click_does():
    assert oneshot.parse(["--json", "--db=X", "claim", "--owner=w", "--wait", "0.5"]) == (
        "claim", {"owner": "w", "ttl": "900", "card_id": None}, {"db": "X", "wait": 0.5, "listen_url": None, "read_url": None})
    assert oneshot.parse(["heartbeat", "--owner", "w", "A", "--ttl=60", "--json", "--listen-url", "L"]) is None
    assert oneshot.parse(["--listen-url", "L", "heartbeat", "--owner", "w", "A", "--ttl=60", "--json"]) == (
        "heartbeat", {"card_id": "A", "owner": "w", "ttl": "60"}, {"db": None, "wait": None, "listen_url": "L", "read_url": None})
    assert oneshot.parse(["complete", "A", "--json", "--owner", ""]) == (
        "complete", {"card_id": "A", "owner": ""}, {"db": None, "wait": None, "listen_url": None, "read_url": None})


# --------------------------------------------------------------------------- the real console script
def test_the_hot_verbs_import_neither_sqlalchemy_nor_sqlmodel_nor_click(db_url):
    b = Backlog.open(db_url)
    b.create("a", "Alpha")
    b.close()
    for argv in (["claim", "--owner", "agent", "--json"], ["heartbeat", "a", "--owner", "agent", "--json"],
                 ["complete", "a", "--owner", "agent", "--json"]):
        r = subprocess.run([sys.executable, "-X", "importtime", MT, *argv, "--db", db_url],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-2000:]
        card = json.loads(r.stdout)
        assert card["id"] == "a" and card["status"] == ("done" if argv[0] == "complete" else "claimed")
        loaded = {line.split("|")[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
        assert "mosaic_tui.repository.verbs" in loaded and "mosaic_tui.cli.group" not in loaded
        assert not {m for m in loaded if m.split(".")[0] in HEAVY}, argv


def test_agents_drain_a_backlog_through_pgbouncer_with_the_console_script(pg_url):
    """Three agents, each a loop of claim -> heartbeat -> complete processes, through PgBouncer in transaction
    mode on two server connections: every card done once, no error."""
    pooler.need()
    b = Backlog.open(pg_url)
    for i in range(9):  # three each, on two server connections: the pooler is shared the whole time
        b.create(f"k{i:02d}", f"card {i}", priority=i % 3)
    b.close()
    with pooler.PgBouncer(pool_mode="transaction", pool_size=2) as bouncer:
        url = bouncer.url(pg_url)

        def agent(name: str) -> list[str]:
            done = []
            while True:
                r = subprocess.run([MT, "claim", "--owner", name, "--json", "--db", url],
                                   capture_output=True, text=True, timeout=120)
                assert r.returncode == 0 and r.stderr == "", r.stderr
                card = json.loads(r.stdout)
                if card is None:
                    return done
                for verb in (["heartbeat", card["id"], "--owner", name, "--ttl", "120"],
                             ["complete", card["id"], "--owner", name]):
                    r = subprocess.run([MT, *verb, "--json", "--db", url], capture_output=True, text=True,
                                       timeout=120)
                    assert r.returncode == 0 and r.stderr == "", r.stderr
                    assert json.loads(r.stdout)["claimOwner"] == (name if verb[0] == "heartbeat" else None)
                done.append(card["id"])

        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(agent, ["a1", "a2", "a3"]))
    done = [c for r in results for c in r]
    assert sorted(done) == [f"k{i:02d}" for i in range(9)]  # each once
    b = Backlog.open(pg_url)
    events = Counter((e.card_id, e.kind) for e in b.events())
    assert all(events[(c, "claimed")] == events[(c, "heartbeat")] == events[(c, "completed")] == 1 for c in done)
    assert b.count(status="done") == 9
    b.close()


def test_a_full_pooler_is_busy_on_both_paths(pg_url, capsys):
    """Bounded busy retry and the same classification: --wait 0 fails at once with code busy; --wait 1 retries
    for about a second, then says so."""
    pooler.need()
    with pooler.PgBouncer(pool_mode="transaction", pool_size=2, max_client_conn=2) as tiny:
        url = tiny.url(pg_url)
        held = [psycopg.connect(url, autocommit=True) for _ in range(2)]
        try:
            for wait in ("0", "1"):
                started = time.monotonic()
                got, full = both(capsys, ["claim", "--owner", "w", "--json", "--wait", wait], url, url)
                assert got == full
                assert got[0] == 5 and got[1] == ""
                err = json.loads(got[2])["error"]
                assert err["code"] == "busy" and "no more connections allowed" in err["message"]
                assert ("retried for 1 s" in err["message"]) == (wait == "1")
                assert time.monotonic() - started < 30
        finally:
            for c in held:
                c.close()
