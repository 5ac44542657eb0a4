"""Engines and transactions, with the lines that differ between SQLite and Postgres.

SQLite: WAL, a busy timeout, and every write transaction opened with
``BEGIN IMMEDIATE`` (SQLAlchemy's documented pysqlite connect/begin recipe), so
concurrent writers queue on the file lock instead of failing with "database is
locked" on lock upgrade. Reads open a deferred ``BEGIN`` so they never hold the
write lock (WAL readers do not block writers).

Postgres: psycopg 3, READ COMMITTED; the claim's row locking is
``FOR UPDATE SKIP LOCKED`` (see ``mosaic_tui.db.verbs_sql``). Safe behind a
transaction pooler (PgBouncer's transaction mode, a hosted Postgres's pooled
endpoint): no server-side prepared statements (psycopg's ``prepare_threshold``
is off), only transaction-scoped locks and settings, no session state relied
on from one transaction to the next. A server with no free connection slot
("too many clients") is retried at connect time, with backoff, for ``wait``
seconds, then reported as :class:`~mosaic_tui.errors.Busy`. A pooled connection
that sat idle for ``IDLE_PING_S`` is pinged as it leaves the pool and replaced
if the server dropped it (a restart, a failover), so the first write after a
change of primary just works; one back within that second is not (the claim
loop's hot path pays no round trip).

The set-up of connections, the connect arguments, the busy retry and the
meaning of driver errors are :mod:`mosaic_tui.db.connections`'s, shared with the
CLI's one-shot path, which runs the hot verbs without SQLAlchemy.
"""

from __future__ import annotations

import contextlib
import os
import select
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import URL, Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.pool import NullPool

from mosaic_tui.db import connections
from mosaic_tui.db.connections import (
    DEFAULT_WAIT_S,
    NEVER_MIGRATED_ON_STANDBY,
    PG_DIRECT_PREPARE_THRESHOLD,
    PG_PREPARE_THRESHOLD,
    SQLITE_BUSY_TIMEOUT_S,
    pg_connect,
    pg_connect_args,
    pg_direct,
    sqlite_setup,
)
from mosaic_tui.db.verbs_sql import BEGIN_READ, BEGIN_WRITE
from mosaic_tui.db.url import Target, resolve_listen, resolve_read
from mosaic_tui.errors import ReadOnly, Unavailable

__all__ = ["DEFAULT_WAIT_S", "PG_DIRECT_PREPARE_THRESHOLD", "PG_PREPARE_THRESHOLD", "SQLITE_BUSY_TIMEOUT_S",
           "Database", "create", "open_database", "pg_direct"]

_READONLY = "mosaic_readonly"
IDLE_PING_S = 1.0  # a pooled connection idle this long is pinged before use (a failover takes seconds)
_IDLE_SINCE = "mosaic_idle_since"


class _DriverTx:
    """A transaction on a pooled DBAPI connection: what the hot verbs (``verbs_sql.Tx``) and a
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


def create(target: Target, *, pool: bool = True, wait: float = DEFAULT_WAIT_S) -> Engine:
    if target.backend == "sqlite":
        assert target.path is not None
        try:
            _prepare_sqlite_file(target.path)
        except OSError as exc:
            raise Unavailable(f"cannot create the backlog file {target.path}: {exc.strerror}") from None
        engine = create_engine(
            URL.create("sqlite", database=str(target.path)),
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
            poolclass=None if pool else NullPool,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            sqlite_setup(dbapi_connection)  # the same set-up as the one-shot path's (mosaic_tui.db.connections)

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection):
            conn.exec_driver_sql(BEGIN_READ["sqlite"] if conn.get_execution_options().get(_READONLY)
                                 else BEGIN_WRITE["sqlite"])

        return engine

    # The URL names the dialect only: every connection is made by connections.pg_connect, with the libpq keywords
    # the one URL reader found (several hosts, target_session_attrs, sslmode, service...), as the one-shot
    # path and the change feed make theirs; a full server is retried for ``wait`` seconds.
    prepare = pg_connect_args(PG_DIRECT_PREPARE_THRESHOLD)["prepare_threshold"]
    engine = create_engine("postgresql+psycopg://", creator=lambda: pg_connect(target, wait, prepare_threshold=prepare),
                           poolclass=None if pool else NullPool)
    if pool:
        _ping_when_idle(engine)
    return engine


def _said_something(dbapi_connection) -> bool:
    """An idle connection's socket is readable: the server closed it, or sent a notice before it did."""
    try:
        return bool(select.select([dbapi_connection.fileno()], [], [], 0)[0])
    except Exception:  # noqa: BLE001 - closed already (psycopg: OperationalError): the ping will say so
        return True


def _ping_when_idle(engine: Engine) -> None:
    """Ping (``SELECT 1``) a pooled connection that sat idle ``IDLE_PING_S`` or more as it leaves the pool;
    when the server dropped it, the pool connects anew (to whichever host is the primary now).

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: a round trip on each claim of an agent loop.
    Here a connection checked in less than a second ago goes out unpinged -- the old primary answered on
    it then, and no promotion is that fast -- unless its socket has something to read while idle: the
    server closed it or said why (an administrator's ``pg_terminate_backend``, a shutdown), seen without
    a round trip. A one-shot command never pings (it checks out once).
    """
    dialect, driver_error = engine.dialect, engine.dialect.loaded_dbapi.Error

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection, record):
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, _proxy):
        since = record.info.pop(_IDLE_SINCE, None)
        if since is None or (time.monotonic() - since < IDLE_PING_S and not _said_something(dbapi_connection)):
            return
        try:
            dialect.do_ping(dbapi_connection)
        except driver_error as exc:  # the pool drops this connection and connects anew
            raise DisconnectionError(str(exc)) from exc


class Database:
    """One backlog database: its engine, its schema check, its transactions; and, given a read URL,
    the replica its reads go to (:attr:`replica`, a Database of its own)."""

    def __init__(self, target: Target, *, pool: bool = True, wait: float | None = None,
                 listen: Target | None = None, read: Target | None = None):
        self.target = target
        self.backend = target.backend
        self.wait = DEFAULT_WAIT_S if wait is None else max(0.0, wait)
        self.ride = 0.0 if wait is None else self.wait  # --wait given: also ride a failover that long
        self.listen = listen if target.backend == "postgresql" else None  # the change feed's URL, if not target's
        self.engine = create(target, pool=pool, wait=self.wait)
        self.dialect = self.engine.dialect
        self._driver_error = self.dialect.loaded_dbapi.Error
        self._schema_checked = False
        self.replica: Database | None = None
        self.replicas = None
        if read is not None and target.backend == "postgresql":
            from mosaic_tui.db.replica import Replicas

            self.replica = Database(read, pool=pool, wait=wait)
            self.replicas = Replicas(self, self.replica)

    # -- errors ---------------------------------------------------------------
    def _translate(self, exc: BaseException) -> BaseException:
        """The error a user sees for a driver error (:func:`mosaic_tui.db.connections.translate`, shared with
        the one-shot path): Busy, ReadOnly, Unavailable, DatabaseFailure, or ``exc`` itself."""
        raised = connections.translate(exc, self.target, self.wait)
        if isinstance(raised, ReadOnly) and getattr(exc, "schema", False):  # a standby never migrated (or behind)
            return ReadOnly(NEVER_MIGRATED_ON_STANDBY.format(where=self.target.short()))
        return raised

    # -- transactions ---------------------------------------------------------
    def _connect(self) -> Connection:
        try:
            return self.engine.connect()
        except DBAPIError as exc:
            exc.unsent = True  # nothing was sent: retrying() may try again, even for a write
            raise

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite). Prefer :meth:`run`."""
        self.ensure_schema()
        with self._connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """One read transaction that never takes the SQLite write lock. Prefer :meth:`run`."""
        self.ensure_schema()
        with self._connect() as conn:
            conn = conn.execution_options(**{_READONLY: True})
            with conn.begin():
                yield conn

    def _driver_transaction(self, fn, write: bool):
        """``fn(tx)`` in one transaction driven on the pooled DBAPI connection itself, through the one
        transaction wrapper (:func:`mosaic_tui.db.connections.transaction`).

        For the hot verbs' statements (``mosaic_tui.db.verbs_sql``) and
        :class:`~mosaic_tui.db.prepared.Prepared` ones only: no SQLAlchemy
        ``Connection``, no per-call events; ``tx`` has the ``.backend`` and
        ``.dbapi`` of a ``verbs_sql.Tx`` and the ``.dialect`` and ``.connection``
        a Prepared statement needs.
        """
        self._ensure()
        try:
            pooled = self.engine.raw_connection()
        except self._driver_error as exc:  # no connection (e.g. the server is down): nothing was sent
            wrapped = DBAPIError.instance(
                None, None, exc, self._driver_error, connection_invalidated=True, dialect=self.dialect,
            )
            wrapped.unsent = True
            raise wrapped from exc
        dbapi_connection = pooled.dbapi_connection
        begin = (BEGIN_WRITE if write else BEGIN_READ).get(self.backend)
        try:
            return connections.transaction(dbapi_connection, begin, fn, _DriverTx(self.dialect, pooled))
        except self._driver_error as exc:
            invalidated = self.dialect.is_disconnect(exc, dbapi_connection, None)
            if invalidated:
                self._drop(pooled, exc)
            raise DBAPIError.instance(
                None, None, exc, self._driver_error, connection_invalidated=invalidated, dialect=self.dialect,
            ) from exc
        except DBAPIError as exc:  # wrapped already (a Prepared statement)
            if exc.connection_invalidated:
                self._drop(pooled, exc)
            raise
        finally:
            pooled.close()

    def _drop(self, pooled, exc: BaseException) -> None:
        """The server dropped us: this connection goes, and the pool's others are stale too."""
        pooled.invalidate(exc)
        self.engine.dispose()

    def _once(self, fn, write: bool, driver: bool):
        self._ensure()  # its failures go to the retry loop (the contexts' own check is then a no-op)
        if driver:
            return self._driver_transaction(fn, write)
        with self.write() if write else self.read() as conn:
            return fn(conn)

    def run(self, fn, *, write: bool = True, attempts: int = 5, driver: bool = False):
        """Run ``fn(conn)`` in one transaction, through the one retry loop
        (:func:`mosaic_tui.db.connections.retrying`, shared with the one-shot path).

        ``driver=True``: ``fn`` runs only :mod:`~mosaic_tui.db.verbs_sql` or
        :class:`~mosaic_tui.db.prepared.Prepared` statements and gets a light driver transaction instead of a SQLAlchemy
        ``Connection`` (the hot operations: claim, complete, heartbeat).

        Retries Postgres deadlocks and serialization failures, and a read that
        met a connection the server had dropped (e.g. after a restart; the
        pool is then refreshed). A write is never retried after a lost
        connection: it may have committed. With a read replica, a read goes
        to it unless this process has written what it has not replayed yet
        (:class:`mosaic_tui.db.replica.Replicas`).
        """
        if self.replicas is not None:
            if not write:
                return self.replicas.read(lambda db: db._run(fn, write=False, attempts=attempts, driver=driver))
            result = self._run(fn, write=True, attempts=attempts, driver=driver)
            self.replicas.wrote()
            return result
        return self._run(fn, write=write, attempts=attempts, driver=driver)

    def _run(self, fn, *, write: bool, attempts: int, driver: bool):
        return connections.retrying(lambda: self._once(fn, write, driver), write=write, errors=(DBAPIError,),
                               translate=self._translate, attempts=attempts, ride=self.ride)

    def ensure_schema(self) -> None:
        """The schema checked (migrated on first use) once per process; errors translated."""
        try:
            self._ensure()
        except DBAPIError as exc:
            raised = self._translate(exc)
            if raised is exc:
                raise
            raise raised from None

    def _ensure(self) -> None:
        """As :meth:`ensure_schema`, its driver errors left to the retry loop (marked: nothing of the
        operation that comes after it was sent, so a write may be tried again)."""
        if self._schema_checked:
            return
        from mosaic_tui.db import schema

        try:
            schema.ensure(self)
        except DBAPIError as exc:
            exc.unsent = exc.schema = True
            raise
        self._schema_checked = True

    def dispose(self) -> None:
        self.engine.dispose()
        if self.replica is not None:
            self.replica.dispose()


def open_database(url: str | None = None, *, pool: bool = True, wait: float | None = None,
                  listen_url: str | None = None, read_url: str | None = None) -> Database:
    """The backlog at ``url`` (else ``DATABASE_URL``, else the embedded default).

    ``wait``: seconds to keep retrying a full server at connect time (default
    ``DEFAULT_WAIT_S``); given, also how long a call rides a failover. ``listen_url``: where the change
    feed listens (else ``MOSAIC_LISTEN_URL``, else the backlog's own URL). ``read_url``: a read replica
    (else ``MOSAIC_READ_URL``, else none: reads go to the backlog's URL).
    """
    from mosaic_tui.db.url import resolve

    target = resolve(url)
    listen = resolve_listen(listen_url) if target.backend == "postgresql" else None
    read = resolve_read(read_url) if target.backend == "postgresql" else None
    return Database(target, pool=pool, wait=wait, listen=listen, read=read)
