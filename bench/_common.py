"""Helpers shared by the live benchmarks: fresh databases and fast bulk loads."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

ADMIN = os.environ.get("MOSAIC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def fresh_url(backend: str) -> tuple[str, callable]:
    """A URL of a new empty database and a function that removes it."""
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="mosaic-bench-"))
        return str(folder / "backlog.db"), (lambda: None)
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"mosaic_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return make_url(ADMIN).set(database=name).render_as_string(hide_password=False), drop


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
