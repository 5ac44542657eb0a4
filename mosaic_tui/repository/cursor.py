"""The event cursor: the events after the last one seen, none missing, none twice (the board's
and ``events --follow``'s read)."""

from __future__ import annotations

import time

from sqlalchemy import select

from mosaic_tui.db.models import EventRecord
from mosaic_tui.repository.rows import event_from_row
from mosaic_tui.repository.tables import EV, EVENTS_AFTER


class EventCursor:
    """Reads the events after the last one seen, none missing, none twice.

    On Postgres, event ids come from a sequence and transactions commit in any
    order, so an id may become visible after a higher one. The cursor remembers
    the ids it skipped (gaps) and asks for them again until they appear or
    ``gap_ttl`` seconds have passed (a rolled-back transaction leaves a gap
    that never fills). On SQLite ids are assigned under the write lock and
    gaps do not occur.

    ``backlog`` is the :class:`~mosaic_tui.repository.Backlog` it reads (not
    imported here: the Backlog makes cursors).
    """

    def __init__(self, backlog, after: int | None = None, *, gap_ttl: float = 30.0):
        self.backlog = backlog
        self.last = backlog.last_event_id() if after is None else after
        self.gap_ttl = gap_ttl
        self._gaps: dict[int, float] = {}

    def fetch(self, *, card: str | None = None, limit: int = 5000) -> list[EventRecord]:
        now = time.monotonic()
        self._gaps = {g: t for g, t in self._gaps.items() if now - t < self.gap_ttl}
        gaps = list(self._gaps)
        db = self.backlog.db

        def tx(conn):
            rows = EVENTS_AFTER.all(conn, after=self.last, limit=limit)
            if gaps:  # few and short-lived: an IN list, through SQLAlchemy
                rows += conn.execute(select(EV).where(EV.c.id.in_(gaps))).all()
                rows.sort(key=lambda r: r[0])
                rows = rows[:limit]
            return rows

        rows = db.run(tx, write=False, driver=not gaps)  # the gaps' IN list needs a SQLAlchemy Connection
        events = [event_from_row(r) for r in rows]
        for ev in events:
            if ev.id in self._gaps:
                del self._gaps[ev.id]
            elif ev.id > self.last:
                for missing in range(self.last + 1, ev.id):
                    self._gaps[missing] = now
                self.last = ev.id
        if card is not None:
            events = [ev for ev in events if ev.card_id == card]
        return events
