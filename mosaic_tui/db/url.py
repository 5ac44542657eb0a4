"""Where the backlog lives, and how its URL is shown.

Precedence: an explicit URL (the ``--db`` flag) > ``DATABASE_URL`` > the
embedded default, a SQLite file at ``<data dir>/fleet/backlog.db`` where the
data dir is ``MOSAIC_HOME`` or the platform's user data dir for ``mosaic``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from mosaic_tui.db.direct import data_dir, default_sqlite_path
from mosaic_tui.errors import InvalidInput

__all__ = ["Target", "data_dir", "default_sqlite_path", "parse", "redact", "resolve", "resolve_listen", "scrub"]

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


@dataclass(frozen=True)
class Target:
    """A resolved backlog location."""

    url: URL
    backend: str  # "sqlite" | "postgresql"
    source: str  # "flag" | "DATABASE_URL" | "default"

    @property
    def path(self) -> Path | None:
        if self.backend == "sqlite" and self.url.database and self.url.database != ":memory:":
            return Path(self.url.database)
        return None

    def display(self) -> str:
        return redact(self.url)


def redact(url: URL | str) -> str:
    """The URL as text with any password replaced by ``***``."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        # Not parseable: hide anything that looks like user:password@.
        return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", url)


def scrub(text: str, url: URL | None) -> str:
    """Remove the password of ``url`` from an arbitrary message."""
    if url is not None and url.password:
        text = text.replace(str(url.password), "***")
    return text


def resolve(explicit: str | None = None) -> Target:
    """Resolve the backlog's location from a flag, the environment or the default."""
    if explicit:
        raw, source = explicit, "flag"
    elif os.environ.get("DATABASE_URL"):
        raw, source = os.environ["DATABASE_URL"], "DATABASE_URL"
    else:
        return Target(URL.create("sqlite", database=str(default_sqlite_path())), "sqlite", "default")
    return parse(raw, source)


def resolve_listen(explicit: str | None = None) -> Target | None:
    """The URL of the change feed's listening connection: the ``--listen-url`` flag >
    ``MOSAIC_LISTEN_URL`` > None (listen where the backlog is).

    Under a transaction pooler LISTEN cannot work; this points the one
    listening connection at the server itself or at the pooler's session mode.
    """
    if explicit:
        raw, source = explicit, "flag"
    elif os.environ.get("MOSAIC_LISTEN_URL"):
        raw, source = os.environ["MOSAIC_LISTEN_URL"], "MOSAIC_LISTEN_URL"
    else:
        return None
    target = parse(raw, source)
    if target.backend != "postgresql":
        what = "--listen-url" if source == "flag" else source
        raise InvalidInput(f"{what} must be a postgresql:// URL, not {target.display()}")
    return target


def parse(raw: str, source: str = "flag") -> Target:
    raw = raw.strip()
    if not raw:
        raise InvalidInput("empty database URL")
    if not _SCHEME.match(raw) and not raw.startswith("sqlite:"):
        # A plain file path means an embedded SQLite file.
        path = Path(raw).expanduser().absolute()
        return Target(URL.create("sqlite", database=str(path)), "sqlite", source)
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):  # ValueError: e.g. a port that is not a number
        raise InvalidInput(f"not a database URL: {redact(raw)}") from None
    name = url.get_backend_name()
    if name in ("postgres", "postgresql"):
        # psycopg 3, whatever SQLAlchemy's default driver is.
        url = url.set(drivername="postgresql+psycopg")
        return Target(url, "postgresql", source)
    if name == "sqlite":
        if url.get_driver_name() not in ("pysqlite", "") and url.drivername != "sqlite":
            raise InvalidInput(f"unsupported SQLite driver in {redact(url)} (use sqlite:///path)")
        db = url.database or ""
        if not db or db == ":memory:":
            raise InvalidInput("an in-memory SQLite database cannot hold a backlog; give a file path")
        url = url.set(drivername="sqlite", database=str(Path(db).expanduser().absolute()))
        return Target(url, "sqlite", source)
    raise InvalidInput(
        f"unsupported database {redact(url)}: use postgresql://..., postgres://..., sqlite:///path or a file path"
    )
