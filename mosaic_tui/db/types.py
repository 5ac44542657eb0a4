"""Column types that read and write the same Python values on both backends."""

from __future__ import annotations

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

from mosaic_tui.db.verbs_sql import SQLITE_TS_FORMAT, sqlite_timestamp, to_utc

__all__ = ["SQLITE_TS_FORMAT", "UTCDateTime", "json_type"]


class UTCDateTime(TypeDecorator):
    """A UTC timestamp: ``timestamptz`` on Postgres, fixed-width sortable text on SQLite.

    Values come back timezone-aware (UTC) on both backends; naive values going
    in are taken as UTC. (The conversions are :mod:`mosaic_tui.db.verbs_sql`'s, which
    the hot path's statements use without SQLAlchemy.)
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            return sqlite_timestamp(value)
        return to_utc(value)

    def process_result_value(self, value, dialect):
        return to_utc(value)


def json_type(none_as_null: bool = False):
    return JSON(none_as_null=none_as_null).with_variant(JSONB(none_as_null=none_as_null), "postgresql")
