"""Migrations, adoption of the fleet's table, backend selection, layering."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from conftest import new_pg_database
from mosaic_tui.db import schema
from mosaic_tui.db.url import default_sqlite_path, parse, redact, resolve
from mosaic_tui.errors import InvalidInput, Unavailable
from mosaic_tui.repository import Backlog, card_json

ROOT = Path(__file__).resolve().parent.parent
# The contract, vendored in docs/spec/ (CI's clone may not sit beside ../shared).
SPEC = ROOT / "docs" / "spec" / "mosaic-backlog.sql"
SHARED_SPEC = ROOT.parent / "shared" / "spec" / "mosaic-backlog.sql"
# The fleet's own DDL is the contract file itself, run as is.
FLEET_DDL = SPEC.read_text()


@pytest.fixture
def fresh_pg(pg_server):
    """An empty database (no schema at all) on the test server."""
    with new_pg_database("mosaic_fresh") as url:
        yield url


def test_our_migration_creates_the_contract_table_verbatim():
    """Every line of the contract's DDL (comments aside) stands in our Postgres migration."""
    if SHARED_SPEC.is_file():  # beside the shared contract: our copy must be the same text
        assert SPEC.read_text() == SHARED_SPEC.read_text()
    migration = (ROOT / "migrations" / "versions" / "0001_backlog.py").read_text()
    lines = [line.split("--")[0].strip() for line in SPEC.read_text().splitlines()]
    lines = [line.replace("CREATE TABLE backlog", "CREATE TABLE IF NOT EXISTS backlog") for line in lines if line]
    assert len(lines) >= 17
    for line in lines:
        assert line in migration, line


def test_head_constant_matches_the_migrations():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(schema.migrations_dir()))
    assert ScriptDirectory.from_config(cfg).get_current_head() == schema.HEAD


def test_postgres_table_is_the_fleets_table_plus_additions(fresh_pg):
    Backlog.open(fresh_pg).db.ensure_schema()
    # The same table built by the fleet's own DDL, in a schema of its own, for comparison.
    with psycopg.connect(fresh_pg, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA fleet")
        conn.execute("SET search_path TO fleet")
        conn.execute(FLEET_DDL)
    ours, theirs = _columns_in(fresh_pg, "public"), _columns_in(fresh_pg, "fleet")
    assert [c[:4] for c in ours[: len(theirs)]] == [c[:4] for c in theirs]  # name, type, udt, nullable
    assert [c[0] for c in ours[len(theirs):]] == ["unmet_deps"]
    with psycopg.connect(fresh_pg) as conn:
        assert conn.execute("SELECT version_num FROM mosaic_tui_alembic_version").fetchone()[0] == schema.HEAD
        assert conn.execute("SELECT to_regclass('alembic_version')").fetchone()[0] is None
        labels = conn.execute(
            "SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
            "WHERE t.typname = 'backlog_status' AND t.typnamespace = 'public'::regnamespace ORDER BY e.enumsortorder"
        ).fetchall()
        assert [r[0] for r in labels] == ["ready", "claimed", "blocked", "done"]


def _columns_in(url, namespace):
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT column_name, data_type, udt_name, is_nullable, column_default FROM information_schema.columns "
            "WHERE table_name = 'backlog' AND table_schema = %s ORDER BY ordinal_position",
            (namespace,),
        ).fetchall()


def test_migrations_run_from_a_built_wheel(tmp_path):
    """The wheel carries migrations/ (as mosaic_tui/_migrations) and migrates from there."""
    import zipfile

    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    wheel = next((tmp_path / "dist").glob("mosaic_tui-*.whl"))
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    assert (site / "mosaic_tui" / "_migrations" / "versions" / "0001_backlog.py").is_file()
    code = (
        "import sys; from mosaic_tui.db import schema; from mosaic_tui.repository import Backlog;"
        "print(schema.migrations_dir()); print(Backlog.open(sys.argv[1]).schema_version())"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "w.db")], capture_output=True, text=True, timeout=120,
        cwd=site, env={**os.environ, "PYTHONPATH": str(site)},
    )
    assert run.returncode == 0, run.stderr
    where, version = run.stdout.split()
    assert Path(where).is_relative_to(site) and version == schema.HEAD


def test_adopting_a_fleet_table_with_rows_loses_nothing(fresh_pg):
    with psycopg.connect(fresh_pg, autocommit=True) as conn:
        conn.execute(FLEET_DDL)
        conn.execute("""
            INSERT INTO backlog (id, title, body, phase, priority, status, depends_on, claim_owner,
                                 claim_ttl_seconds, claimed_at, attempts, idempotency_key, acceptance,
                                 created_at, updated_at) VALUES
            ('F-1', 'done one', 'b', 'M1', 3, 'done', '[]', NULL, NULL, NULL, 1, 'key-1', '{"x": 1}',
             '2025-01-01T00:00:00Z', '2025-01-02T00:00:00Z'),
            ('F-2', 'waits on 3', NULL, 'M1', 9, 'ready', '["F-1", "F-3"]', NULL, NULL, NULL, 0, NULL, NULL,
             '2025-01-01T00:00:01Z', '2025-01-01T00:00:01Z'),
            ('F-3', 'claimed', NULL, NULL, 1, 'claimed', '[]', 'fleet-agent', 600, '2025-01-03T00:00:00Z', 2,
             NULL, '[1, 2]', '2025-01-01T00:00:02Z', '2025-01-03T00:00:00Z'),
            ('F-4', 'plain', NULL, NULL, 0, 'ready', '[]', NULL, NULL, NULL, 0, NULL, NULL,
             '2025-01-01T00:00:03Z', '2025-01-01T00:00:03Z')
        """)
        before = conn.execute("SELECT * FROM backlog ORDER BY id").fetchall()
    backlog = Backlog.open(fresh_pg)
    backlog.db.ensure_schema()
    with psycopg.connect(fresh_pg) as conn:
        after = conn.execute(
            "SELECT id, title, body, phase, priority, status, depends_on, claim_owner, claim_ttl_seconds, "
            "claimed_at, attempts, idempotency_key, acceptance, created_at, updated_at FROM backlog ORDER BY id"
        ).fetchall()
    assert after == before
    assert {c.id: c.unmet_deps for c in backlog.list()} == {"F-1": 0, "F-2": 1, "F-3": 0, "F-4": 0}
    assert [c.id for c in backlog.list(claimable=True)] == ["F-4"]
    j = card_json(backlog.get("F-3"))
    assert j["claimedAt"] == "2025-01-03T00:00:00+00:00" and j["acceptance"] == [1, 2]
    # Another program marks the dependency done with plain SQL: the dependent becomes claimable.
    with psycopg.connect(fresh_pg, autocommit=True) as conn:
        conn.execute("UPDATE backlog SET status = 'done', claim_owner = NULL WHERE id = 'F-3'")
    assert backlog.claim("me").id == "F-2"
    backlog.close()


def test_migration_is_checked_cheaply_without_alembic(db_url):
    Backlog.open(db_url).db.ensure_schema()  # first use migrates
    code = (
        "import sys; from mosaic_tui.repository import Backlog; b = Backlog.open(sys.argv[1]); "
        "b.stats(); assert 'alembic' not in sys.modules, 'alembic imported'; "
        "assert 'textual' not in sys.modules and 'click' not in sys.modules; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code, db_url], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


def test_a_newer_schema_is_refused(sqlite_url):
    b = Backlog.open(sqlite_url)
    b.db.ensure_schema()
    with b.db.engine.begin() as conn:
        conn.execute(text("UPDATE mosaic_tui_alembic_version SET version_num = '9999'"))
    with pytest.raises(Unavailable, match="newer than this mosaic-tui"):
        Backlog.open(sqlite_url).stats()


def test_a_file_that_is_not_a_database(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello, this is not sqlite" * 100)
    with pytest.raises(Unavailable, match="not a backlog"):
        Backlog.open(str(bad)).stats()


def test_unreachable_postgres_hides_the_password():
    b = Backlog.open("postgresql://agent:s3cret-pw@127.0.0.1:1/nowhere")
    with pytest.raises(Unavailable) as info:
        b.stats()
    assert "s3cret-pw" not in str(info.value) and "database unreachable" in str(info.value)
    assert "127.0.0.1:1" in str(info.value) and len(str(info.value)) < 200  # which host, what it said, one short line


# --------------------------------------------------------------------------- where the backlog lives
def test_url_precedence_and_forms(monkeypatch, tmp_path):
    monkeypatch.setenv("MOSAIC_HOME", str(tmp_path / "home"))
    assert resolve().source == "default"
    assert resolve().path == tmp_path / "home" / "fleet" / "backlog.db" == default_sqlite_path()
    monkeypatch.setenv("DATABASE_URL", "postgres://u:pw@db.example:5432/app")
    env = resolve()
    assert env.source == "DATABASE_URL" and env.backend == "postgresql"
    assert env.connect_kwargs == {"user": "u", "password": "pw", "host": "db.example", "port": "5432", "dbname": "app"}
    assert resolve(str(tmp_path / "x.db")).source == "flag"
    assert parse("postgresql+psycopg2://u@h/d").connect_kwargs == parse("postgresql://u@h/d").connect_kwargs
    assert parse("sqlite:///" + str(tmp_path / "a.db")).path == tmp_path / "a.db"
    assert parse("relative.db").path == Path.cwd() / "relative.db"
    assert redact("postgresql://u:pw@h/d") == "postgresql://u:***@h/d"
    assert "pw" not in env.display()
    for bad in ("mysql://u@h/d", "sqlite://", "sqlite:///:memory:", "   "):
        with pytest.raises(InvalidInput):
            parse(bad)


def test_platform_default_without_mosaic_home(monkeypatch):
    monkeypatch.delenv("MOSAIC_HOME")
    from platformdirs import user_data_dir

    assert default_sqlite_path() == Path(user_data_dir("mosaic", appauthor=False)) / "fleet" / "backlog.db"


def test_embedded_default_is_private(tmp_path, monkeypatch):
    monkeypatch.setenv("MOSAIC_HOME", str(tmp_path / "h"))
    b = Backlog.open()
    b.stats()
    path = default_sqlite_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    b.close()


# --------------------------------------------------------------------------- floors
def test_repository_and_database_floors_import_no_ui():
    code = (
        "import sys, mosaic_tui.repository, mosaic_tui.db.feed, mosaic_tui.db.schema;"
        "bad = [m for m in ('textual', 'click', 'rich') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_import_linter_contracts_hold():
    lint = Path(sys.executable).parent / "lint-imports"
    exe = str(lint) if lint.exists() else "lint-imports"
    out = subprocess.run([exe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "broken" not in out.stdout.lower() or "0 broken" in out.stdout.lower()
