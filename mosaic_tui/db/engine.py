"""Engines and transactions, with the lines that differ between SQLite and Postgres.

SQLite: WAL, a busy timeout, and every write transaction opened with
``BEGIN IMMEDIATE`` (SQLAlchemy's documented pysqlite connect/begin recipe), so
concurrent writers queue on the file lock instead of failing with "database is
locked" on lock upgrade. Reads open a deferred ``BEGIN`` so they never hold the
write lock (WAL readers do not block writers).

Postgres: psycopg 3, READ COMMITTED; the claim's row locking is
``FOR UPDATE SKIP LOCKED`` (see ``mosaic_tui.db.sql``).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.pool import NullPool

from mosaic_tui.db.url import Target, scrub
from mosaic_tui.errors import Unavailable

SQLITE_BUSY_TIMEOUT_S = 60.0
_READONLY = "mosaic_readonly"
# Postgres error codes worth retrying the whole transaction for.
_RETRYABLE = {"40001", "40P01"}  # serialization_failure, deadlock_detected
# How a driver transaction (Database.run(driver=True)) begins: SQLite as the
# engine's "begin" listener below does; psycopg opens one by itself (not autocommit).
_BEGIN_WRITE = {"sqlite": "BEGIN IMMEDIATE"}
_BEGIN_READ = {"sqlite": "BEGIN"}


class _DriverTx:
    """What a Prepared statement needs of a transaction: the dialect and the pooled connection."""

    __slots__ = ("dialect", "connection")

    def __init__(self, dialect, connection):
        self.dialect = dialect
        self.connection = connection


def _prepare_sqlite_file(path: Path) -> None:
    """Create the file and its folder private to the user (0700 / 0600)."""
    if not path.parent.exists():
        old = os.umask(0o077)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        finally:
            os.umask(old)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)


def create(target: Target, *, pool: bool = True) -> Engine:
    if target.backend == "sqlite":
        assert target.path is not None
        try:
            _prepare_sqlite_file(target.path)
        except OSError as exc:
            raise Unavailable(f"cannot create the backlog file {target.path}: {exc.strerror}") from None
        engine = create_engine(
            target.url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
            poolclass=None if pool else NullPool,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            # Let us emit BEGIN ourselves (pysqlite's own transaction handling off).
            dbapi_connection.isolation_level = None
            cur = dbapi_connection.cursor()
            cur.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
            mode = cur.execute("PRAGMA journal_mode").fetchone()[0]
            if mode != "wal":
                cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection):
            if conn.get_execution_options().get(_READONLY):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    return create_engine(
        target.url,
        connect_args={"connect_timeout": 5, "application_name": "mosaic-tui"},
        poolclass=None if pool else NullPool,
    )


class Database:
    """One backlog database: its engine, its schema check, its transactions."""

    def __init__(self, target: Target, *, pool: bool = True):
        self.target = target
        self.backend = target.backend
        self.engine = create(target, pool=pool)
        self.dialect = self.engine.dialect
        self._driver_error = self.dialect.loaded_dbapi.Error
        self._schema_checked = False

    # -- errors ---------------------------------------------------------------
    def unavailable(self, exc: BaseException) -> Unavailable:
        orig = getattr(exc, "orig", None) or exc
        detail = " ".join(str(orig).split()) or type(orig).__name__
        return Unavailable(scrub(f"database unreachable ({self.target.display()}): {detail}", self.target.url))

    def _translate(self, exc: DBAPIError) -> BaseException:
        """The error a user sees for a driver error: Unavailable for a lost or bad database."""
        msg = str(getattr(exc, "orig", exc))
        if "file is not a database" in msg or "malformed" in msg:
            return Unavailable(f"not a backlog: {self.target.display()} ({msg})")
        if isinstance(exc, OperationalError) or exc.connection_invalidated:
            return self.unavailable(exc)
        return exc

    # -- transactions ---------------------------------------------------------
    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite). Prefer :meth:`run`."""
        self.ensure_schema()
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """One read transaction that never takes the SQLite write lock. Prefer :meth:`run`."""
        self.ensure_schema()
        with self.engine.connect() as conn:
            conn = conn.execution_options(**{_READONLY: True})
            with conn.begin():
                yield conn

    def _driver_transaction(self, fn, write: bool):
        """``fn(tx)`` in one transaction driven on the pooled DBAPI connection itself.

        For :class:`~mosaic_tui.db.prepared.Prepared` statements only: no
        SQLAlchemy ``Connection``, no per-call events; ``tx`` has the
        ``.dialect`` and ``.connection`` a Prepared statement needs.
        """
        self.ensure_schema()
        try:
            pooled = self.engine.raw_connection()
        except self._driver_error as exc:  # no connection (e.g. the server is down): nothing was sent
            raise DBAPIError.instance(
                None, None, exc, self._driver_error, connection_invalidated=True, dialect=self.dialect,
            ) from exc
        dbapi_connection = pooled.dbapi_connection
        try:
            try:
                begin = (_BEGIN_WRITE if write else _BEGIN_READ).get(self.backend)
                if begin is not None:
                    dbapi_connection.execute(begin)
                result = fn(_DriverTx(self.dialect, pooled))
                dbapi_connection.commit()
                return result
            except self._driver_error as exc:
                raise DBAPIError.instance(
                    None, None, exc, self._driver_error,
                    connection_invalidated=self.dialect.is_disconnect(exc, dbapi_connection, None),
                    dialect=self.dialect,
                ) from exc
        except BaseException as exc:
            if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                pooled.invalidate(exc)
                self.engine.dispose()  # the server dropped us: the pool's other connections are stale too
            else:
                with contextlib.suppress(Exception):
                    dbapi_connection.rollback()
            raise
        finally:
            pooled.close()

    def run(self, fn, *, write: bool = True, attempts: int = 5, driver: bool = False):
        """Run ``fn(conn)`` in one transaction.

        ``driver=True``: ``fn`` runs only :class:`~mosaic_tui.db.prepared.Prepared`
        statements and gets a light driver transaction instead of a SQLAlchemy
        ``Connection`` (the hot operations: claim, complete, heartbeat).

        Retries Postgres deadlocks and serialization failures, and a read that
        met a connection the server had dropped (e.g. after a restart; the
        pool is then refreshed). A write is never retried after a lost
        connection: it may have committed.
        """
        for attempt in range(attempts):
            try:
                if driver:
                    return self._driver_transaction(fn, write)
                with self.write() if write else self.read() as conn:
                    return fn(conn)
            except DBAPIError as exc:
                code = getattr(getattr(exc, "orig", None), "sqlstate", None)
                retry = code in _RETRYABLE or (not write and exc.connection_invalidated and attempt == 0)
                if retry and attempt < attempts - 1:
                    time.sleep(0.005 * (attempt + 1))
                    continue
                raised = self._translate(exc)
                if raised is exc:
                    raise
                raise raised from None

    def ensure_schema(self) -> None:
        if self._schema_checked:
            return
        from mosaic_tui.db import schema

        try:
            schema.ensure(self)
        except DBAPIError as exc:
            raised = self._translate(exc)
            if raised is exc:
                raise
            raise raised from None
        self._schema_checked = True

    def dispose(self) -> None:
        self.engine.dispose()

    def ping_before_use(self) -> None:
        """Postgres: test each pooled connection (``SELECT 1``) as it leaves the pool, and replace it if the
        server dropped it (a restart, a pooler, an idle timeout), so the call after that just works.

        For long-lived processes (the MCP server); a one-shot command has no pooled connection to lose.
        """
        if self.backend != "postgresql":
            return
        dialect, driver_error = self.dialect, self._driver_error

        @event.listens_for(self.engine, "checkout")
        def _ping(dbapi_connection, _record, _proxy):
            try:
                dialect.do_ping(dbapi_connection)
            except driver_error as exc:  # the pool drops this connection and connects anew
                raise DisconnectionError(str(exc)) from exc


def open_database(url: str | None = None, *, pool: bool = True) -> Database:
    from mosaic_tui.db.url import resolve

    return Database(resolve(url), pool=pool)
