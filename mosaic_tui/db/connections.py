"""The database without SQLAlchemy: connections, one transaction, and what a failure means.

An agent runs one process per command, and importing SQLAlchemy and SQLModel
costs more than the whole claim. The agent's hot verbs therefore have a path
of their own (:func:`run`): the URL read here, a connection made straight
with the driver (``sqlite3`` or ``psycopg``), the schema version checked
inside the operation's own transaction, the statements of
:mod:`mosaic_tui.db.verbs_sql`, commit. What both paths share lives here, and
:mod:`mosaic_tui.db.engine` uses it too: the SQLite set-up (WAL, busy
timeout, ``BEGIN IMMEDIATE``), the Postgres connect arguments (no server-side
prepared statements unless ``MOSAIC_PG_DIRECT=1``) and the one way to connect
(:func:`pg_connect`), the bounded retry of a full server at connect time, the
one transaction wrapper (:func:`transaction`), the one retry loop
(:func:`retrying`, which also rides a failover for ``--wait`` seconds), and the translation of driver errors into the
errors a user sees (same classes, codes and messages on both paths; no
password in any of them).

Whatever this path cannot do exactly as the full one does -- a SQLite file that does not exist yet, a
schema that is missing or older (the migration runs on first use) -- raises
:class:`NeedsFullPath` before anything is written, and the caller takes the
full path. Imports only the standard library and, when connecting, the driver.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

from mosaic_tui.db import failures
from mosaic_tui.db.backoff import Backoff

from mosaic_tui.db import verbs_sql
from mosaic_tui.db.url import Target, scrub
from mosaic_tui.errors import Busy, DatabaseFailure, InvalidInput, ReadOnly, Unavailable

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_S = 60.0
# How long connecting retries a server that has no free connection slot ("too many clients").
DEFAULT_WAIT_S = 5.0
PG_CONNECT_TIMEOUT_S = 5
APPLICATION_NAME = "mosaic-tui"
# psycopg prepares a statement on the server after it ran this many times on a
# connection; behind a transaction pooler the next transaction may run on
# another server connection, where that statement does not exist (or another
# one has its name). None: never (docs/storage.md, "Behind a pooler"). With
# MOSAIC_PG_DIRECT=1 (the URL reaches the server itself, or a session-mode
# pooler) psycopg's own threshold applies: less server CPU per statement.
PG_PREPARE_THRESHOLD = None
PG_DIRECT_PREPARE_THRESHOLD = 5
_DIRECT_ENV = "MOSAIC_PG_DIRECT"
_PREPARED_HINT = ("; MOSAIC_PG_DIRECT=1 lets the server prepare statements, which a transaction pooler "
                  "between here and the server cannot carry: unset it")
# Postgres error codes worth retrying the whole transaction for.
_SCHEMA_DENIED_HINT = ("; the first use creates mosaic-tui's tables: run it once as a role that may create them "
                       "in this schema (e.g. the database's owner)")
_TABLE_DENIED_HINT = "; the role needs SELECT, INSERT, UPDATE and DELETE on mosaic-tui's tables"
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected


class NeedsFullPath(Exception):
    """This path cannot do it exactly as the full one would; nothing was written: take the full path."""


# --------------------------------------------------------------------------- connecting
def pg_direct() -> bool:
    """``MOSAIC_PG_DIRECT=1``: the user says no transaction pooler sits between us and the server."""
    value = os.environ.get(_DIRECT_ENV, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise InvalidInput(f"{_DIRECT_ENV} must be 1 or 0, not {value!r}")


def pg_connect_args(direct_threshold: int | None = PG_DIRECT_PREPARE_THRESHOLD) -> dict[str, Any]:
    """What every Postgres connection of ours is opened with (psycopg's keyword arguments)."""
    return {"connect_timeout": PG_CONNECT_TIMEOUT_S, "application_name": APPLICATION_NAME,
            "prepare_threshold": direct_threshold if pg_direct() else PG_PREPARE_THRESHOLD}


def sqlite_setup(dbapi_connection) -> None:
    """Every SQLite connection: we emit BEGIN ourselves, a busy timeout, WAL, synchronous=NORMAL."""
    dbapi_connection.isolation_level = None  # pysqlite's own transaction handling off
    cur = dbapi_connection.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        _wal(cur)
        cur.execute("PRAGMA synchronous = NORMAL")
    finally:
        cur.close()


_SQLITE_BUSY = 5


def _wal(cur) -> None:
    """Switch the file to WAL (once in its life), waiting for its write lock as a transaction would.

    The switch takes a read lock, then the write lock, and SQLite does not wait for a write lock asked for
    under a read lock: with another connection holding it (another process switching the same new file at
    the same moment, or writing to a file still in rollback mode) it answers "database is locked" at once,
    busy timeout or not. So the switch is tried again, with backoff, for as long as the busy timeout; once
    the other switch has committed there is nothing left to do.
    """
    backoff = Backoff(0.002, 0.1, seconds=SQLITE_BUSY_TIMEOUT_S, jitter=True)
    while cur.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            cur.execute("PRAGMA journal_mode = WAL")
        except Exception as exc:  # sqlite3.OperationalError; the module is not imported on the Postgres path
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF != _SQLITE_BUSY or not backoff.sleep():
                raise


def connect_retrying(connect: Callable[[], Any], wait: float, driver_error: type[BaseException]):
    """``connect()``, again with backoff while the server says it is full, for at most ``wait`` seconds.

    Safe for any operation: a connection that was refused has run nothing.
    """
    backoff = Backoff(0.05, 1.0, seconds=wait, jitter=True)  # jitter: a fleet refused at once does not return at once
    while True:
        try:
            return connect()
        except driver_error as exc:
            if not failures.is_busy(exc) or not backoff.sleep():
                raise


def pg_connect(target: Target, wait: float = 0.0, **extra):
    """A psycopg connection to ``target`` (every host of its URL, as libpq tries them), with our connect
    arguments (the URL's own ``connect_timeout`` and ``application_name`` win) and ``extra``; a full
    server retried for ``wait`` seconds. The one way every path connects to Postgres: the one-shot
    path, the engine's pool (its ``creator``), the change feed."""
    import psycopg

    kwargs = {**pg_connect_args(), **target.connect_kwargs, **extra}
    if wait > 0:
        return connect_retrying(lambda: psycopg.connect(**kwargs), wait, psycopg.Error)
    return psycopg.connect(**kwargs)


# --------------------------------------------------------------------------- what a failure means
READ_ONLY_HINT = ("writes need the primary: add target_session_attrs=read-write to the URL, "
                  "or give the standby as --read-url")
NEVER_MIGRATED_ON_STANDBY = ("this backlog was never migrated (or needs a migration) and this server is a read-only "
                             "standby ({where}): the first use needs the primary")


def translate(exc: BaseException, target: Target, wait: float) -> BaseException:
    """The error a user sees for a driver error (bare, or wrapped with ``.orig``), on one line, short,
    the password scrubbed: Busy for a full server, ReadOnly for a standby that refused a write,
    Unavailable for a lost or bad database (or no writable primary), DatabaseFailure for a statement
    the server could not run; ``exc`` itself for anything else (left to the caller)."""
    msg = str(getattr(exc, "orig", exc))
    where = target.short()
    if target.backend == "sqlite" and ("file is not a database" in msg or "malformed" in msg):
        return Unavailable(f"not a backlog: {target.display()} ({msg})")
    kind = failures.classify(exc)
    said = failures.brief(exc)
    if kind == "busy":
        waited = f" (retried for {wait:g} s)" if wait > 0 else ""
        return Busy(scrub(f"database busy ({where}): the server has no free connection slot (too many clients); "
                          f"retry later{waited}: {said}", target))
    if kind == "read_only":
        return ReadOnly(scrub(f"this server is a read-only standby ({where}); {READ_ONLY_HINT}", target))
    if kind == "no_primary":
        return Unavailable(scrub(f"no writable primary yet ({where}): {said}; --wait SECONDS rides a failover", target))
    if kind == "gone" or (kind is None and failures.operational(exc)):
        return Unavailable(scrub(f"database unreachable ({where}): {said}", target))
    if failures.sqlstate(exc) == failures.DENIED_SQLSTATE:  # the role may not: no retry will change that
        hint = _SCHEMA_DENIED_HINT if "for schema" in said else _TABLE_DENIED_HINT if "for table" in said else ""
        return DatabaseFailure(scrub(f"the database refused ({where}): {said}{hint}", target))
    if kind == "failed":
        hint = _PREPARED_HINT if failures.sqlstate(exc) in failures.STATEMENT_SQLSTATES and pg_direct() else ""
        return DatabaseFailure(scrub(f"the database could not run the statement ({where}): {said}{hint}", target))
    return exc


def not_a_database(display: str) -> Unavailable:
    """A SQLite file that is not a database, met when first opening it."""
    return Unavailable(f"not a backlog: {display} (not a SQLite database)")


def version_is_current(version: str | None) -> bool:
    """Is the schema at ``verbs_sql.HEAD``? A newer one is refused (this program would not know it)."""
    if version == verbs_sql.HEAD:
        return True
    if version is not None and version > verbs_sql.HEAD:
        raise Unavailable(f"this backlog's schema ({version}) is newer than this mosaic-tui ({verbs_sql.HEAD}); "
                          "upgrade mosaic-tui")
    return False


# --------------------------------------------------------------------------- one transaction, retried
def transaction(dbapi_connection, begin: str | None, fn: Callable[[Any], T], tx: Any) -> T:
    """The one transaction wrapper, on a DBAPI connection: our own BEGIN (``BEGIN IMMEDIATE`` for a SQLite
    write; None: the driver's), ``fn(tx)``, COMMIT; on any failure a best-effort ROLLBACK and the failure.
    Both paths run their driver transactions through it (the engine on a pooled connection)."""
    try:
        if begin is not None:
            dbapi_connection.execute(begin)
        result = fn(tx)
        dbapi_connection.commit()
        return result
    except BaseException:
        try:
            dbapi_connection.rollback()
        except Exception:  # noqa: BLE001 - the connection may be gone; the caller closes or drops it
            pass
        raise


RIDE_MAX_DELAY_S = 1.0


def retrying(once: Callable[[], T], *, write: bool, errors: tuple[type[BaseException], ...],
             translate: Callable[[BaseException], BaseException], attempts: int = 5, ride: float = 0.0) -> T:
    """The one retry loop: ``once()`` again when that is safe, else its failure translated.

    * Postgres deadlocks and serialization failures: again, up to ``attempts`` times.
    * A read that met a connection the server had dropped: once more (the pool is fresh by then).
    * For ``ride`` seconds (``--wait``): while the server is down or no host is the writable primary
      yet (a failover), with backoff -- a write only when nothing of it was sent (the connect failed)
      or a standby refused it; a write whose connection was lost may have committed, and is never retried.

    A failure of ``errors`` carries ``.orig`` and ``.connection_invalidated`` (SQLAlchemy's DBAPIError or
    :class:`DriverError`), and ``.unsent`` when it came before anything was sent.
    """
    backoff = Backoff(0.1, RIDE_MAX_DELAY_S, seconds=ride, jitter=True)
    attempt = 0
    while True:
        try:
            return once()
        except errors as exc:
            attempt += 1
            kind = failures.classify(exc)
            if failures.sqlstate(exc) in RETRYABLE_SQLSTATES and attempt < attempts:
                time.sleep(0.005 * attempt)
                continue
            if (not write and attempt == 1 and kind == "gone" and getattr(exc, "connection_invalidated", False)
                    and not getattr(exc, "unsent", False)):
                continue
            safe = not write or getattr(exc, "unsent", False) or kind in ("read_only", "no_primary")
            if kind in ("gone", "read_only", "no_primary") and safe and ride > 0 and backoff.sleep():
                continue
            raised = translate(exc)
            if raised is exc:
                raise
            raise raised from None


class DriverError(Exception):
    """A driver error, whether it cost the connection, and whether anything was sent, in the shape
    :mod:`failures` and :func:`retrying` read."""

    def __init__(self, orig: BaseException, connection_invalidated: bool, unsent: bool = False):
        super().__init__(str(orig))
        self.orig = orig
        self.connection_invalidated = connection_invalidated
        self.unsent = unsent


def _driver_error(target: Target) -> type[BaseException]:
    if target.backend == "sqlite":
        import sqlite3

        return sqlite3.Error
    import psycopg

    return psycopg.Error


def _connect(target: Target, wait: float):
    if target.backend == "sqlite":
        import sqlite3

        if target.path is None or not target.path.is_file():  # the full path creates it, private, and migrates
            raise NeedsFullPath("no backlog file yet")
        conn = sqlite3.connect(str(target.path), timeout=SQLITE_BUSY_TIMEOUT_S, check_same_thread=False)
        try:
            sqlite_setup(conn)
        except BaseException:
            conn.close()
            raise
        return conn
    return pg_connect(target, wait)


def _missing_table(exc: BaseException) -> bool:
    return failures.sqlstate(exc) == "42P01" or str(exc).startswith("no such table")


def run(target: Target, fn: Callable[[verbs_sql.Tx], Any], *, wait: float | None = None, attempts: int = 5):
    """``fn(tx)`` in one write transaction, after checking the schema version in it; committed.

    As :meth:`mosaic_tui.db.engine.Database.run` with ``driver=True``, through the same retry loop
    (:func:`retrying`) and transaction wrapper (:func:`transaction`). ``wait``: seconds to retry a full
    server (default ``DEFAULT_WAIT_S``); given, also how long to ride a failover. Errors come out translated.
    """
    busy_wait = DEFAULT_WAIT_S if wait is None else max(0.0, wait)

    def translated(exc: BaseException) -> BaseException:
        raised = translate(exc, target, busy_wait)
        return exc.orig if raised is exc else raised  # type: ignore[attr-defined]

    return retrying(lambda: _once(target, fn, busy_wait), write=True, errors=(DriverError,), translate=translated,
                    attempts=attempts, ride=0.0 if wait is None else busy_wait)


def _once(target: Target, fn, wait: float):
    driver_error = _driver_error(target)
    conn = None

    def checked(tx):
        try:
            row = verbs_sql.first(tx, verbs_sql.VERSION)
        except driver_error as exc:
            if _missing_table(exc):
                raise NeedsFullPath("a backlog never migrated") from None
            raise
        if not version_is_current(None if row is None else row[0]):
            raise NeedsFullPath("a migration is due")
        return fn(tx)

    try:
        conn = _connect(target, wait)
        return transaction(conn, verbs_sql.BEGIN_WRITE.get(target.backend), checked, verbs_sql.DriverTx(target.backend, conn))
    except driver_error as exc:
        if target.backend == "sqlite" and "file is not a database" in str(exc) and conn is None:
            raise not_a_database(target.display()) from None
        broken = conn is not None and bool(getattr(conn, "closed", False) or getattr(conn, "broken", False))
        raise DriverError(exc, broken, unsent=conn is None) from exc
    finally:
        if conn is not None:
            conn.close()
