"""The database without SQLAlchemy: connections, one transaction, and what a failure means.

An agent runs one process per command, and importing SQLAlchemy and SQLModel
costs more than the whole claim. The agent's hot verbs therefore have a path
of their own (:func:`run`): the URL read here, a connection made straight
with the driver (``sqlite3`` or ``psycopg``), the schema version checked
inside the operation's own transaction, the statements of
:mod:`mosaic_tui.db.hotsql`, commit. What both paths share lives here, and
:mod:`mosaic_tui.db.engine` uses it too: the SQLite set-up (WAL, busy
timeout, ``BEGIN IMMEDIATE``), the Postgres connect arguments (no server-side
prepared statements unless ``MOSAIC_PG_DIRECT=1``), the bounded retry of a
full server at connect time, and the translation of driver errors into the
errors a user sees (same classes, codes and messages on both paths; no
password in any of them).

Whatever this path cannot do exactly as the full one does -- a URL it does
not read the same way for sure, a SQLite file that does not exist yet, a
schema that is missing or older (the migration runs on first use) -- raises
:class:`NeedsFullPath` before anything is written, and the caller takes the
full path. Imports only the standard library and, when connecting, the driver.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote

from mosaic_tui.db import failures, hotsql
from mosaic_tui.errors import Busy, DatabaseFailure, InvalidInput, Unavailable

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
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected


class NeedsFullPath(Exception):
    """This path cannot do it exactly as the full one would; nothing was written: take the full path."""


# --------------------------------------------------------------------------- where the backlog is
def data_dir() -> Path:
    home = os.environ.get("MOSAIC_HOME")
    if home:
        return Path(home).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("mosaic", appauthor=False))


def default_sqlite_path() -> Path:
    return data_dir() / "fleet" / "backlog.db"


class Where:
    """A backlog location as this path reads it (the same as :func:`mosaic_tui.db.url.resolve`).

    (A plain class: ``dataclasses`` would cost this path the import of ``inspect``.)
    """

    __slots__ = ("backend", "display", "password", "path", "connect_kwargs")

    def __init__(self, backend: str, display: str, *, password: str | None = None, path: Path | None = None,
                 connect_kwargs: dict[str, Any] | None = None):
        self.backend = backend  # "sqlite" | "postgresql"
        self.display = display  # the URL as shown to people: SQLAlchemy's rendering, password as ***
        self.password = password
        self.path = path  # SQLite
        self.connect_kwargs = connect_kwargs or {}  # Postgres, before our connect arguments

    def __repr__(self) -> str:
        return f"Where({self.backend!r}, {self.display!r})"


# SQLAlchemy's URL pattern (sqlalchemy.engine.url._parse_url), so that both paths split a URL alike.
_URL = re.compile(
    r"""
    (?P<name>[\w\+]+)://
    (?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?
    (?:(?:\[(?P<ipv6host>[^/\?]+)\]|(?P<ipv4host>[^/:\?]+))?(?::(?P<port>[^/\?]*))?)?
    (?:/(?P<database>[^\?]*))?
    (?:\?(?P<query>.*))?
    """,
    re.X,
)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def _sqlite(path: Path) -> Where:
    return Where("sqlite", "sqlite:///" + quote(str(path), safe=" +/"), path=path)


def parse(raw: str) -> Where:
    """``raw`` (a --db value or DATABASE_URL) as :func:`mosaic_tui.db.url.parse` reads it, or NeedsFullPath."""
    raw = raw.strip()
    if not raw:
        raise NeedsFullPath("empty URL")
    if not _SCHEME.match(raw) and not raw.startswith("sqlite:"):
        return _sqlite(Path(raw).expanduser().absolute())
    m = _URL.match(raw)
    if m is None or m.end() != len(raw) or m["ipv6host"] is not None:
        raise NeedsFullPath("an unusual URL")
    backend = m["name"].split("+", 1)[0]
    user, password, host, port, database = (m["username"], m["password"], m["ipv4host"], m["port"], m["database"])
    user, password, database = (None if v is None else unquote(v) for v in (user, password, database))
    if backend == "sqlite":
        if m["name"] not in ("sqlite", "sqlite+pysqlite") or any((user is not None, host, port, m["query"])):
            raise NeedsFullPath("an unusual SQLite URL")
        if not database or database == ":memory:":
            raise NeedsFullPath("no file")
        return _sqlite(Path(database).expanduser().absolute())
    if backend not in ("postgres", "postgresql"):
        raise NeedsFullPath("not a backend of ours")
    if port is not None and not port.isdigit():  # also "": the full path says what is wrong
        raise NeedsFullPath("a port that is not a number")
    query: dict[str, str] = {}
    for key, value in parse_qsl(m["query"] or ""):
        if key in query or key in ("host", "port"):  # repeated keys, several hosts: the full path
            raise NeedsFullPath("several hosts")
        query[key] = value
    port_n = None if port is None else int(port)
    display = "postgresql+psycopg://"
    if user is not None:
        display += quote(user, safe=" +") + (":***" if password is not None else "") + "@"
    display += (host or "") + ("" if port_n is None else f":{port_n}")
    if database is not None:
        display += "/" + quote(database, safe=" +/")
    if query:
        display += "?" + "&".join(f"{quote_plus(k)}={quote_plus(query[k])}" for k in sorted(query))
    # As SQLAlchemy's psycopg dialect hands them to psycopg.connect: set parts only, then the query.
    kwargs = {k: v for k, v in (("host", host), ("dbname", database), ("user", user), ("password", password)) if v}
    if port_n:
        kwargs["port"] = port_n
    kwargs.update(query)
    return Where("postgresql", display, password=password, connect_kwargs=kwargs)


def resolve(explicit: str | None = None) -> Where:
    """The --db flag > ``DATABASE_URL`` > the embedded default, as :func:`mosaic_tui.db.url.resolve`."""
    raw = explicit or os.environ.get("DATABASE_URL")
    return parse(raw) if raw else _sqlite(default_sqlite_path())


def check_listen(explicit: str | None = None) -> None:
    """A listen URL (--listen-url > MOSAIC_LISTEN_URL), unused here, that the full path would refuse: NeedsFullPath."""
    raw = explicit or os.environ.get("MOSAIC_LISTEN_URL")
    if raw and parse(raw).backend != "postgresql":
        raise NeedsFullPath("a listen URL that is not Postgres")


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
        if cur.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
    finally:
        cur.close()


def connect_retrying(connect: Callable[[], Any], wait: float, driver_error: type[BaseException]):
    """``connect()``, again with backoff while the server says it is full, for at most ``wait`` seconds.

    Safe for any operation: a connection that was refused has run nothing.
    """
    deadline = time.monotonic() + wait
    delay = 0.05
    while True:
        try:
            return connect()
        except driver_error as exc:
            if not failures.is_busy(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay * random.uniform(0.5, 1.5))  # jitter: a fleet refused at once does not return at once
        delay = min(delay * 2, 1.0)


# --------------------------------------------------------------------------- what a failure means
def scrub(text: str, password: str | None) -> str:
    return text.replace(password, "***") if password else text


def translate(exc: BaseException, *, backend: str, display: str, password: str | None,
              wait: float) -> BaseException:
    """The error a user sees for a driver error (bare, or wrapped with ``.orig``): Busy for a full server,
    Unavailable for a lost or bad database, DatabaseFailure for a statement the server could not run;
    ``exc`` itself for anything else (left to the caller)."""
    msg = str(getattr(exc, "orig", exc))
    if backend == "sqlite" and ("file is not a database" in msg or "malformed" in msg):
        return Unavailable(f"not a backlog: {display} ({msg})")
    kind = failures.classify(exc)
    detail = failures.detail(exc)
    if kind == "busy":
        waited = f" (retried for {wait:g} s)" if wait > 0 else ""
        return Busy(scrub(f"database busy ({display}): the server has no free connection slot (too many clients); "
                          f"retry later{waited}: {detail}", password))
    if kind == "gone" or (kind is None and failures.operational(exc)):
        return Unavailable(scrub(f"database unreachable ({display}): {detail}", password))
    if kind == "failed":
        hint = _PREPARED_HINT if failures.sqlstate(exc) in failures.STATEMENT_SQLSTATES and pg_direct() else ""
        return DatabaseFailure(scrub(f"the database could not run the statement ({display}): {detail}{hint}", password))
    return exc


def not_a_database(display: str) -> Unavailable:
    """A SQLite file that is not a database, met when first opening it."""
    return Unavailable(f"not a backlog: {display} (not a SQLite database)")


def version_is_current(version: str | None) -> bool:
    """Is the schema at ``hotsql.HEAD``? A newer one is refused (this program would not know it)."""
    if version == hotsql.HEAD:
        return True
    if version is not None and version > hotsql.HEAD:
        raise Unavailable(f"this backlog's schema ({version}) is newer than this mosaic-tui ({hotsql.HEAD}); "
                          "upgrade mosaic-tui")
    return False


# --------------------------------------------------------------------------- one transaction
class DriverError(Exception):
    """A driver error and whether it cost the connection, in the shape :mod:`failures` reads."""

    def __init__(self, orig: BaseException, connection_invalidated: bool):
        super().__init__(str(orig))
        self.orig = orig
        self.connection_invalidated = connection_invalidated


def _driver_error(where: Where) -> type[BaseException]:
    if where.backend == "sqlite":
        import sqlite3

        return sqlite3.Error
    import psycopg

    return psycopg.Error


def _connect(where: Where, wait: float):
    if where.backend == "sqlite":
        import sqlite3

        if where.path is None or not where.path.is_file():  # the full path creates it, private, and migrates
            raise NeedsFullPath("no backlog file yet")
        conn = sqlite3.connect(str(where.path), timeout=SQLITE_BUSY_TIMEOUT_S, check_same_thread=False)
        try:
            sqlite_setup(conn)
        except BaseException:
            conn.close()
            raise
        return conn
    import psycopg

    kwargs = {**where.connect_kwargs, **pg_connect_args()}
    if wait > 0:
        return connect_retrying(lambda: psycopg.connect(**kwargs), wait, psycopg.Error)
    return psycopg.connect(**kwargs)


def _missing_table(exc: BaseException) -> bool:
    return failures.sqlstate(exc) == "42P01" or str(exc).startswith("no such table")


def run(where: Where, fn: Callable[[hotsql.Tx], Any], *, wait: float | None = None, attempts: int = 5):
    """``fn(tx)`` in one write transaction, after checking the schema version in it; committed.

    As :meth:`mosaic_tui.db.engine.Database.run` with ``driver=True``: Postgres
    deadlocks and serialization failures are retried; a lost connection is not
    (the write may have committed). Errors come out translated.
    """
    wait = DEFAULT_WAIT_S if wait is None else max(0.0, wait)
    for attempt in range(attempts):
        try:
            return _once(where, fn, wait)
        except DriverError as exc:
            if failures.sqlstate(exc) in RETRYABLE_SQLSTATES and attempt < attempts - 1:
                time.sleep(0.005 * (attempt + 1))
                continue
            raised = translate(exc, backend=where.backend, display=where.display, password=where.password, wait=wait)
            raise (exc.orig if raised is exc else raised) from None


def _once(where: Where, fn, wait: float):
    driver_error = _driver_error(where)
    conn = None
    try:
        conn = _connect(where, wait)
        begin = hotsql.BEGIN_WRITE.get(where.backend)
        if begin is not None:
            conn.execute(begin)
        tx = hotsql.DriverTx(where.backend, conn)
        try:
            row = hotsql.first(tx, hotsql.VERSION)
        except driver_error as exc:
            if _missing_table(exc):
                raise NeedsFullPath("a backlog never migrated") from None
            raise
        if not version_is_current(None if row is None else row[0]):
            raise NeedsFullPath("a migration is due")
        result = fn(tx)
        conn.commit()
        return result
    except BaseException as exc:
        if conn is not None:
            try:
                conn.rollback()
            except Exception:  # noqa: BLE001 - the connection may be gone; closing it is all that is left
                pass
        if isinstance(exc, driver_error):
            if where.backend == "sqlite" and "file is not a database" in str(exc) and conn is None:
                raise not_a_database(where.display) from None
            broken = conn is not None and bool(getattr(conn, "closed", False) or getattr(conn, "broken", False))
            raise DriverError(exc, broken) from exc
        raise
    finally:
        if conn is not None:
            conn.close()
