"""The completions' side table and SQLite's half-hour moves (migration 0004) against the events, both backends.

The figures must be the ones the events give: each test builds a history (the
repository's verbs, the fleet's plain SQL, events stamped over a week, phase
changes, deleted cards and events), then compares ``flow()`` with a
reference computed from the events themselves -- the completions' cycle and
lead time worked out per event in SQL, ranked by a plain sort in Python -- and,
on SQLite, the moves read from the half-hour counts with the moves read from
the events.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import case, null, select

from conftest import new_pg_database, run_sql
from mosaic_tui.repository.watch import flow as flow_module
from mosaic_tui.db.models import Card, Event
from mosaic_tui.db.timing import MillisBetween
from mosaic_tui.repository.watch.flow import WINDOWS, Spread, flow
from mosaic_tui.repository import Backlog

B, EV = Card.__table__, Event.__table__
NOW = datetime(2026, 3, 9, 12, 0, 30, tzinfo=UTC)
AGENTS = ["ag1", "ag2", "ag3", ""]  # '' is no one, as the figures read it


def _nearest(values: list[int]) -> Spread:
    if not values:
        return Spread()
    v, n = sorted(values), len(values)
    return Spread(n, v[-(-n * 50 // 100) - 1] / 1000.0, v[-(-n * 90 // 100) - 1] / 1000.0)


def reference(b: Backlog, start: datetime) -> dict:
    """Cycle and lead time spreads from the events, each completion's durations computed by the database
    as the figures did before migration 0004 (the claim it ended: the card's latest claim before it)."""
    c = EV.alias("c")
    claim_at = (select(c.c.at).where(c.c.card_id == EV.c.card_id, c.c.kind == "claimed", c.c.id < EV.c.id)
                .order_by(c.c.id.desc()).limit(1).scalar_subquery())
    q = (select(EV.c.owner, B.c.phase,
                case((EV.c.old_status == "claimed", MillisBetween(EV.c.at, claim_at)), else_=null()),
                MillisBetween(EV.c.at, B.c.created_at))
         .select_from(EV.outerjoin(B, B.c.id == EV.c.card_id))
         .where(EV.c.kind == "completed", EV.c.at >= start))
    rows = b.db.run(lambda conn: conn.execute(q).all(), write=False)
    pools: dict[tuple, tuple[list, list]] = defaultdict(lambda: ([], []))
    done: dict = defaultdict(int)
    for owner, phase, cycle, lead in rows:
        phase, owner = phase or None, owner or None
        done[phase] += 1
        for key in [("all", None), ("phase", phase)] + ([("agent", owner)] if owner else []):
            if cycle is not None:
                pools[key][0].append(int(cycle))
            if lead is not None:
                pools[key][1].append(int(lead))
    spreads = {k: (_nearest(cy), _nearest(le)) for k, (cy, le) in pools.items()}
    return {"spreads": spreads, "done": dict(done), "completions": len(rows)}


def assert_same_as_events(b: Backlog, now: datetime, monkeypatch) -> int:
    """flow() for every window equals the reference; on SQLite also flow() with the moves read from the
    events. Returns the week's completions (so a test can tell it tested something)."""
    week = 0
    for key, win in WINDOWS.items():
        f = flow(b, key, now=now)
        ref = reference(b, f.start)
        blank = (Spread(), Spread())
        assert (f.cycle, f.lead) == ref["spreads"].get(("all", None), blank), key
        assert {g.name: (g.completions, g.cycle, g.lead) for g in f.phases} == {
            p: (n, *ref["spreads"].get(("phase", p), blank)) for p, n in ref["done"].items()}, key
        for g in f.agents:
            assert (g.cycle, g.lead) == ref["spreads"].get(("agent", g.name), blank), (key, g.name)
        with monkeypatch.context() as m:
            m.setattr(flow_module, "SLOT_SECONDS", 7)  # no window is whole slots of 7 s: the events are read
            assert flow(b, key, now=now) == f, key
        week = ref["completions"]
    return week


def _at(b: Backlog, t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S.%f") if b.backend == "sqlite" else t.isoformat()


def stamped_history(b: Backlog, rng: random.Random, cards: int = 40) -> None:
    """Cards whose events are inserted with times spread over the last eight days (the tables' triggers
    see them as they would an import's), with rounds of claim -> complete -> reopen, releases, blocks and
    completions straight from ready."""
    status = ":s" if b.backend == "sqlite" else "CAST(:s AS backlog_status)"
    at = ":at" if b.backend == "sqlite" else "CAST(:at AS timestamptz)"
    for i in range(cards):
        cid = f"S{i:03d}"
        t = NOW - timedelta(days=8) + timedelta(seconds=rng.uniform(0, 7.5 * 86400))
        phase = rng.choice(["M1", "M2", "", None])
        run_sql(b, f"INSERT INTO backlog (id, title, phase, status, created_at) VALUES (:id, 't', :p, {status}, :at)",
                {"id": cid, "p": phase, "s": "ready", "at": _at(b, t)})
        run_sql(b, "DELETE FROM backlog_events WHERE card_id = :id", {"id": cid})  # the trigger's 'created', now
        events = [("created", None, "ready", None)]
        for _ in range(rng.randint(0, 4)):
            who = rng.choice(AGENTS)
            if rng.random() < 0.15:
                events.append(("completed", "ready", "done", None))
            else:
                events.append(("claimed", "ready", "claimed", who))
                if rng.random() < 0.2:
                    events.append(("heartbeat", "claimed", "claimed", who))
                if rng.random() < 0.2:
                    events.append(("released", "claimed", "ready", who))
                    who = rng.choice(AGENTS)
                    events.append(("claimed", "ready", "claimed", who))
                if rng.random() < 0.1:
                    events.append(("blocked", "claimed", "blocked", who))
                    events.append(("unblocked", "blocked", "ready", None))
                    continue
                events.append(("completed", "claimed", "done", who))
            events.append(("reopened", "done", "ready", None))
        for kind, old, new, owner in events:
            run_sql(b, f"INSERT INTO backlog_events (card_id, kind, old_status, new_status, owner, at) "
                       f"VALUES (:c, :k, :o, :n, :w, {at})",
                    {"c": cid, "k": kind, "o": old, "n": new, "w": owner, "at": _at(b, t)})
            t += timedelta(seconds=rng.uniform(1, 4 * 3600))


def live_history(b: Backlog, rng: random.Random) -> None:
    """The repository's verbs and the fleet's plain SQL, at the real clock."""
    for i in range(12):
        b.create(f"L{i:02d}", f"card {i}", phase=rng.choice(["M1", "M3", None]))
    for _ in range(3):
        for owner in ("ag1", "ag2"):
            card = b.claim(owner, ttl=600)
            if card is not None:
                b.complete(card.id, owner=owner)
    card = b.claim("ag3", ttl=600)
    b.release(card.id)
    # The fleet's service: a claim and a completion in plain SQL (no repository, no events written by hand).
    run_sql(b, "UPDATE backlog SET status = 'claimed', claim_owner = 'fleet-7', claimed_at = now() "
               "WHERE id = 'L11'" if b.backend == "postgresql" else
               "UPDATE backlog SET status = 'claimed', claim_owner = 'fleet-7', claimed_at = '2026-01-01 00:00:00.000' "
               "WHERE id = 'L11'")
    run_sql(b, "UPDATE backlog SET status = 'done', claim_owner = NULL, claimed_at = NULL WHERE id = 'L11'")


def test_the_figures_are_the_events_figures(db_url, monkeypatch):
    b = Backlog.open(db_url)
    b.db.ensure_schema()
    try:
        rng = random.Random(4)
        stamped_history(b, rng)
        live_history(b, rng)
        assert assert_same_as_events(b, NOW, monkeypatch) > 20
        real_now = datetime.now(UTC)
        assert assert_same_as_events(b, real_now, monkeypatch) >= 7  # the live completions, the fleet's among them
        fleet = run_sql(b, "SELECT owner, cycle_ms IS NOT NULL, lead_ms IS NOT NULL FROM backlog_flow_done "
                           "WHERE card_id = 'L11'")
        assert [tuple(r) for r in fleet] == [("fleet-7", True, True)]

        # The card's phase and creation time follow it; a deleted card's completions lose both; a reused id
        # gets the new card's; a deleted claim event moves the cycle to the claim before; a deleted completion goes.
        run_sql(b, "UPDATE backlog SET phase = 'M9' WHERE id IN ('S001', 'S002', 'L00', 'L01')")
        run_sql(b, "UPDATE backlog SET created_at = created_at - interval '1 hour' WHERE id = 'S003'"
                if b.backend == "postgresql" else
                "UPDATE backlog SET created_at = strftime('%Y-%m-%d %H:%M:%f', created_at, '-1 hour') WHERE id = 'S003'")
        run_sql(b, "DELETE FROM backlog WHERE id IN ('S004', 'S005', 'L02')")
        b.create("S005", "the id again", phase="M7")
        run_sql(b, "UPDATE backlog SET id = 'S006x' WHERE id = 'S006'")
        claims = run_sql(b, "SELECT id FROM backlog_events WHERE kind = 'claimed' ORDER BY id")
        done = run_sql(b, "SELECT id FROM backlog_events WHERE kind = 'completed' ORDER BY id")
        run_sql(b, "DELETE FROM backlog_events WHERE id IN (:a, :b, :c, :d)",
                {"a": claims[3][0], "b": claims[10][0], "c": done[5][0], "d": done[12][0]})
        assert assert_same_as_events(b, NOW, monkeypatch) > 20
        assert assert_same_as_events(b, real_now, monkeypatch) >= 7
        side = run_sql(b, "SELECT count(*) FROM backlog_flow_done")[0][0]
        assert side == run_sql(b, "SELECT count(*) FROM backlog_events WHERE kind = 'completed'")[0][0]
    finally:
        b.close()


@pytest.fixture(params=["sqlite", "pg"])
def empty_url(request, tmp_path):
    """A database with no schema at all (a fresh one on the Postgres server)."""
    if request.param == "sqlite":
        yield str(tmp_path / "old.db")
        return
    request.getfixturevalue("pg_server")
    with new_pg_database("mosaic_flowdone") as url:
        yield url


def test_the_migration_backfills_a_backlog_with_history(empty_url, monkeypatch):
    """A backlog at revision 0003 that already has completions gets them into the side table (and SQLite
    its half-hour counts), with the figures of the events; and the fleet's writes after it keep working."""
    from alembic import command
    from alembic.config import Config

    from mosaic_tui.db import schema
    from mosaic_tui.db.engine import open_database

    db = open_database(empty_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(schema.migrations_dir()))
    with db.engine.connect() as conn, conn.begin():
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
    db.dispose()
    old = Backlog.open(empty_url)  # without ensure_schema: the tables of 0003, written as the fleet would
    old.db._schema_checked = True
    stamped_history(old, random.Random(9), cards=30)
    assert run_sql(old, "SELECT count(*) FROM backlog_events WHERE kind = 'completed'")[0][0] > 15
    old.close()

    b = Backlog.open(empty_url)
    try:
        b.db.ensure_schema()
        assert run_sql(b, "SELECT version_num FROM mosaic_tui_alembic_version")[0][0] == "0004"
        assert assert_same_as_events(b, NOW, monkeypatch) > 15
        indexes = run_sql(b, "SELECT indexname FROM pg_indexes WHERE tablename = 'backlog_events'"
                          if b.backend == "postgresql" else
                          "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'backlog_events'")
        assert "backlog_events_done_idx" not in {r[0] for r in indexes}
        b.create("N1", "after the migration")
        assert b.claim("ag1", id="N1").id == "N1" and b.complete("N1", owner="ag1").status == "done"
        assert run_sql(b, "SELECT count(*) FROM backlog_flow_done WHERE card_id = 'N1'")[0][0] == 1
    finally:
        b.close()


def test_an_event_a_hair_before_a_half_hour_counts_in_the_half_hour_its_text_says(tmp_path):
    """SQLite parses times to the millisecond, rounding: '11:29:59.9997' read as 11:30:00 would put the move
    in the next half hour's count, while the windows, which compare the text, put it before."""
    b = Backlog.open(str(tmp_path / "b.db"))
    b.create("a", "A")
    run_sql(b, "INSERT INTO backlog_events (card_id, kind, old_status, new_status, owner, at) "
               "VALUES ('a', 'claimed', 'ready', 'claimed', 'x', '2026-12-07 11:29:59.999700')")
    slots = run_sql(b, "SELECT slot FROM backlog_flow_moves WHERE kind = 'claimed'")
    half_hour = int(datetime(2026, 12, 7, 11, 0, tzinfo=UTC).timestamp()) // 1800
    assert [s for (s,) in slots] == [half_hour]
    b.close()
