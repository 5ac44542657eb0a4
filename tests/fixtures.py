"""A small, fixed demo backlog (for the tests, the screenshots and trying the board by hand)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

FIXED_NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)


class FixedClock:
    """A clock that stands still unless moved (``advance``)."""

    def __init__(self, now: datetime = FIXED_NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def seed(backlog, clock: FixedClock | None = None) -> None:
    """Twelve cards over two phases: ready, waiting, claimed (one lease expired), blocked, done."""
    tick = clock.advance if clock is not None else (lambda s: None)
    c = backlog.create
    c("M1-01", "Schema and migrations", phase="M1", priority=5, body="# Schema\n\nThe `backlog` table, **as is**.")
    tick(60)
    c("M1-02", "Repository over SQLite and Postgres", phase="M1", priority=4, depends_on=["M1-01"],
      acceptance=["same code on both backends", "claims never collide"])
    tick(60)
    c("M1-03", "Agent CLI", phase="M1", priority=3, depends_on=["M1-02"])
    tick(60)
    c("M1-04", "Board columns", phase="M1", priority=3, depends_on=["M1-02"])
    tick(60)
    c("M1-05", "Graph pane", phase="M1", priority=2, depends_on=["M1-04"])
    tick(60)
    c("M1-06", "Stats footer", phase="M1", priority=1)
    tick(60)
    c("M1-07", "Docs", phase="M1", priority=0, depends_on=["M1-03", "M1-05"])
    tick(60)
    c("M2-01", "Live feed", phase="M2", priority=2)
    tick(60)
    c("M2-02", "Import from the fleet", phase="M2", priority=1)
    tick(60)
    c("M2-03", "Export", phase="M2", priority=0, depends_on=["M2-02"])
    tick(60)
    c("M2-04", "Flaky deploy script", phase="M2", priority=0)
    tick(60)
    c("M2-05", "Release notes", phase="M2", priority=-1)
    tick(60)
    backlog.complete("M1-01")
    backlog.claim("agent-7", ttl=3600, id="M1-02")
    backlog.claim("agent-9", ttl=1800, id="M1-06")
    backlog.claim("agent-3", ttl=600, id="M2-01")
    tick(900)  # agent-3's lease (600 s) has now ended: expired; agent-9 has 15 min left
    backlog.block("M2-04")
    backlog.complete("M2-05")


def pin_events(backlog, after: int, at: datetime) -> int:
    """Stamp the events after id ``after`` with ``at`` (the triggers use the wall clock); the last id."""
    from sqlalchemy import update

    from mosaic_tui.db.models import Event

    last = backlog.last_event_id()
    backlog.db.run(lambda conn: conn.execute(
        update(Event.__table__).where(Event.__table__.c.id > after, Event.__table__.c.id <= last).values(at=at)))
    return last


def seed_fleet(backlog, clock: FixedClock) -> None:
    """A fleet's last hours, at fixed times before ``clock``'s now (T), on a fresh backlog.

    agent-1 claimed A (T-50m), completed it (T-40m), claimed B (T-38m), completed it (T-23m), claims C
    (T-18m, heartbeat T-10m): 3 claims, 2 completions, median cycle 12m30s. agent-2 claimed E (T-2h),
    completed it (T-55m), holds D since T-20m with a 5-minute lease: STALE. agent-4 holds G since T-2h
    (a 4-hour lease) and has done nothing since. agent-3 finished F at T-2h30m: not listed. H was
    completed by nobody's claim (T-12m).
    """
    now = clock.now
    for cid, title in [("A", "Schema"), ("B", "Claims"), ("C", "Leases and heartbeats"), ("D", "Flaky deploy"),
                       ("E", "Export"), ("F", "Import"), ("G", "Long migration of the events table"), ("H", "Docs")]:
        backlog.create(cid, title, phase="F1")
    last = pin_events(backlog, 0, now - timedelta(hours=4))
    steps = [
        (180, lambda: backlog.claim("agent-3", ttl=3600, id="F")),
        (150, lambda: backlog.complete("F", owner="agent-3")),
        (120, lambda: backlog.claim("agent-2", ttl=7200, id="E")),
        (120, lambda: backlog.claim("agent-4", ttl=14400, id="G")),
        (55, lambda: backlog.complete("E", owner="agent-2")),
        (50, lambda: backlog.claim("agent-1", ttl=3600, id="A")),
        (40, lambda: backlog.complete("A", owner="agent-1")),
        (38, lambda: backlog.claim("agent-1", ttl=3600, id="B")),
        (23, lambda: backlog.complete("B", owner="agent-1")),
        (20, lambda: backlog.claim("agent-2", ttl=300, id="D")),
        (18, lambda: backlog.claim("agent-1", ttl=1800, id="C")),
        (12, lambda: backlog.complete("H")),
        (10, lambda: backlog.heartbeat("C", "agent-1", ttl=1800)),
    ]
    for minutes, step in steps:
        clock.now = now - timedelta(minutes=minutes)
        step()
        last = pin_events(backlog, last, clock.now)
    clock.now = now
