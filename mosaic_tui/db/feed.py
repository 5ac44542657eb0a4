"""The change feed: wake up as soon as any program commits a change to the backlog.

It only says *that* something changed; readers then read the events after the
last one they have seen (see ``mosaic_tui.repository.EventCursor``).

* Postgres: ``LISTEN mosaic_backlog`` on a dedicated autocommit connection
  (the triggers ``pg_notify`` the event id). If the connection is lost the feed
  reports ``lost``, reconnects with backoff and, once back, wakes its reader so
  that it catches up on what it missed.
* SQLite: ``PRAGMA data_version`` polled on a dedicated autocommit read
  connection; its value changes whenever another connection commits. The
  pragma opens no transaction, so the feed never makes a writer wait.

Both hold no lock and no open transaction between polls.
"""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mosaic_tui.db.url import Target

CHANNEL = "mosaic_backlog"
SQLITE_POLL_S = 0.02


class ChangeFeed:
    """``wait(timeout)`` returns True when the backlog may have changed.

    ``busy``: the reader says changes come faster than it looks (it paces its
    looks itself); a feed may then stop signalling each change, and ``wait``
    returns True after a short pause instead.
    """

    status: str  # "live" | "polling" | "lost"
    busy: bool = False

    def wait(self, timeout: float) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - interface
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SQLiteFeed(ChangeFeed):
    def __init__(self, path: str, poll: float = SQLITE_POLL_S):
        self.path = path
        self.poll = poll
        self.status = "polling"
        self._conn: sqlite3.Connection | None = None
        self._version: int | None = None
        self._version = self._read()

    def _read(self) -> int | None:
        try:
            if self._conn is None:
                self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=1)
            value = self._conn.execute("PRAGMA data_version").fetchone()[0]
            self.status = "polling"
            return value
        except sqlite3.Error:
            self.status = "lost"
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            return None

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            version = self._read()
            if version is not None and version != self._version:
                self._version = version
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(self.poll, remaining))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class PostgresFeed(ChangeFeed):
    """LISTEN on a dedicated autocommit connection.

    While the reader is ``busy``, the feed UNLISTENs: every notifying commit
    would otherwise signal this connection's server process, a cost the fleet
    pays for each claim, and the reader looks at its own pace anyway. ``wait``
    then pauses ``BUSY_POLL_S`` and says "look". When the reader is no longer
    busy the feed LISTENs again and says "look" once, for what came between.
    """

    BUSY_POLL_S = 0.05

    def __init__(self, conninfo: str):
        self.conninfo = conninfo
        self.status = "lost"
        self._conn = None
        self._listening = False
        self._checked = 0.0  # when the connection was last seen alive while busy (monotonic)
        self._backoff = 0.1
        self._missed = False
        self._connect()

    def _connect(self) -> bool:
        import psycopg

        try:
            self._conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=3)
            self._conn.execute(f"LISTEN {CHANNEL}")
            self._listening = True
            self.status = "live"
            self._backoff = 0.1
            return True
        except psycopg.Error:
            self._conn = None
            self.status = "lost"
            return False

    def _listen(self, on: bool) -> None:
        self._conn.execute(f"LISTEN {CHANNEL}" if on else f"UNLISTEN {CHANNEL}")
        self._listening = on
        if not on:
            for _ in self._conn.notifies(timeout=0):  # what was queued before the UNLISTEN
                pass

    def wait(self, timeout: float) -> bool:
        import psycopg

        if self._conn is None:
            if not self._connect():
                time.sleep(min(self._backoff, timeout))
                self._backoff = min(self._backoff * 2, 2.0)
                self._missed = True
                return False
            if self._missed:  # back after an outage: catch up now
                self._missed = False
                return True
        try:
            if self.busy != (not self._listening):
                self._listen(not self.busy)
                if not self.busy:
                    return True  # listening again: look once for what came while not listening
            if self.busy:
                time.sleep(min(self.BUSY_POLL_S, timeout))
                if time.monotonic() - self._checked >= 1.0:  # still there? (a lost server shows as lost)
                    self._conn.execute("SELECT 1")
                    self._checked = time.monotonic()
                return True
            got = False
            for _ in self._conn.notifies(timeout=timeout, stop_after=1):
                got = True
            if got:  # drain whatever else is already queued, without waiting
                for _ in self._conn.notifies(timeout=0):
                    pass
            return got
        except psycopg.Error:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001
                pass
            self._conn = None
            self.status = "lost"
            self._missed = True
            return False

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001
                pass
            self._conn = None


def open_feed(target: Target) -> ChangeFeed:
    if target.backend == "sqlite":
        return SQLiteFeed(str(target.path))
    url = target.url.set(drivername="postgresql")
    return PostgresFeed(url.render_as_string(hide_password=False))
