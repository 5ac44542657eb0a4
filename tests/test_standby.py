"""Postgres in production: a primary and a streaming standby of the suite's own (tests/standby.py).

One pair for the session's reading tests (a standby by mistake, a read replica); the failover
tests build a pair of their own, since they promote its standby.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import standby

from mosaic_tui.db.url import parse
from mosaic_tui.errors import EXIT_CODES, ReadOnly
from mosaic_tui.repository import Backlog

MT = str(Path(sys.executable).parent / "mosaic-tui")
READ_ONLY_WORDS = "read-only standby"


def _need_binaries() -> None:
    if standby.bindir() is None:
        pytest.skip(f"no Postgres server binaries: {standby.HINT}")


@pytest.fixture(scope="module")
def pair():
    _need_binaries()
    with standby.pair() as p:
        b = Backlog.open(p.primary_url)
        for i in range(6):
            b.create(f"s{i}", f"card {i}", priority=i)
        b.close()
        p.wait_replayed()
        yield p


def mt(*args: str, timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([MT, *args], capture_output=True, text=True, timeout=timeout, env=env)


# --------------------------------------------------------------------------- a standby by mistake
@pytest.mark.parametrize("argv", [
    ["claim", "--owner", "w", "--json"],  # the one-shot path
    ["create", "new1", "A new card", "--json"],  # the full path
    ["complete", "s0", "--json"],
])
def test_a_write_on_a_standby_says_read_only_in_one_line(pair, argv):
    r = mt(*argv, "--db", pair.standby_url)
    assert r.returncode == EXIT_CODES["read_only"] == 5 and r.stdout == ""
    err = json.loads(r.stderr)["error"]
    assert err["code"] == "read_only", err
    assert READ_ONLY_WORDS in err["message"] and "target_session_attrs=read-write" in err["message"]
    assert "--read-url" in err["message"] and len(err["message"]) < 250
    assert "INSERT" not in err["message"] and "SELECT" not in err["message"]  # no SQL, no parameters


def test_reads_answer_on_a_standby(pair):
    r = mt("list", "--json", "--db", pair.standby_url)
    assert r.returncode == 0, r.stderr
    assert {c["id"] for c in json.loads(r.stdout)} >= {f"s{i}" for i in range(6)}


def test_the_mcp_tool_error_is_read_only(pair, tmp_path):
    import anyio
    from test_mcp import connect, error

    async def main():
        async with connect(pair.standby_url, tmp_path, owner="m") as s:
            err = await error(s, "claim")
            assert err["code"] == "read_only" and READ_ONLY_WORDS in err["message"]

    anyio.run(main)


def test_the_board_reports_a_refused_write_not_a_lost_database(pair):
    from mosaic_tui.board.jobs import REFUSED, explain

    b = Backlog.open(pair.standby_url)
    try:
        with pytest.raises(ReadOnly) as info:
            b.create("x1", "no")
        kind, line = explain(info.value, b.db.target)
        assert kind == REFUSED and READ_ONLY_WORDS in line
        assert b.stats()["total"] >= 6  # and the board still reads
    finally:
        b.close()


def test_a_never_migrated_standby_says_the_first_use_needs_the_primary(pair):
    pair.sql(pair.primary_port, "CREATE DATABASE fresh", dbname="postgres")
    pair.wait_replayed()
    url = standby.Pair.url(pair.standby_port, "fresh")
    for argv in (["list", "--json"], ["claim", "--owner", "w", "--json"]):
        r = mt(*argv, "--db", url)
        assert r.returncode == 5, r.stderr
        err = json.loads(r.stderr)["error"]
        assert err["code"] == "read_only" and "first use needs the primary" in err["message"], err
        assert "CREATE TABLE" not in err["message"]


def test_the_feed_on_a_standby_polls_its_event_log_without_a_storm(pair):
    """LISTEN is impossible during recovery: the feed polls, on one connection (the server's own count)."""
    before = pair.sql(pair.standby_port, "SELECT sessions FROM pg_stat_database WHERE datname = 'mosaic'")[0][0]
    b = Backlog.open(pair.standby_url)
    try:
        with b.feed() as feed:
            assert feed.status == "polling" and feed.standby
            seen = False
            w = Backlog.open(pair.primary_url)
            w.create("fd1", "seen through the standby's event log")
            w.close()
            deadline = time.monotonic() + 60
            while not seen and time.monotonic() < deadline:
                seen = feed.wait(0.25)
            assert seen
            for _ in range(8):
                feed.wait(0.25)
            assert feed.attempts == 1
    finally:
        b.close()
    after = pair.sql(pair.standby_port, "SELECT sessions FROM pg_stat_database WHERE datname = 'mosaic'")[0][0]
    assert after - before <= 4  # the feed's one connection, the engine's, this test's two (never 50 in 14 s)


def test_a_lost_feed_tries_at_most_once_per_backoff_interval():
    from mosaic_tui.db.feed import MAX_BACKOFF_S, PostgresFeed

    feed = PostgresFeed(parse(f"postgresql://postgres@127.0.0.1:{standby.free_port()}/nothing"))
    start = time.monotonic()
    while time.monotonic() - start < 4.0:
        assert feed.wait(0.25) is False
        assert feed.label == "reconnecting"
    # 0.1 + 0.2 + 0.4 + 0.8 + 1.6 s, then every MAX_BACKOFF_S: at most 6 attempts in 4 s (not 16)
    assert 4 <= feed.attempts <= 6 and MAX_BACKOFF_S == 2.0
    feed.close()


# --------------------------------------------------------------------------- a read replica
def test_reads_go_to_the_replica_and_your_own_writes_show_at_once(pair):
    def counters() -> tuple[dict, dict]:
        # A backend reports its statistics when it ends (or idles for a second), and it ends a moment after
        # its client closed the connection: first every other session on both servers has gone.
        import psycopg

        for port in (pair.primary_port, pair.standby_port):
            deadline = time.monotonic() + 60
            with psycopg.connect(pair.url(port, "postgres"), autocommit=True) as conn:  # not on "mosaic": not counted
                while conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = 'mosaic' "
                                   "AND backend_type = 'client backend'").fetchone()[0]:
                    assert time.monotonic() < deadline, "a session of the test's is still open"
                    time.sleep(0.05)
        return pair.counters(pair.primary_port), pair.counters(pair.standby_port)

    warm = Backlog.open(pair.primary_url, read_url=pair.standby_url)
    warm.list()  # the schema checked on both
    warm.close()
    primary0, replica0 = counters()
    b = Backlog.open(pair.primary_url, read_url=pair.standby_url)
    for _ in range(20):
        b.list()
    assert b.db.replicas.reads == {"replica": 20, "primary": 0}
    b.close()
    primary1, replica1 = counters()
    # the servers' own statistics: the replica scanned the backlog for each read, the primary did not
    assert replica1["scans"] - replica0["scans"] >= 20 and replica1["xact_commit"] - replica0["xact_commit"] >= 20
    assert primary1["scans"] - primary0["scans"] <= 2
    b = Backlog.open(pair.primary_url, read_url=pair.standby_url)
    try:
        for i in range(5):  # read your own writes: each new card is there at once
            b.create(f"ryw{i}", "mine")
            assert b.get(f"ryw{i}").title == "mine"
        lag = b.db.replicas.lag()
        assert lag is not None and 0 <= lag < 30
    finally:
        b.close()


def test_the_read_verbs_take_read_url_and_the_environment(pair):
    r = mt("list", "--json", "--db", pair.primary_url, "--read-url", pair.standby_url)
    assert r.returncode == 0, r.stderr
    import os

    env = {**os.environ, "MOSAIC_READ_URL": "sqlite:///nope.db"}
    r = mt("list", "--json", "--db", pair.primary_url, env=env)
    assert r.returncode == 2 and "MOSAIC_READ_URL must be a postgresql:// URL" in r.stderr


# --------------------------------------------------------------------------- failover
def _agent(url: str, name: str, done: list[str], errors: list[str], stop: threading.Event) -> None:
    """An agent's loop of one-shot processes; --wait rides the failover in one call."""
    while not stop.is_set():
        r = mt("claim", "--owner", name, "--json", "--ttl", "120", "--wait", "30", "--db", url, timeout=90)
        if r.returncode != 0:
            errors.append(r.stderr.strip())
            time.sleep(0.2)
            continue
        card = json.loads(r.stdout)
        if card is None:
            return
        while True:
            r = mt("complete", card["id"], "--owner", name, "--json", "--wait", "30", "--db", url, timeout=90)
            if r.returncode == 0:
                done.append(card["id"])
                break
            errors.append(r.stderr.strip())
            if r.returncode == 4:  # its commit was sent before the connection was lost: done already
                done.append(card["id"])
                break
            time.sleep(0.2)


def test_a_drain_across_a_promotion_loses_nothing_and_doubles_nothing(tmp_path):
    """Three CLI agents and an MCP agent drain 40 cards through the multi-host URL; midway the primary
    stops as a crash would and the standby is promoted; `events --follow` watches throughout."""
    _need_binaries()
    import anyio
    from test_mcp import call, connect

    with standby.pair(synchronous=True) as p:
        url = p.multi_url
        b = Backlog.open(url)
        for i in range(40):
            b.create(f"f{i:02d}", f"card {i}")
        b.close()
        follow_err = tmp_path / "follow.err"
        follow = subprocess.Popen([MT, "events", "--follow", "--json", "--since", "0", "--db", url],
                                  stdout=subprocess.PIPE, stderr=follow_err.open("w"), text=True)
        printed: list[int] = []
        reader = threading.Thread(target=lambda: printed.extend(json.loads(line)["id"] for line in follow.stdout),
                                  daemon=True)
        reader.start()
        deadline = time.monotonic() + 60
        while not printed and time.monotonic() < deadline:  # follow is up (it would not notice a failover before)
            time.sleep(0.05)
        done: dict[str, list[str]] = {f"a{i}": [] for i in range(3)}
        errors: dict[str, list[str]] = {k: [] for k in done}
        stop = threading.Event()
        threads = [threading.Thread(target=_agent, args=(url, k, done[k], errors[k], stop)) for k in done]
        mcp_done: list[str] = []
        mcp_errors: list[str] = []

        def mcp_agent():
            async def main():
                async with connect(url, tmp_path, owner="m") as s:
                    while True:
                        try:
                            card = (await call(s, "claim", ttl=120))["card"]
                        except AssertionError:  # unavailable during the failover: the server reconnects
                            mcp_errors.append("claim")
                            await anyio.sleep(0.3)
                            continue
                        if card is None:
                            return
                        cid = card["id"]
                        while True:
                            try:
                                await call(s, "complete", id=cid)
                                break
                            except AssertionError as exc:
                                mcp_errors.append("complete")
                                if "conflict" in str(exc):  # its commit was sent before the connection was lost
                                    break
                                await anyio.sleep(0.3)
                        mcp_done.append(cid)
            anyio.run(main)

        mcp_thread = threading.Thread(target=mcp_agent)
        for t in [*threads, mcp_thread]:
            t.start()
        deadline = time.monotonic() + 60
        while sum(map(len, done.values())) + len(mcp_done) < 12 and time.monotonic() < deadline:
            time.sleep(0.05)
        p.stop_primary()
        time.sleep(0.5)
        p.promote()
        for t in [*threads, mcp_thread]:
            t.join(180)
        stop.set()
        after = Backlog.open(url)
        try:
            cards = after.list()
            events = after.events()
        finally:
            after.close()
        completed = [cid for lst in [*done.values(), mcp_done] for cid in lst]
        assert sorted(completed) == sorted(c.id for c in cards), (completed, errors)  # 0 lost, 0 doubled
        assert all(c.status == "done" for c in cards)
        assert sum(map(len, done.values())) > 0 and len(mcp_done) > 0
        # follow printed every event exactly once, across the failover
        want = {e.id for e in events}
        deadline = time.monotonic() + 60
        while set(printed) < want and time.monotonic() < deadline:
            time.sleep(0.1)
        follow.terminate()
        follow.wait(timeout=10)
        err = follow_err.read_text()
        assert follow.returncode != 5, err
        missing = sorted(want - set(printed))
        assert len(printed) == len(set(printed)) and not missing, (missing[:5], len(missing), err[-3000:])
        assert "reconnect" in err


def test_the_board_says_reconnecting_then_caught_up_across_a_promotion():
    """A board on the multi-host URL: the primary stops, the standby is promoted; the badge says
    reconnecting, then live again, and a card created on the new primary appears without a key."""
    _need_binaries()
    import asyncio

    from mosaic_tui.board import make_app

    async def until(pilot, predicate, timeout: float = 60.0) -> None:
        start = time.monotonic()
        while not predicate():
            assert time.monotonic() - start < timeout, "the board did not get there"
            await pilot.pause(0.05)

    with standby.pair() as p:
        b = Backlog.open(p.multi_url)
        b.create("before", "made on the first primary")
        b.close()
        p.wait_replayed()
        backlog = Backlog.open(p.multi_url)
        app = make_app(backlog)
        notices: list[str] = []
        seen: list[str] = []

        async def run():
            async with app.run_test(size=(160, 45)) as pilot:
                app.notify = lambda message, **kw: notices.append(str(message))  # what the person is told
                await until(pilot, lambda: app.columns["ready"].find("before") is not None)
                await until(pilot, lambda: app.feed_status == "live")
                p.stop_primary()
                await until(pilot, lambda: "reconnecting" in str(app.topbar.render()) and seen.append("reconnecting")
                            is None)
                p.promote()
                w = Backlog.open(p.multi_url, wait=30)
                w.create("after", "made on the promoted standby")
                w.close()
                await until(pilot, lambda: app.columns["ready"].find("after") is not None)
                await until(pilot, lambda: app.feed_status == "live")

        try:
            asyncio.run(run())
        finally:
            backlog.close()
        assert seen == ["reconnecting"]
        assert any("caught up" in n for n in notices), notices


# --------------------------------------------------------------------------- the primary down, a replica up
def test_with_the_primary_down_the_feed_polls_the_replica_and_listens_again_when_it_returns():
    """--read-url given, the primary stopped: what the replica replayed reaches the reader through the
    feed (not the board's 2 s backstop), the primary is tried at most once per backoff interval, reads
    answer from the replica; the primary back, the feed LISTENs there again."""
    _need_binaries()
    from mosaic_tui.db.feed import MAX_BACKOFF_S

    with standby.pair() as p:
        b = Backlog.open(p.primary_url, read_url=p.standby_url)
        b.create("before", "made on the primary")
        cursor = b.cursor()
        feed = b.feed()
        try:
            assert feed.status == "live"
            b.create("replayed", "committed on the primary, replayed on the standby, then the primary stops")
            deadline = time.monotonic() + 60
            while not feed.wait(0.25):  # its NOTIFY, while the primary is up
                assert time.monotonic() < deadline
            p.wait_replayed()
            p.stop_primary()
            attempts0, start = feed.attempts, time.monotonic()
            woke = False
            while not woke:  # (the reader has no backstop here: only the feed can say "look")
                assert time.monotonic() - start < 60, feed.label
                woke = feed.wait(0.25)
            assert woke and feed.status == "polling" and feed.label == "polling the replica (every 1s)"
            assert [e.card_id for e in cursor.fetch()][-1] == "replayed"  # read from the replica
            assert b.db.replicas.reads["replica"] >= 1
            assert b.get("before").title == "made on the primary"
            while time.monotonic() - start < 6.0:
                feed.wait(0.25)
                assert feed.status == "polling"
            # after 0.1, 0.2, 0.4, 0.8, 1.6 s, then every MAX_BACKOFF_S: at most 7 attempts in 6 s (never a storm);
            # where a loaded machine took longer to get here, one more per MAX_BACKOFF_S (tries at 0.1, 0.3, 0.7,
            # 1.5, 3.1, 5.1, 7.1, ... s: 7 in 6 s with one to spare, 8 by 7.1 s, ...)
            most = 6 + math.floor((time.monotonic() - start - 3.1) / MAX_BACKOFF_S)
            assert 3 <= feed.attempts - attempts0 <= most and MAX_BACKOFF_S == 2.0
            p.start_primary()
            deadline = time.monotonic() + 60
            while feed.status != "live":
                assert time.monotonic() < deadline, feed.label
                feed.wait(0.25)
            assert feed.label == "live" and feed._rconn is None
            w = Backlog.open(p.primary_url)
            w.create("after", "the primary is back")
            w.close()
            deadline, seen = time.monotonic() + 60, False
            while not seen:
                assert time.monotonic() < deadline
                seen = feed.wait(0.25)  # a NOTIFY again
        finally:
            feed.close()
            b.close()


def test_a_board_whose_feed_falls_back_to_the_replica_says_so_with_the_lag_not_caught_up():
    """A board with --read-url: the primary stops, the feed polls the replica; the board says "polling the
    replica (lag N ms)" -- not "caught up", which the replica may not be -- and a card the replica has
    replayed still shows. The primary back, the feed LISTENs there and the board says "caught up"."""
    _need_binaries()
    import asyncio

    from mosaic_tui.board import make_app

    async def until(pilot, predicate, what: str, timeout: float = 60.0) -> None:
        start = time.monotonic()
        while not predicate():
            assert time.monotonic() - start < timeout, f"never: {what}"
            await pilot.pause(0.05)

    with standby.pair() as p:
        backlog = Backlog.open(p.primary_url, read_url=p.standby_url)
        backlog.create("before", "made on the primary")
        p.wait_replayed()
        app = make_app(backlog)
        notices: list[str] = []

        async def run():
            async with app.run_test(size=(160, 45)) as pilot:
                app.notify = lambda message, **kw: notices.append(str(message))
                await until(pilot, lambda: app.columns["ready"].find("before") is not None, "the first card")
                await until(pilot, lambda: app.feed_status == "live", "the feed live")
                p.stop_primary()
                await until(pilot, lambda: app.feed_status == "replica", "the feed on the replica")
                await until(pilot, lambda: any("polling the replica" in n for n in notices), "the replica's notice")
                assert "polling the replica (every 1s)" in str(app.topbar.render())
                said = [n for n in notices if "replica" in n]
                assert len(said) == 1 and re.search(r"polling the replica \(lag [\d,]+ ms\)", said[0]), said
                assert not any("caught up" in n for n in notices), notices
                assert app.columns["ready"].find("before") is not None  # the board reads on, from the replica
                p.start_primary()
                await until(pilot, lambda: app.feed_status == "live", "the feed live on the primary again")
                await until(pilot, lambda: any("caught up" in n for n in notices), "caught up")
                w = Backlog.open(p.primary_url)
                w.create("after", "the primary is back")
                w.close()
                await until(pilot, lambda: app.columns["ready"].find("after") is not None, "a new card shown")

        try:
            asyncio.run(run())
        finally:
            backlog.close()


def test_after_a_promotion_the_first_write_on_a_warm_pool_succeeds():
    """A long-lived process (the board, serve's boards, mcp) whose pooled connections were made to the old
    primary: once the standby is promoted, its first write -- a full-path one and a claim -- just works."""
    _need_binaries()
    with standby.pair() as p:
        b = Backlog.open(p.multi_url)  # no --wait: nothing rides a failover; the pool must not hand out a dead one
        try:
            for i in range(3):
                b.create(f"w{i}", f"card {i}")
            assert b.claim("agent-a").id == "w0"
            assert len(b.list()) == 3
            p.wait_replayed()
            p.stop_primary()
            p.promote()
            p.wait_writable(p.standby_port)
            time.sleep(1.2)  # as a person would: not within the same second as the last use
            b.create("w9", "the first write after the promotion")
            assert b.claim("agent-a").id == "w1"
            assert b.complete("w1", "agent-a").status == "done"
        finally:
            b.close()
