"""Prepared statements: a SQLAlchemy statement compiled once per dialect, run straight through the driver.

A read or write that runs many times a second and does little database work
(the event cursor's read; the hot verbs used to be here too, and are now SQL
text in :mod:`mosaic_tui.db.verbs_sql`) pays more for SQLAlchemy's per-call work
-- building the statement, computing its cache key, setting up the execution
context and the result -- than for the database; on SQLite a write spends it
while the write lock is held, which caps every worker together
(``docs/performance/claim.md``). A :class:`Prepared` statement
is still written once, in SQLAlchemy, for both backends; it is compiled once per dialect, and each call
only orders the parameters, converts them with the columns' own bind
processors and hands the SQL string to the DBAPI cursor. Rows come back as the
driver returns them (named tuples); :meth:`Prepared.decode` applies the
columns' result processors, after the transaction.

Every value is a bound parameter: the SQL text is fixed when the statement is
compiled and never contains a value.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from sqlalchemy.exc import DBAPIError

_NO_DEFAULT = object()


def _fetchone(cursor):
    return cursor.fetchone()


def _fetchall(cursor):
    return cursor.fetchall()


class _Compiled:
    """One statement compiled for one dialect: the SQL text and how to bind and decode."""

    __slots__ = ("sql", "positional", "binds", "order", "decoders", "driver_error")

    def __init__(self, statement, dialect):
        compiled = statement.compile(dialect=dialect)
        sql = compiled.string
        if "POSTCOMPILE" in sql:  # an expanding IN or a literal_execute bind: not preparable
            raise ValueError("a Prepared statement cannot contain expanding parameters (IN lists)")
        self.sql = sql
        self.positional = dialect.positional
        by_name = {name: bind for bind, name in compiled.bind_names.items()}  # as rendered in the SQL
        names = list(compiled.positiontup) if dialect.positional else list(by_name)
        self.binds = []  # (name, default or _NO_DEFAULT, bind processor or None), each name once
        for name in dict.fromkeys(names):
            bind = by_name[name]
            default = _NO_DEFAULT if bind.required else bind.effective_value
            self.binds.append((name, default, bind.type.dialect_impl(dialect).bind_processor(dialect)))
        # Positional: where each placeholder's value is in self.binds (a name may be used twice, e.g. "now").
        self.order = [list(dict.fromkeys(names)).index(n) for n in names] if self.positional else None
        self.decoders = [
            (i, proc)
            for i, col in enumerate(statement.exported_columns)
            if (proc := col.type.dialect_impl(dialect).result_processor(dialect, None)) is not None
        ]
        self.driver_error = dialect.loaded_dbapi.Error

    def parameters(self, given: dict[str, Any]):
        values = []
        for name, default, proc in self.binds:
            value = given[name] if default is _NO_DEFAULT else given.get(name, default)
            values.append(proc(value) if proc is not None else value)
        if self.positional:
            return tuple([values[i] for i in self.order])
        return dict(zip((name for name, _, _ in self.binds), values))


class Prepared:
    """A SQLAlchemy statement run through the DBAPI cursor of a transaction's connection.

    ``conn`` is anything with ``.dialect`` and ``.connection.dbapi_connection``:
    a SQLAlchemy ``Connection`` or the driver transaction of
    :meth:`mosaic_tui.db.engine.Database.run` (``driver=True``). Driver errors
    are raised as SQLAlchemy ``DBAPIError`` subclasses, as ``Connection``
    would raise them.
    """

    __slots__ = ("statement", "Row", "_by_dialect")

    def __init__(self, statement):
        self.statement = statement
        self.Row = namedtuple("Row", [c.key for c in statement.exported_columns])
        self._by_dialect: dict[str, _Compiled] = {}

    def compiled(self, dialect) -> _Compiled:
        c = self._by_dialect.get(dialect.name)
        if c is None:
            c = self._by_dialect[dialect.name] = _Compiled(self.statement, dialect)
        return c

    def _run(self, conn, params, fetch):
        c = self.compiled(conn.dialect)
        args = c.parameters(params)
        dbapi_connection = conn.connection.dbapi_connection
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(c.sql, args)
            return fetch(cursor)
        except c.driver_error as exc:
            raise DBAPIError.instance(
                c.sql, args, exc, c.driver_error,
                connection_invalidated=conn.dialect.is_disconnect(exc, dbapi_connection, cursor),
                dialect=conn.dialect,
            ) from exc
        finally:
            cursor.close()

    def first(self, conn, **params):
        """The first row (raw driver values, a named tuple), or None."""
        row = self._run(conn, params, _fetchone)
        return None if row is None else self.Row._make(row)

    def all(self, conn, **params) -> list:
        """Every row (raw driver values, named tuples)."""
        return list(map(self.Row._make, self._run(conn, params, _fetchall)))

    def decode(self, dialect, row) -> dict[str, Any]:
        """A raw row's values as Python values (the column types' rules), by column name."""
        values = list(row)
        for i, proc in self.compiled(dialect).decoders:
            values[i] = proc(values[i])
        return dict(zip(self.Row._fields, values))
