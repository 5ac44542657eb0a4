"""Engines and transactions, with the lines that differ between SQLite and Postgres.

SQLite: WAL, a busy timeout, and every write transaction opened with
``BEGIN IMMEDIATE`` (SQLAlchemy's documented pysqlite connect/begin recipe), so
concurrent writers queue on the file lock instead of failing with "database is
locked" on lock upgrade. Reads open a deferred ``BEGIN`` so they never hold the
write lock (WAL readers do not block writers).

Postgres: psycopg 3, READ COMMITTED; the claim's row locking is
``FOR UPDATE SKIP LOCKED`` (see ``mosaic_tui.db.sql``). Safe behind a
transaction pooler (PgBouncer's transaction mode, a hosted Postgres's pooled
endpoint): no server-side prepared statements (psycopg's ``prepare_threshold``
is off), only transaction-scoped locks and settings, no session state relied
on from one transaction to the next. A server with no free connection slot
("too many clients") is retried at connect time, with backoff, for ``wait``
seconds, then reported as :class:`~mosaic_tui.errors.Busy`.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.pool import NullPool

from mosaic_tui.db import failures
from mosaic_tui.db.url import Target, resolve_listen, scrub
from mosaic_tui.errors import Busy, DatabaseFailure, InvalidInput, Unavailable

SQLITE_BUSY_TIMEOUT_S = 60.0
# How long connecting retries a server that has no free connection slot ("too many clients").
DEFAULT_WAIT_S = 5.0
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


def _connect_retrying_busy(engine: Engine, wait: float) -> None:
    """Connect again, with backoff, while the server says it is full, for at most ``wait`` seconds.

    Safe for any operation: a connection that was refused has run nothing.
    """

    @event.listens_for(engine, "do_connect")
    def _do_connect(dialect, _record, cargs, cparams):
        deadline = time.monotonic() + wait
        delay = 0.05
        while True:
            try:
                return dialect.connect(*cargs, **cparams)
            except dialect.loaded_dbapi.Error as exc:
                if not failures.is_busy(exc) or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay * random.uniform(0.5, 1.5))  # jitter: a fleet refused at once does not return at once
            delay = min(delay * 2, 1.0)


def pg_direct() -> bool:
    """``MOSAIC_PG_DIRECT=1``: the user says no transaction pooler sits between us and the server."""
    value = os.environ.get(_DIRECT_ENV, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise InvalidInput(f"{_DIRECT_ENV} must be 1 or 0, not {value!r}")


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

    engine = create_engine(
        target.url,
        connect_args={"connect_timeout": 5, "application_name": "mosaic-tui",
                      "prepare_threshold": PG_DIRECT_PREPARE_THRESHOLD if pg_direct() else PG_PREPARE_THRESHOLD},
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
    def unavailable(self, exc: BaseException) -> Unavailable:
        detail = failures.detail(exc)
        return Unavailable(scrub(f"database unreachable ({self.target.display()}): {detail}", self.target.url))

    def busy(self, exc: BaseException) -> Busy:
        waited = f" (retried for {self.wait:g} s)" if self.wait > 0 else ""
        return Busy(scrub(
            f"database busy ({self.target.display()}): the server has no free connection slot (too many clients); "
            f"retry later{waited}: {failures.detail(exc)}", self.target.url))

    def _translate(self, exc: DBAPIError) -> BaseException:
        """The error a user sees for a driver error: Busy for a full server, Unavailable for a lost
        or bad database, DatabaseFailure for a statement the server could not run."""
        msg = str(getattr(exc, "orig", exc))
        if self.backend == "sqlite" and ("file is not a database" in msg or "malformed" in msg):
            return Unavailable(f"not a backlog: {self.target.display()} ({msg})")
        kind = failures.classify(exc)
        if kind == "busy":
            return self.busy(exc)
        if kind == "gone" or (kind is None and isinstance(exc, OperationalError)):
            return self.unavailable(exc)
        if kind == "failed":
            hint = _PREPARED_HINT if failures.sqlstate(exc) in failures.STATEMENT_SQLSTATES and pg_direct() else ""
            return DatabaseFailure(scrub(
                f"the database could not run the statement ({self.target.display()}): {failures.detail(exc)}{hint}",
                self.target.url))
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
                code = failures.sqlstate(exc)
                retry = code in _RETRYABLE or (
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
