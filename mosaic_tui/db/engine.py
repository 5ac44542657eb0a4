"""Engines and transactions, with the lines that differ between SQLite and Postgres.

SQLite: WAL, a busy timeout, and every write transaction opened with
``BEGIN IMMEDIATE`` (SQLAlchemy's documented pysqlite connect/begin recipe), so
concurrent writers queue on the file lock instead of failing with "database is
locked" on lock upgrade. Reads open a deferred ``BEGIN`` so they never hold the
write lock (WAL readers do not block writers).

Postgres: psycopg 3, READ COMMITTED; the claim's row locking is
``FOR UPDATE SKIP LOCKED`` (see ``mosaic_tui.db.hotsql``). Safe behind a
transaction pooler (PgBouncer's transaction mode, a hosted Postgres's pooled
endpoint): no server-side prepared statements (psycopg's ``prepare_threshold``
is off), only transaction-scoped locks and settings, no session state relied
on from one transaction to the next. A server with no free connection slot
("too many clients") is retried at connect time, with backoff, for ``wait``
seconds, then reported as :class:`~mosaic_tui.errors.Busy`.

The set-up of connections, the connect arguments, the busy retry and the
meaning of driver errors are :mod:`mosaic_tui.db.direct`'s, shared with the
CLI's one-shot path, which runs the hot verbs without SQLAlchemy.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.pool import NullPool

from mosaic_tui.db import direct, failures
from mosaic_tui.db.direct import (
    DEFAULT_WAIT_S,
    PG_DIRECT_PREPARE_THRESHOLD,
    PG_PREPARE_THRESHOLD,
    RETRYABLE_SQLSTATES,
    SQLITE_BUSY_TIMEOUT_S,
    connect_retrying,
    pg_connect_args,
    pg_direct,
    sqlite_setup,
)
from mosaic_tui.db.hotsql import BEGIN_READ, BEGIN_WRITE
from mosaic_tui.db.url import Target, resolve_listen
from mosaic_tui.errors import Unavailable

__all__ = ["DEFAULT_WAIT_S", "PG_DIRECT_PREPARE_THRESHOLD", "PG_PREPARE_THRESHOLD", "SQLITE_BUSY_TIMEOUT_S",
           "Database", "create", "open_database", "pg_direct"]

_READONLY = "mosaic_readonly"


class _DriverTx:
    """A transaction on a pooled DBAPI connection: what the hot verbs (``hotsql.Tx``) and a
    :class:`~mosaic_tui.db.prepared.Prepared` statement need of it."""

    __slots__ = ("backend", "dbapi", "dialect", "connection")

    def __init__(self, dialect, connection):
        self.backend = dialect.name
        self.dbapi = connection.dbapi_connection
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


def _connect_retrying_busy(engine: Engine, wait: float) -> None:
    """Connect again, with backoff, while the server says it is full, for at most ``wait`` seconds."""

    @event.listens_for(engine, "do_connect")
    def _do_connect(dialect, _record, cargs, cparams):
        return connect_retrying(lambda: dialect.connect(*cargs, **cparams), wait, dialect.loaded_dbapi.Error)


def create(target: Target, *, pool: bool = True, wait: float = DEFAULT_WAIT_S) -> Engine:
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
            sqlite_setup(dbapi_connection)  # the same set-up as the one-shot path's (mosaic_tui.db.direct)

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection):
            conn.exec_driver_sql(BEGIN_READ["sqlite"] if conn.get_execution_options().get(_READONLY)
                                 else BEGIN_WRITE["sqlite"])

        return engine

    engine = create_engine(
        target.url,
        connect_args=pg_connect_args(PG_DIRECT_PREPARE_THRESHOLD),
        poolclass=None if pool else NullPool,
    )
    if wait > 0:
        _connect_retrying_busy(engine, wait)
    return engine


class Database:
    """One backlog database: its engine, its schema check, its transactions."""

    def __init__(self, target: Target, *, pool: bool = True, wait: float | None = None,
                 listen: Target | None = None):
        self.target = target
        self.backend = target.backend
        self.wait = DEFAULT_WAIT_S if wait is None else max(0.0, wait)
        self.listen = listen if target.backend == "postgresql" else None  # the change feed's URL, if not target's
        self.engine = create(target, pool=pool, wait=self.wait)
        self.dialect = self.engine.dialect
        self._driver_error = self.dialect.loaded_dbapi.Error
        self._schema_checked = False

    # -- errors ---------------------------------------------------------------
    def _translate(self, exc: DBAPIError) -> BaseException:
        """The error a user sees for a driver error (:func:`mosaic_tui.db.direct.translate`, shared with
        the one-shot path): Busy, Unavailable, DatabaseFailure, or ``exc`` itself."""
        return direct.translate(exc, backend=self.backend, display=self.target.display(),
                                password=None if self.target.url.password is None else str(self.target.url.password),
                                wait=self.wait)

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

        For the hot verbs' statements (``mosaic_tui.db.hotsql``) and
        :class:`~mosaic_tui.db.prepared.Prepared` ones only: no SQLAlchemy
        ``Connection``, no per-call events; ``tx`` has the ``.backend`` and
        ``.dbapi`` of a ``hotsql.Tx`` and the ``.dialect`` and ``.connection``
        a Prepared statement needs.
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
                begin = (BEGIN_WRITE if write else BEGIN_READ).get(self.backend)
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

        ``driver=True``: ``fn`` runs only :mod:`~mosaic_tui.db.hotsql` or
        :class:`~mosaic_tui.db.prepared.Prepared` statements and gets a light driver transaction instead of a SQLAlchemy
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
                code = failures.sqlstate(exc)
                retry = code in RETRYABLE_SQLSTATES or (
                    not write and exc.connection_invalidated and attempt == 0 and failures.classify(exc) == "gone")
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


def open_database(url: str | None = None, *, pool: bool = True, wait: float | None = None,
                  listen_url: str | None = None) -> Database:
    """The backlog at ``url`` (else ``DATABASE_URL``, else the embedded default).

    ``wait``: seconds to keep retrying a full server at connect time (default
    ``DEFAULT_WAIT_S``). ``listen_url``: where the change feed listens (else
    ``MOSAIC_LISTEN_URL``, else the backlog's own URL).
    """
    from mosaic_tui.db.url import resolve

    target = resolve(url)
    listen = resolve_listen(listen_url) if target.backend == "postgresql" else None
    return Database(target, pool=pool, wait=wait, listen=listen)
