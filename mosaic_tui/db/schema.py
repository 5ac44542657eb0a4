"""Migrations on first use.

``ensure`` costs one query when the schema is current (no Alembic import):
it reads our own version table and compares it with ``HEAD``. Only when that
differs does it import Alembic and upgrade, under a lock so that two processes
starting at once on a fresh database do not both migrate. The lock belongs to
the migration's own transaction on both backends: a transaction-scoped
advisory lock (``pg_advisory_xact_lock``) on Postgres, taken as the first
statement of the transaction that migrates (so it works behind a transaction
pooler, where a session lock and its unlock may land on different server
connections), and the ``BEGIN IMMEDIATE`` transaction on SQLite. It is
released by the commit or the rollback, whatever happens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from mosaic_tui.db.connections import not_a_database, version_is_current
from mosaic_tui.db.verbs_sql import HEAD, VERSION_TABLE
from mosaic_tui.db.url import Target
from mosaic_tui.errors import Unavailable

__all__ = ["HEAD", "VERSION_TABLE", "current_version", "ensure", "migrate", "migrations_dir"]


class Database(Protocol):
    """What this module needs of a :class:`mosaic_tui.db.engine.Database`.

    A protocol, not an import: the engine calls ``ensure`` on first use, so
    importing it back here would be an import circle.
    """

    engine: Engine
    backend: str
    target: Target

_PG_LOCK_KEY = 0x6D6F7361  # "mosa"


def migrations_dir() -> Path:
    """``migrations/`` of the checkout, or its copy inside an installed wheel."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_migrations", here.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise Unavailable("mosaic-tui is installed without its migrations (reinstall the package)")


def current_version(conn: Connection) -> str | None:
    """The schema revision, or None when the database has never been migrated."""
    if conn.dialect.name == "postgresql":
        # A read of the catalog under the statement's own snapshot, not a name lookup (to_regclass): a
        # backend that waited for the migration lock inside its transaction may still hold a cached
        # "no such table" from before the other one's commit (caches catch up at the next relation lock).
        exists = conn.execute(text(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
            "ON n.oid = c.relnamespace WHERE c.relname = :t AND n.nspname = current_schema())"
        ), {"t": VERSION_TABLE}).scalar()
    else:
        exists = conn.execute(
            text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": VERSION_TABLE}
        ).scalar()
    if not exists:
        return None
    return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def _upgrade(conn: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


_check = version_is_current


def ensure(db: Database) -> str:
    engine = db.engine
    try:
        with engine.connect().execution_options(mosaic_readonly=True) as conn:
            if _check(current_version(conn)):
                return HEAD
    except DBAPIError as exc:
        msg = str(getattr(exc, "orig", exc))
        if "file is not a database" in msg:
            raise not_a_database(db.target.display()) from None
        raise
    return migrate(db)


def migrate(db: Database) -> str:
    """Bring the schema to HEAD, once, whoever else is starting at the same moment."""
    engine = db.engine
    with engine.connect() as conn, conn.begin():  # SQLite: BEGIN IMMEDIATE, which holds the write lock
        if db.backend == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        if not _check(current_version(conn)):  # re-read under the lock: someone may have just done it
            _upgrade(conn)
    return HEAD
