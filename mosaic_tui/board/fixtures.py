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
