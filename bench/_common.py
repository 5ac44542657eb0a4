"""Helpers shared by the benchmarks: fresh databases and fast bulk loads."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

ADMIN = os.environ.get("MOSAIC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pct(values, q: float):
    """The ``q`` quantile of ``values`` (0.5: the median, 0.9: p90), the nearest rank; None for no values."""
    values = sorted(values)
    if not values:
        return None
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


def fresh_url(backend: str, *, admin: str | None = None) -> tuple[str, Callable[[], None]]:
    """A URL of a new empty database and a function that removes it.

    ``sqlite``: a file in a new temporary folder (removed with it). Otherwise a
    new database on the Postgres server at ``admin`` (default: ``MOSAIC_TEST_PG_URL``),
    dropped ``WITH (FORCE)``. The URL suits both the project and the bare driver.
    """
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="mosaic-bench-"))
        return str(folder / "backlog.db"), (lambda: shutil.rmtree(folder, ignore_errors=True))
    import psycopg
    from sqlalchemy.engine import make_url

    admin = (admin or ADMIN).replace("postgresql+psycopg", "postgresql")
    name = f"mosaic_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"  # a name we made, not user input
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return make_url(admin).set(database=name).render_as_string(hide_password=False), drop


@contextlib.contextmanager
def fresh_database(backend: str, *, admin: str | None = None) -> Iterator[str]:
    """:func:`fresh_url` as a context manager: the URL, removed on the way out."""
    url, drop = fresh_url(backend, admin=admin)
    try:
        yield url
    finally:
        drop()


def populate(url: str, n: int, *, done_every: int = 2) -> None:
    """n cards through the driver in one transaction (triggers fire per row); every done_every-th is done."""
    from mosaic_tui.repository import Backlog

    b = Backlog.open(url)
    b.db.ensure_schema()
    rows = [
        {"id": f"c{i:06d}", "title": f"card number {i}", "priority": i % 10,
         "status": "done" if done_every and i % done_every == 0 else "ready"}
        for i in range(n)
    ]
    from sqlalchemy import text

    cast = "CAST(:status AS backlog_status)" if b.backend == "postgresql" else ":status"
    with b.db.engine.begin() as conn:
        conn.execute(text(f"INSERT INTO backlog (id, title, priority, status) VALUES (:id, :title, :priority, {cast})"), rows)
    if b.backend == "postgresql":
        with b.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE backlog"))
            conn.execute(text("VACUUM ANALYZE backlog_events"))
    b.close()
