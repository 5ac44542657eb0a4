"""The change feed: wake up as soon as any program commits a change to the backlog.

It only says *that* something changed; readers then read the events after the
last one they have seen (see ``mosaic_tui.repository.EventCursor``).

* Postgres: ``LISTEN mosaic_backlog`` on a dedicated autocommit connection
  (the triggers ``pg_notify`` the event id), to the listen URL when one is
  given (``MOSAIC_LISTEN_URL``: the server itself, or a pooler's session mode),
  else to the backlog's URL. Notifications cannot pass a transaction pooler,
  so on every (re)connect the feed checks that they arrive: another connection
  NOTIFYs a token to it, and when the token has not arrived within
  ``PROBE_TIMEOUT_S`` the feed says ``polling`` and reads the newest event id
  every ``PG_POLL_S`` seconds instead. A read-only standby cannot LISTEN
  ("cannot execute LISTEN during recovery"): there too the feed polls its
  event log. If the connection is lost (a restart, a failover) the feed
  reports ``lost`` (for people: ``reconnecting``), reconnects -- at most one
  attempt per backoff interval, 0.1 s doubling to ``MAX_BACKOFF_S``, never a
  storm -- LISTENs again on whichever server is now the primary and, once back,
  wakes its reader so that it catches up from the event log on what it missed.
  Given a read replica (``--read-url``), the feed polls the replica's event log
  meanwhile (``polling the replica``): with the primary down, what the replica
  has replayed still reaches the reader, and the primary is still tried at most
  once per backoff interval; when it answers again the feed LISTENs there.
* SQLite: ``PRAGMA data_version`` polled on a dedicated autocommit read
  connection; its value changes whenever another connection commits. The
  pragma opens no transaction, so the feed never makes a writer wait.

Both hold no lock and no open transaction between polls.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from typing import TYPE_CHECKING

from mosaic_tui.db.backoff import Backoff

if TYPE_CHECKING:
    from mosaic_tui.db.url import Target

CHANNEL = "mosaic_backlog"
PROBE_CHANNEL = "mosaic_backlog_probe"
SQLITE_POLL_S = 0.02
PG_POLL_S = 1.0  # Postgres without notifications: how often the newest event id is read
PROBE_TIMEOUT_S = 2.0  # how long a NOTIFY to the feed itself may take before it is taken as never arriving
MIN_BACKOFF_S = 0.1  # after a lost connection, the first attempt to reconnect...
MAX_BACKOFF_S = 2.0  # ...then doubling up to this: at most one connection attempt per interval


class ChangeFeed:
    """``wait(timeout)`` returns True when the backlog may have changed.

    ``status``: ``"live"`` (notified of each commit), ``"polling"`` (looking
    every ``interval`` seconds) or ``"lost"`` (no connection; retrying).
    ``label``: the same for people, e.g. ``polling (every 1s)``.

    ``busy``: the reader says changes come faster than it looks (it paces its
    looks itself); a feed may then stop signalling each change, and ``wait``
    returns True after a short pause instead.
    """

    status: str  # "live" | "polling" | "lost"
    interval: float | None = None  # seconds between looks while polling; None otherwise
    busy: bool = False
    where: str = ""  # " the replica" while the feed polls a read replica's event log instead

    @property
    def state(self) -> str:
        """``status`` as the reader reports it: ``"replica"`` while polling a read replica's event log (the
        primary does not answer; the replica may lag behind it), else ``status``."""
        return "replica" if self.status == "polling" and self.where else self.status

    @property
    def label(self) -> str:
        if self.status == "polling" and self.interval is not None:
            return f"polling{self.where} (every {self.interval:g}s)"
        if self.status == "lost":
            return "reconnecting"
        return self.status

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
        self.interval = poll
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
    """LISTEN on a dedicated autocommit connection, or poll where notifications do not arrive.

    While the reader is ``busy``, the feed UNLISTENs: every notifying commit
    would otherwise signal this connection's server process, a cost the fleet
    pays for each claim, and the reader looks at its own pace anyway. ``wait``
    then pauses ``BUSY_POLL_S`` and says "look". When the reader is no longer
    busy the feed LISTENs again and says "look" once, for what came between.

    On each (re)connect a token is NOTIFYd from a second, short-lived
    connection; when it does not arrive within ``probe_timeout`` (a transaction
    pooler sits between: the LISTEN stayed on a server connection that is no
    longer ours) the feed polls: ``status`` "polling", ``interval`` ``poll``.
    """

    BUSY_POLL_S = 0.05

    def __init__(self, target: Target, *, replica: Target | None = None, poll: float = PG_POLL_S,
                 probe_timeout: float = PROBE_TIMEOUT_S):
        self.target = target
        self.replica = replica  # a read replica whose event log is polled while the primary does not answer
        self._rconn = None  # the connection to it, only while the primary does not answer
        self._rmissed = False
        self.poll = poll
        self.probe_timeout = probe_timeout
        self.status = "lost"
        self._conn = None
        self._listening = False
        self._polling = False
        self._newest = 0  # while polling: the newest event id seen
        self._next_poll = 0.0
        self._checked = 0.0  # when the connection was last seen alive while busy (monotonic)
        self._backoff = Backoff(MIN_BACKOFF_S, MAX_BACKOFF_S)
        self._retry_at = 0.0  # no connection attempt before this (monotonic)
        self.attempts = 0  # connection attempts made (the tests count them)
        self.standby = False  # the server is a read-only standby: it cannot LISTEN; the feed polls its event log
        self._missed = False
        self._connect()

    def _open(self, target: Target | None = None):
        from mosaic_tui.db.connections import pg_connect

        return pg_connect(target or self.target, autocommit=True, connect_timeout=3, prepare_threshold=None,
                          application_name="mosaic-tui feed")

    def _connect(self) -> bool:
        import psycopg

        self.attempts += 1
        self.standby = False  # (again at each connect: a standby promoted since may LISTEN now)
        try:
            self._conn = self._open()
            try:
                self._conn.execute(f"LISTEN {CHANNEL}")
            except psycopg.errors.ReadOnlySqlTransaction:  # a standby: no LISTEN (nor NOTIFY) during recovery
                self.standby = True
            self._listening = not self.standby
            if not self.standby and self._probe():
                self._polling, self.status, self.interval = False, "live", None
            else:
                if self._listening:
                    self._conn.execute(f"UNLISTEN {CHANNEL}")  # best effort: under a pooler it may land elsewhere
                self._listening = False
                self._polling, self.status, self.interval = True, "polling", self.poll
                self._newest = self._newest_event(self._conn)
                self._next_poll = time.monotonic() + self.poll
            self._backoff.reset()
            self._close_replica()
            return True
        except psycopg.Error:
            self._drop()
            self._use_replica()
            self._retry_at = time.monotonic() + self._backoff.pause()
            return False

    def _probe(self) -> bool:
        """Does a NOTIFY from another connection reach this one? (Not through a transaction pooler.)"""
        token = uuid.uuid4().hex
        self._conn.execute(f"LISTEN {PROBE_CHANNEL}")
        with self._open() as sender:
            sender.execute("SELECT pg_notify(%s, %s)", (PROBE_CHANNEL, token))
        arrived = False
        deadline = time.monotonic() + self.probe_timeout
        while not arrived and (left := deadline - time.monotonic()) > 0:
            for note in self._conn.notifies(timeout=left):
                if note.channel == PROBE_CHANNEL and note.payload == token:
                    arrived = True
                    break
        self._conn.execute(f"UNLISTEN {PROBE_CHANNEL}")
        return arrived

    @staticmethod
    def _newest_event(conn) -> int:
        import psycopg

        try:
            return conn.execute("SELECT coalesce(max(id), 0) FROM backlog_events").fetchone()[0]
        except psycopg.errors.UndefinedTable:  # not migrated yet
            return 0

    def _use_replica(self) -> None:
        """The primary did not answer: poll the replica's event log meanwhile (one try per primary attempt)."""
        import psycopg

        if self.replica is None or self._rconn is not None:
            return
        try:
            self._rconn = self._open(self.replica)
            newest = self._newest_event(self._rconn)
        except psycopg.Error:
            self._close_replica()
            return
        self.status, self.interval, self.where = "polling", self.poll, " the replica"
        self._rmissed = True  # look once: the reader may be behind what the replica has replayed
        self._newest, self._next_poll = newest, time.monotonic()

    def _close_replica(self) -> None:
        self._rconn = _quietly_close(self._rconn)
        self.where = ""

    def _listen(self, on: bool) -> None:
        self._conn.execute(f"LISTEN {CHANNEL}" if on else f"UNLISTEN {CHANNEL}")
        self._listening = on
        if not on:
            for _ in self._conn.notifies(timeout=0):  # what was queued before the UNLISTEN
                pass

    def _drop(self) -> None:
        self._conn = _quietly_close(self._conn)
        if self._rconn is None:
            self.status, self.interval = "lost", None
        self._missed = True

    def _poll(self, timeout: float, conn) -> bool:
        """Polling: at most one read of the newest event id per interval; True when it moved."""
        left = self._next_poll - time.monotonic()
        if left > 0:
            time.sleep(min(left, timeout))
            if self._next_poll - time.monotonic() > 0:
                return False
        self._next_poll = time.monotonic() + self.poll
        newest = self._newest_event(conn)
        for _ in conn.notifies(timeout=0):  # strays from a pooled server connection that LISTENs: drop them
            pass
        changed, self._newest = newest != self._newest, newest
        return changed

    def wait(self, timeout: float) -> bool:
        import psycopg

        if self._conn is None:
            left = self._retry_at - time.monotonic()
            if left <= 0 and self._connect():
                if self._missed:  # back after an outage: catch up now
                    self._missed = False
                    return True
            elif self._rconn is not None:  # meanwhile the replica's event log, until the next attempt
                return self._replica_wait(min(max(self._retry_at - time.monotonic(), 0.0), timeout))
            else:  # one attempt per backoff interval, however often the reader waits
                time.sleep(min(max(self._retry_at - time.monotonic(), 0.0), timeout))
                return False
        try:
            if self._polling:
                return self._poll(timeout, self._conn)
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
            self._drop()
            self._retry_at = time.monotonic() + self._backoff.pause()  # the first attempt again after a short pause
            return False

    def _replica_wait(self, timeout: float) -> bool:
        import psycopg

        if self._rmissed:  # what the replica has replayed since the primary was lost: look once
            self._rmissed = False
            return True
        try:
            return self._poll(timeout, self._rconn)
        except psycopg.Error:  # the replica is gone too
            self._close_replica()
            self.status, self.interval = "lost", None
            return False

    def close(self) -> None:
        self._close_replica()
        self._conn = _quietly_close(self._conn)


def _quietly_close(conn) -> None:
    """Close ``conn`` if there is one, whatever state it is in; None, for the caller's attribute."""
    if conn is not None:
        try:
            conn.close()
        except Exception:  # noqa: BLE001
            pass


def open_feed(target: Target, listen: Target | None = None, replica: Target | None = None) -> ChangeFeed:
    """A feed on the backlog at ``target``; on Postgres it listens at ``listen`` when given, and polls
    the ``replica``'s event log while it cannot."""
    if target.backend == "sqlite":
        return SQLiteFeed(str(target.path))
    return PostgresFeed(listen or target, replica=replica)
