"""Migrations on first use.

``ensure`` costs one query when the schema is current (no Alembic import):
it reads our own version table and compares it with ``HEAD``. Only when that
differs does it import Alembic and upgrade, under a lock so that two processes
starting at once on a fresh database do not both migrate: a session advisory
lock on Postgres, a ``BEGIN IMMEDIATE`` transaction on SQLite (the migration
runs inside it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from mosaic_tui.db.url import Target
from mosaic_tui.errors import Unavailable


class Database(Protocol):
    """What this module needs of a :class:`mosaic_tui.db.engine.Database`.

    A protocol, not an import: the engine calls ``ensure`` on first use, so
    importing it back here would be an import circle.
    """

    engine: Engine
    backend: str
    target: Target

# Our own Alembic version table: the fleet's migrations keep theirs.
VERSION_TABLE = "mosaic_tui_alembic_version"
# The newest revision in migrations/versions (a test keeps them in step).
HEAD = "0002"
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
        exists = conn.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": VERSION_TABLE}).scalar()
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


def _check(version: str | None) -> bool:
    if version == HEAD:
        return True
    if version is not None and version > HEAD:
        raise Unavailable(f"this backlog's schema ({version}) is newer than this mosaic-tui ({HEAD}); upgrade mosaic-tui")
    return False


def ensure(db: Database) -> str:
    engine = db.engine
    try:
        with engine.connect().execution_options(mosaic_readonly=True) as conn:
            if _check(current_version(conn)):
                return HEAD
    except DBAPIError as exc:
        msg = str(getattr(exc, "orig", exc))
        if "file is not a database" in msg:
            raise Unavailable(f"not a backlog: {db.target.display()} (not a SQLite database)") from None
        raise
    return migrate(db)


def migrate(db: Database) -> str:
    """Bring the schema to HEAD, once, whoever else is starting at the same moment."""
    engine = db.engine
    if db.backend == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            conn.commit()
            try:
                with conn.begin():
                    if not _check(current_version(conn)):
                        _upgrade(conn)
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                conn.commit()
    else:
        with engine.connect() as conn, conn.begin():  # BEGIN IMMEDIATE: holds the write lock
            if not _check(current_version(conn)):
                _upgrade(conn)
    return HEAD
