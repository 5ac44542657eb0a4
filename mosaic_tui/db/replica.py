"""A read replica (``--read-url`` / ``MOSAIC_READ_URL``): which server a read goes to, and how far behind it is.

Every write and every claim goes to the backlog's URL (the primary). A read
goes to the replica, except when this process has written something the
replica has not replayed yet (read your own writes): after each write the
primary's WAL position (``pg_current_wal_lsn()``) is remembered, and reads go
to the primary until the replica's ``pg_last_wal_replay_lsn()`` has passed
it (one extra query per read while a write is pending; none otherwise). When
the server a read would go to is unreachable, the other one answers: with the
primary down, reads still answer from the replica (perhaps a little behind).

The lag people see (:meth:`Replicas.lag`) is 0 when the replica has replayed
all it received, else the age of the last transaction it replayed.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import text

from mosaic_tui.errors import Unavailable

Database = Any  # mosaic_tui.db.engine.Database (which imports this module: no import back)

LAG_SQL = text(
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0"
    " WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0"
    " ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) END"
)


LAG_EVERY_S = 2.0


class Replicas:
    """Routes the reads of ``primary`` to ``replica`` (both :class:`~mosaic_tui.db.engine.Database`)."""

    def __init__(self, primary: Database, replica: Database) -> None:
        self.primary = primary
        self.replica = replica
        self._lock = threading.Lock()
        self._pending: str | None = None  # the primary's WAL position after our last write, until replayed
        self.reads = {"replica": 0, "primary": 0}  # where reads went (for the board's status and the tests)
        self.last_lag: float | None = None  # the lag measured at most every LAG_EVERY_S, along with the reads
        self._lag_at = 0.0

    def wrote(self) -> None:
        """After a write committed on the primary: remember where its WAL is."""
        try:
            with self.primary.engine.connect() as conn:
                lsn = conn.execute(text("SELECT pg_current_wal_lsn()::text")).scalar()
                conn.rollback()
        except Exception:  # noqa: BLE001 - the write is done; a lost position only means reading the primary
            lsn = "FFFFFFFF/FFFFFFFF"
        with self._lock:
            self._pending = lsn

    def _replayed(self, lsn: str) -> bool:
        with self.replica.engine.connect() as conn:
            done = conn.execute(text("SELECT coalesce(pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn), true)"),
                                {"lsn": lsn}).scalar()
            conn.rollback()
        return bool(done)

    def _choose(self) -> Database:
        with self._lock:
            pending = self._pending
        if pending is None:
            return self.replica
        try:
            if self._replayed(pending):
                with self._lock:
                    if self._pending == pending:
                        self._pending = None
                return self.replica
        except Exception:  # noqa: BLE001 - the replica does not answer: the primary will
            pass
        return self.primary

    def read(self, call) -> Any:
        """``call(db)`` on the replica (or the primary, see the module); the other one when it is unreachable.
        Every ``LAG_EVERY_S`` a read also measures the lag (:attr:`last_lag`, what the board shows)."""
        if time.monotonic() - self._lag_at >= LAG_EVERY_S:
            self._lag_at = time.monotonic()
            self.last_lag = self.lag()
        first = self._choose()
        other = self.primary if first is self.replica else self.replica
        try:
            result = call(first)
            where = first
        except Unavailable:
            result = call(other)
            where = other
        self.reads["replica" if where is self.replica else "primary"] += 1
        return result

    def lag(self) -> float | None:
        """Seconds the replica is behind (0: replayed all it received); None when it does not answer."""
        try:
            with self.replica.engine.connect() as conn:
                value = conn.execute(LAG_SQL).scalar()
                conn.rollback()
        except Exception:  # noqa: BLE001
            return None
        return None if value is None else max(0.0, float(value))
