"""The hot path's SQL, written once for both backends, and how its values cross the driver.

The agent's verbs (claim, heartbeat, complete, and the other status changes)
run these statements, and nothing else, through the DBAPI driver itself: in a
long-lived process through the pooled connections of
:class:`mosaic_tui.db.engine.Database` (``run(driver=True)``), in a one-shot
command through :mod:`mosaic_tui.db.connections`, which imports neither SQLAlchemy
nor SQLModel. Both run the same text from here, so they write the same rows
and, through the triggers, the same events.

Between SQLite and Postgres only these differ: the lease's end
(:data:`LEASE_END`), ``FOR UPDATE [SKIP LOCKED]`` (SQLite's ``BEGIN
IMMEDIATE`` already makes a write transaction exclusive), and the
placeholders (``:name`` is written here; psycopg gets ``%(name)s``).

Every value is a bound parameter; the text holds only constants (statuses,
``NULL``, ``LIMIT 1``). Imports only the standard library.
"""

from __future__ import annotations

import json
import re
from collections import namedtuple
from datetime import UTC, datetime
from typing import Any, Protocol

STATUSES = ("ready", "claimed", "blocked", "done")
#: The ``backlog`` table's columns, in table order (``mosaic_tui.db.models.Card`` asserts it follows them).
CARD_COLUMNS = (
    "id", "title", "body", "phase", "priority", "status", "depends_on", "claim_owner", "claim_ttl_seconds",
    "claimed_at", "attempts", "idempotency_key", "acceptance", "created_at", "updated_at", "unmet_deps",
)
TIMESTAMP_COLUMNS = ("claimed_at", "created_at", "updated_at")
# SQLite keeps timestamps as fixed-width UTC text, so that they sort and compare as text.
SQLITE_TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
# Our own Alembic version table (the fleet's migrations keep theirs), and the newest revision in
# migrations/versions (a test keeps them in step).
VERSION_TABLE = "mosaic_tui_alembic_version"
HEAD = "0004"

# --------------------------------------------------------------------------- what differs
#: ``claimed_at + claim_ttl_seconds``: when a claim's lease ends (same text format as SQLITE_TS_FORMAT on SQLite).
LEASE_END = {
    "postgresql": "({claimed_at} + make_interval(secs => {ttl}))",
    "sqlite": "strftime('%Y-%m-%d %H:%M:%f000', {claimed_at}, '+' || {ttl} || ' seconds')",
}
_LEASE = {"claimed_at": "backlog.claimed_at", "ttl": "backlog.claim_ttl_seconds"}
_SLOTS = {
    "postgresql": {"lock": " FOR UPDATE", "skip_locked": " FOR UPDATE SKIP LOCKED", "key_share": " FOR KEY SHARE",
                   "lease_end": LEASE_END["postgresql"].format(**_LEASE)},
    "sqlite": {"lock": "", "skip_locked": "", "key_share": "", "lease_end": LEASE_END["sqlite"].format(**_LEASE)},
}
#: How a driver transaction begins (psycopg opens one by itself: not autocommit).
BEGIN_WRITE = {"sqlite": "BEGIN IMMEDIATE"}
BEGIN_READ = {"sqlite": "BEGIN"}
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class Sql:
    """One statement: a template with ``:name`` parameters and the slots of :data:`_SLOTS`; ``columns``:
    the names of what it returns (its rows come back as named tuples of them)."""

    __slots__ = ("template", "params", "make", "_text")

    def __init__(self, template: str, columns: tuple[str, ...] = ()):
        self.template = " ".join(template.split())
        self.params = tuple(dict.fromkeys(_PARAM.findall(self.template)))
        self.make = namedtuple("Row", columns)._make if columns else tuple  # a row from the driver's
        self._text: dict[str, str] = {}

    def text(self, backend: str) -> str:
        """The statement as the backend's driver takes it."""
        t = self._text.get(backend)
        if t is None:
            t = self.template.format(**_SLOTS[backend])
            if backend == "postgresql":
                t = _PARAM.sub(r"%(\1)s", t.replace("%", "%%"))
            self._text[backend] = t
        return t

    def __repr__(self) -> str:
        return f"Sql({self.template!r})"


_CARD = ", ".join(CARD_COLUMNS)

FETCH = Sql(f"SELECT {_CARD} FROM backlog WHERE id = :card_id", CARD_COLUMNS)
FETCH_LOCKED = Sql(f"SELECT {_CARD} FROM backlog WHERE id = :card_id{{lock}}", CARD_COLUMNS)
VERSION = Sql(f"SELECT version_num FROM {VERSION_TABLE}", ("version_num",))

_CLEAR_CLAIM = "claim_owner = NULL, claim_ttl_seconds = NULL, claimed_at = NULL"


#: Claims whose lease has ended, with what the system note says of them (locked; others' locked rows skipped).
ENDED = Sql("""
    SELECT backlog.id, backlog.claim_owner, backlog.claim_ttl_seconds, backlog.attempts FROM backlog
    WHERE backlog.status = 'claimed' AND {lease_end} < :now ORDER BY backlog.id{skip_locked}""",
            ("id", "claim_owner", "claim_ttl_seconds", "attempts"))


def _reclaim(to_status: str) -> Sql:
    """An ended lease (card ``:card_id``, found by :data:`ENDED` and locked) back to ``to_status``."""
    return Sql(f"""
        UPDATE backlog SET status = '{to_status}', {_CLEAR_CLAIM}, updated_at = :now
        WHERE backlog.id = :card_id AND backlog.status = 'claimed' RETURNING id""", ("id",))


RECLAIM = _reclaim("ready")
RECLAIM_CAPPED = _reclaim("blocked")

# --------------------------------------------------------------------------- notes
#: The card exists (and stays, until commit: a key-share lock on Postgres, which no claim or status change
#: waits on; SQLite's write transaction is exclusive anyway).
CARD_KEPT = Sql("SELECT id FROM backlog WHERE id = :card_id{key_share}", ("id",))
NOTE_COLUMNS = ("id", "card_id", "author", "kind", "body", "at")
ADD_NOTE = Sql("INSERT INTO backlog_notes (card_id, author, kind, body, at) VALUES (:card_id, :author, :kind, :body, "
               f":now) RETURNING {', '.join(NOTE_COLUMNS)}", NOTE_COLUMNS)


def _claim(by_id: bool) -> Sql:
    """The first claimable card in claim order (or card ``:card_id`` if claimable), claimed for ``:owner``.

    ``'ready'`` and ``0`` are literals, not parameters: both planners must see
    the partial index's predicate to use it.
    """
    one = " AND backlog.id = :card_id" if by_id else ""
    return Sql(f"""
        WITH pick AS (SELECT backlog.id AS pick_id FROM backlog
                      WHERE backlog.status = 'ready' AND backlog.unmet_deps = 0{one}
                      ORDER BY backlog.priority DESC, backlog.created_at, backlog.id LIMIT 1{{skip_locked}})
        UPDATE backlog SET status = 'claimed', claim_owner = :owner, claim_ttl_seconds = :ttl, claimed_at = :now,
                           attempts = backlog.attempts + 1, updated_at = :now
        FROM pick WHERE backlog.id = pick.pick_id
        RETURNING {_CARD}""", CARD_COLUMNS)


CLAIM = _claim(by_id=False)
CLAIM_BY_ID = _claim(by_id=True)

HEARTBEAT = Sql(f"UPDATE backlog SET claim_ttl_seconds = :ttl, updated_at = :now WHERE id = :card_id RETURNING {_CARD}",
                CARD_COLUMNS)
HEARTBEAT_UNSTAMPED = Sql(  # a claimed card without claimed_at (written by another program)
    f"UPDATE backlog SET claim_ttl_seconds = :ttl, claimed_at = :now, updated_at = :now WHERE id = :card_id "
    f"RETURNING {_CARD}", CARD_COLUMNS
)

_TRANSITIONS: dict[tuple, Sql] = {}


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if value in STATUSES:
        return f"'{value}'"
    raise ValueError(f"not a constant of a status change: {value!r}")


def transition(allowed: tuple[str, ...], values: tuple[tuple[str, Any], ...], owned: bool) -> Sql:
    """``UPDATE backlog SET values, updated_at = :now WHERE id = :card_id AND status IN (allowed)
    [AND claim_owner = :owner]``, once per shape. ``values``: (column, a status or None) pairs."""
    key = (allowed, values, owned)
    stmt = _TRANSITIONS.get(key)
    if stmt is None:
        if any(c not in CARD_COLUMNS for c, _ in values):
            raise ValueError(f"unknown column in {values!r}")
        sets = ", ".join(f"{c} = {_literal(v)}" for c, v in values)
        statuses = ", ".join(_literal(s) for s in allowed)
        own = " AND claim_owner = :owner" if owned else ""
        stmt = _TRANSITIONS[key] = Sql(
            f"UPDATE backlog SET {sets}, updated_at = :now WHERE id = :card_id AND status IN ({statuses}){own} "
            f"RETURNING {_CARD}", CARD_COLUMNS
        )
    return stmt


# --------------------------------------------------------------------------- running them
class Tx(Protocol):
    """A transaction on a DBAPI connection: what the functions below need."""

    backend: str  # "sqlite" | "postgresql"
    dbapi: Any  # the driver's connection, inside its transaction


class DriverTx:
    """A :class:`Tx`: a backend's name and a DBAPI connection inside its transaction."""

    __slots__ = ("backend", "dbapi")

    def __init__(self, backend: str, dbapi):
        self.backend = backend
        self.dbapi = dbapi


def as_tx(conn) -> Tx:
    """``conn`` as a :class:`Tx`: a driver transaction as it is, or a SQLAlchemy ``Connection`` inside its
    transaction (its dialect's name and its DBAPI connection), so a hot verb can also run in one."""
    if hasattr(conn, "backend") and hasattr(conn, "dbapi"):
        return conn
    return DriverTx(conn.dialect.name, conn.connection.dbapi_connection)


def _aware_utc(value: datetime) -> datetime:
    return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).astimezone(UTC)


def sqlite_timestamp(value: datetime) -> str:
    """A timestamp as SQLite keeps it (naive taken as UTC)."""
    return _aware_utc(value).strftime(SQLITE_TS_FORMAT)


def to_utc(value: Any) -> datetime | None:
    """A stored timestamp (SQLite text or a driver datetime) as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _params(stmt: Sql, backend: str, given: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name in stmt.params:
        value = given[name]
        if isinstance(value, datetime):  # as mosaic_tui.db.types.UTCDateTime binds it
            value = sqlite_timestamp(value) if backend == "sqlite" else _aware_utc(value)
        out[name] = value
    return out


def _execute(tx: Tx, stmt: Sql, params: dict[str, Any], fetch):
    cursor = tx.dbapi.cursor()
    try:
        cursor.execute(stmt.text(tx.backend), _params(stmt, tx.backend, params))
        return fetch(cursor)
    finally:
        cursor.close()


def first(tx: Tx, stmt: Sql, **params) -> tuple | None:
    """The first row the statement returns (raw driver values, a named tuple), or None."""
    row = _execute(tx, stmt, params, lambda c: c.fetchone())
    return None if row is None else stmt.make(row)


def rows(tx: Tx, stmt: Sql, **params) -> list[tuple]:
    """Every row the statement returns (raw driver values, named tuples)."""
    return [stmt.make(r) for r in _execute(tx, stmt, params, lambda c: c.fetchall())]


def decode_card(backend: str, row: tuple) -> dict[str, Any]:
    """A raw card row (every column, table order) as Python values by column name: timestamps aware UTC,
    JSON parsed (SQLite keeps it as text; psycopg parses jsonb itself)."""
    if len(row) != len(CARD_COLUMNS):
        raise ValueError("a card row must hold every column of the backlog table")
    values = dict(zip(CARD_COLUMNS, row))
    for c in TIMESTAMP_COLUMNS:
        values[c] = to_utc(values[c])
    if backend == "sqlite":
        for c in ("depends_on", "acceptance"):
            if isinstance(values[c], str):
                values[c] = json.loads(values[c])
    return values
