"""Time arithmetic in SQL, the lines that differ between SQLite and Postgres.

Flow figures bucket events by time and measure durations inside the
database (see ``mosaic_tui.repository.watch.flow``). Postgres has ``timestamptz`` and
``extract(epoch ...)``; SQLite stores UTC text (``YYYY-MM-DD HH:MM:SS.fff``
from the triggers, ``.ffffff`` from our own writes) and has ``julianday``,
which reads milliseconds. Both spellings give the same integers.
"""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import BigInteger, Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from mosaic_tui.db.types import UTCDateTime


class MillisBetween(FunctionElement):
    """``later - earlier`` in whole milliseconds (rounded), an integer: ``MillisBetween(later, earlier)``."""

    type = BigInteger()
    inherit_cache = True
    name = "millis_between"


@compiles(MillisBetween, "postgresql")
def _millis_pg(element, compiler, **kw):
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(round(extract(epoch FROM ({later} - {earlier})) * 1000) AS BIGINT)"


@compiles(MillisBetween, "sqlite")
def _millis_sqlite(element, compiler, **kw):
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(round((julianday({later}) - julianday({earlier})) * 86400000.0) AS INTEGER)"


class WholeSecondUTC(UTCDateTime):
    """A bound lower limit on a whole second (``at >= :start``).

    On SQLite the limit is bound as ``YYYY-MM-DD HH:MM:SS`` (no fraction), which
    sorts before every stored time of that second whatever the width of its
    fraction (``.000`` from a trigger, ``.000000`` from an import), so
    ``lo <= at < hi`` puts every event of a second on the same side.
    """

    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.microsecond:
            raise ValueError("a whole-second limit must fall on a whole second")
        if dialect.name == "sqlite" and value is not None:
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        return super().process_bind_param(value, dialect)


def plan_aggregates(conn) -> None:
    """Plan this transaction's aggregate queries for a quick answer.

    Postgres JIT-compiles a query whose estimated cost passes ``jit_above_cost``;
    for the flow figures over a week of a busy fleet that compilation alone took
    ~200 ms, more than the query. And it cannot guess how many groups a
    grouping by time bucket makes, so it plans for one per event and sorts them
    on disk past ``work_mem`` (4 MB by default): 16 MB keeps a week's sort in
    memory. ``SET LOCAL`` lasts until the end of the (read) transaction. SQLite
    has neither.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL jit = off")
        conn.exec_driver_sql("SET LOCAL work_mem = '16MB'")


class Seconds(FunctionElement):
    """``later - earlier`` in seconds (a float). ``Seconds(later, earlier)``."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(Seconds, "postgresql")
def _seconds_pg(element, compiler, **kw):
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"


@compiles(Seconds, "sqlite")
def _seconds_sqlite(element, compiler, **kw):
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"
