"""Shared fixtures: one suite, two real backends.

``backend`` is parametrised over ``sqlite`` (a temporary file) and ``pg`` (a
database of its own on the server at ``MOSAIC_TEST_PG_URL``, created for this
test session and dropped after it). Postgres tests skip with a reason when no
server is configured or answering, and fail instead when MOSAIC_REQUIRE_PG=1.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import pytest

PG_HINT = (
    "Postgres tests need a server: set MOSAIC_TEST_PG_URL=postgresql://user@host:5432/db "
    "(CI: postgresql://postgres@127.0.0.1:5432/test); set MOSAIC_REQUIRE_PG=1 to fail instead of skipping"
)
PG_ADMIN_URL = os.environ.get("MOSAIC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
TABLES = "backlog, backlog_deps, backlog_events, backlog_notes, backlog_labels, backlog_flow_done"


def _pg_problem() -> str | None:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql"), connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001 - any failure means "no server"
        return f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"


@contextlib.contextmanager
def new_pg_database(prefix: str = "mosaic_t") -> Iterator[str]:
    """A brand-new database on the test server (never migrated), dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"  # made here, not user input
    admin = PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def missing(message: str) -> None:
    """A test that cannot run on this machine (``message`` says what it lacks): skipped, or failed under
    MOSAIC_REQUIRE_PG=1 (CI, where ``.ci/run`` installs everything the tests need)."""
    if os.environ.get("MOSAIC_REQUIRE_PG") == "1":
        pytest.fail(f"MOSAIC_REQUIRE_PG=1 but {message}")
    pytest.skip(message)


def reap(procs, timeout: float = 60) -> None:
    """Join the worker processes (``multiprocessing``); one still running after ``timeout`` -- the test failed
    or hangs -- is killed, never left to run into the next tests or to hold up the interpreter's exit."""
    for p in procs:
        p.join(timeout)
        if p.is_alive():
            p.kill()
            p.join(30)


def run_sql(backlog, sql: str, params: dict | None = None) -> list | None:
    """Run one raw SQL statement on ``backlog``'s engine, in a transaction of its own.

    For tests only (pinning timestamps, reading the migration table): returns the
    rows as a list when the statement yields any, otherwise None.
    """
    from sqlalchemy import text

    with backlog.db.engine.begin() as conn:
        result = conn.execute(text(sql), params or {})
        return result.all() if result.returns_rows else None


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The URL of a fresh database of this session's own, on the test server."""
    problem = _pg_problem()
    if problem is not None:
        if os.environ.get("MOSAIC_REQUIRE_PG") == "1":
            pytest.fail(f"MOSAIC_REQUIRE_PG=1 but Postgres is unavailable ({problem}). {PG_HINT}")
        if not os.environ.get("MOSAIC_TEST_PG_URL"):
            pytest.skip(f"no Postgres server answered. {PG_HINT}")
        pytest.skip(f"Postgres at MOSAIC_TEST_PG_URL is unavailable ({problem}). {PG_HINT}")
    with new_pg_database() as url:
        yield url


def pg_reset(url: str) -> None:
    """Empty every table of ours (the schema stays, so migrations run once per session)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('backlog') IS NOT NULL").fetchone()[0]
        if exists:
            conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY")


@pytest.fixture(params=["sqlite", "pg"])
def db_url(request, tmp_path) -> str:
    """A URL of an empty backlog database, on each backend in turn."""
    if request.param == "sqlite":
        return str(tmp_path / "backlog.db")
    url = request.getfixturevalue("pg_server")
    pg_reset(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return str(tmp_path / "backlog.db")


@pytest.fixture
def pg_url(pg_server) -> str:
    pg_reset(pg_server)
    return pg_server


@pytest.fixture
def repo(db_url):
    from mosaic_tui.repository import Backlog

    backlog = Backlog.open(db_url)
    yield backlog
    backlog.close()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Never touch the user's real backlog or DATABASE_URL."""
    monkeypatch.setenv("MOSAIC_HOME", str(tmp_path / "mosaic-home"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("MOSAIC_MAX_ATTEMPTS", raising=False)



def _seeded_board(url: str):
    from fixtures import FixedClock, seed
    from mosaic_tui.db.engine import open_database
    from mosaic_tui.repository import Backlog

    clock = FixedClock()
    backlog = Backlog(open_database(url), clock=clock)
    seed(backlog, clock)
    yield backlog, clock
    backlog.close()


@pytest.fixture
def board(db_url):
    """The board fixture's twelve cards (``tests.fixtures.seed``) on both backends, with its fixed clock."""
    yield from _seeded_board(db_url)


@pytest.fixture
def sboard(sqlite_url):
    """``board`` on SQLite only."""
    yield from _seeded_board(sqlite_url)


@pytest.fixture
def run_cli(capsys, db_url):
    """``run_cli(*args)``: the CLI in this process on ``db_url`` -> (exit code, stdout, stderr)."""
    from mosaic_tui import cli

    def go(*args):
        capsys.readouterr()
        code = cli.run([*args, "--db", db_url])
        got = capsys.readouterr()
        return code, got.out, got.err

    return go
