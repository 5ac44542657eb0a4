"""Time arithmetic in SQL, the lines that differ between SQLite and Postgres.

Flow figures bucket events by time and measure durations inside the
database (see ``mosaic_tui.flow``). Postgres has ``timestamptz`` and
``extract(epoch ...)``; SQLite stores fixed-width UTC text
(``YYYY-MM-DD HH:MM:SS.fff[fff]``, the triggers write milliseconds, our
own writes microseconds) and has ``strftime('%s')`` and ``julianday``, which
read milliseconds. Both spellings give the same integers.
"""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import BigInteger
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from mosaic_tui.db.types import UTCDateTime


class EpochSecond(FunctionElement):
    """The whole second (floor) of a timestamp since 1970-01-01 UTC, as an integer: ``EpochSecond(col)``."""

    type = BigInteger()
    inherit_cache = True
    name = "epoch_second"


@compiles(EpochSecond, "postgresql")
def _epoch_second_pg(element, compiler, **kw):
    (ts,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(floor(extract(epoch FROM {ts})) AS BIGINT)"


@compiles(EpochSecond, "sqlite")
def _epoch_second_sqlite(element, compiler, **kw):
    (ts,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(strftime('%s', {ts}) AS INTEGER)"


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
    fraction (``.000`` from a trigger, ``.000000`` from an import): the limit
    agrees with :class:`EpochSecond`.
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
