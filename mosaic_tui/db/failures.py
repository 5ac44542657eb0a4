"""What a driver error means for whoever meets it: the server is full, gone, or refused a statement.

* ``busy``: the server (or a pooler in front of it) has no connection slot to
  spare: Postgres' ``too many clients already`` / ``too many connections for
  role|database`` (SQLSTATE 53300, or only the message when it comes at
  connect time), PgBouncer's ``no more connections allowed`` and
  ``query_wait_timeout``. Worth retrying after a pause.
* ``gone``: no connection, or it was lost (connect failures, class 08 but the
  protocol violation, an administrator's or a crash's shutdown).
* ``failed``: the server answered, on a connection that is still there, but
  could not run the statement (a protocol violation, a prepared statement
  that is missing or already there, a timeout, out of memory...). Never
  "unreachable".
* ``read_only``: a read-only standby (or a read-only session) refused a
  write (SQLSTATE 25006), or at connect time no host of the URL was the
  writable primary that ``target_session_attrs`` asked for (``no_primary``).
* ``None``: an ordinary statement error (a constraint, a syntax error): left
  to the caller (the repository turns some into conflicts).

Driver-neutral: works on psycopg's and sqlite3's exceptions, bare or wrapped
in SQLAlchemy's ``DBAPIError`` (``.orig``).
"""

from __future__ import annotations

import re

BUSY_SQLSTATES = frozenset({"53300"})  # too_many_connections
BUSY_PHRASES = (
    "too many clients",
    "too many connections",
    "remaining connection slots are reserved",
    "no more connections allowed",  # PgBouncer's max_client_conn
    "query_wait_timeout",  # PgBouncer: no server connection came free in time
)
GONE_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})  # admin shutdown, crash shutdown, cannot connect now
# PgBouncer reports its own troubles as protocol violations (08P01); these mean "no server".
GONE_PHRASES = (
    "pgbouncer cannot connect to server",
    "server conn crashed",
    "server login has been failing",
    "client_idle_timeout",
    "idle transaction timeout",
    "server shutting down",
    "database shutting down",
)
READ_ONLY_SQLSTATES = frozenset({"25006"})  # read_only_sql_transaction
# libpq at connect time, when target_session_attrs finds no host that fits (e.g. during a failover).
NO_PRIMARY_PHRASES = ("session is read-only", "server is in hot standby mode", "server is not in hot standby mode")
DENIED_SQLSTATE = "42501"  # insufficient_privilege: the role may not (create the schema, read or write a table)
# Statement errors that a transaction pooler causes when session state is relied on.
STATEMENT_SQLSTATES = frozenset({"08P01", "26000", "42P05"})  # protocol violation, no such / duplicate prepared statement


def _orig(exc: BaseException) -> BaseException:
    return getattr(exc, "orig", None) or exc


def sqlstate(exc: BaseException) -> str | None:
    return getattr(_orig(exc), "sqlstate", None)


def detail(exc: BaseException) -> str:
    """The driver's message, on one line (without SQLAlchemy's statement and parameters)."""
    orig = _orig(exc)
    return " ".join(str(orig).split()) or type(orig).__name__


_SERVER_AT = re.compile(r'connection to server (?:at "([^"]*)"(?: \([^)]*\))?, port (\d+)|on socket "([^"]*)") failed: '
                        r'(?:FATAL:\s+|ERROR:\s+)?([^\n]*)')
_RESOLVE = re.compile(r"failed to resolve host '([^']*)': (?:\[Errno [^]]*\] )?([^\n]*)")
BRIEF_CHARS = 150


def brief(exc: BaseException) -> str:
    """The driver's message in few characters: for a failed connect, each host and what it said once
    (libpq's multi-host dump is a kilobyte), e.g. ``127.0.0.1:5441: Connection refused; ...``."""
    text = str(_orig(exc))
    text = text.partition("All failures were:")[2] or text  # psycopg's per-host list, in the URL's order
    said: dict[str, str] = {}
    for m in _SERVER_AT.finditer(text):
        where = f"{m[1]}:{m[2]}" if m[1] is not None else m[3]
        said.setdefault(where, m[4].strip())
    for m in _RESOLVE.finditer(text):
        said.setdefault(m[1], m[2].strip())
    line = "; ".join(f"{k}: {v}" for k, v in said.items()) if said else detail(exc)
    return line if len(line) <= BRIEF_CHARS else line[:BRIEF_CHARS - 1] + "…"


def operational(exc: BaseException) -> bool:
    """A driver's OperationalError (what SQLAlchemy wraps as its own OperationalError)."""
    return any(c.__name__ == "OperationalError" for c in type(_orig(exc)).__mro__)



def classify(exc: BaseException) -> str | None:
    """``"busy"``, ``"gone"``, ``"failed"`` or None (see the module's docstring)."""
    state = sqlstate(exc)
    message = str(_orig(exc)).lower()
    if state in BUSY_SQLSTATES or any(p in message for p in BUSY_PHRASES):
        return "busy"
    if state in READ_ONLY_SQLSTATES:
        return "read_only"
    if state is None and operational(exc) and any(p in message for p in NO_PRIMARY_PHRASES):
        return "no_primary"
    invalidated = bool(getattr(exc, "connection_invalidated", False))
    if state is None:  # no answer from a server: a failed or lost connection
        return "gone" if operational(exc) or invalidated else None
    if state in GONE_SQLSTATES or (state.startswith("08") and state != "08P01"):
        return "gone"
    if any(p in message for p in GONE_PHRASES):
        return "gone"
    if state in STATEMENT_SQLSTATES or operational(exc):
        return "failed"
    return "gone" if invalidated else None


def is_busy(exc: BaseException) -> bool:
    return classify(exc) == "busy"
