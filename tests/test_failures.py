"""Driver errors classified by what the one who meets them should do (mosaic_tui.db.failures).

No server needed: the driver's own exception classes, bare and wrapped as
SQLAlchemy wraps them. The real thing (a full pooler, a full server, a
statement error through PgBouncer) is in test_pooler.py.
"""

from __future__ import annotations

import socket
import sqlite3
import time

import psycopg
import pytest
from psycopg import errors as pe
from sqlalchemy.exc import DBAPIError

from mosaic_tui import cli
from mosaic_tui.db import failures
from mosaic_tui.db.engine import open_database
from mosaic_tui.errors import Busy, DatabaseFailure, InvalidInput, Unavailable
from mosaic_tui.repository import Backlog

CASES = [
    # Postgres refusing a connection: at connect time only the message says why (no SQLSTATE).
    (psycopg.OperationalError('connection failed: FATAL:  sorry, too many clients already'), "busy"),
    (psycopg.OperationalError('connection failed: FATAL:  too many connections for role "agent"'), "busy"),
    (psycopg.OperationalError('connection failed: FATAL:  too many connections for database "fleet"'), "busy"),
    (psycopg.OperationalError("connection failed: FATAL:  remaining connection slots are reserved for "
                              "non-replication superuser connections"), "busy"),
    (pe.TooManyConnections("too many clients already"), "busy"),  # 53300, mid-session
    # PgBouncer's own refusals.
    (psycopg.OperationalError("connection failed: FATAL:  no more connections allowed (max_client_conn)"), "busy"),
    (pe.ProtocolViolation("query_wait_timeout"), "busy"),
    # No server.
    (psycopg.OperationalError("connection failed: Connection refused"), "gone"),
    (psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly"), "gone"),
    (pe.AdminShutdown("terminating connection due to administrator command"), "gone"),
    (pe.CannotConnectNow("the database system is starting up"), "gone"),
    (pe.ProtocolViolation("pgbouncer cannot connect to server"), "gone"),
    # The server answered, and could not run the statement: never "unreachable".
    (pe.ProtocolViolation('bind message supplies 5 parameters, but prepared statement "_pg3_3" requires 6'), "failed"),
    (pe.InvalidSqlStatementName('prepared statement "_pg3_0" does not exist'), "failed"),
    (pe.DuplicatePreparedStatement('prepared statement "_pg3_0" already exists'), "failed"),
    (pe.QueryCanceled("canceling statement due to statement timeout"), "failed"),
    (pe.OutOfMemory("out of memory"), "failed"),
    # Ordinary statement errors: the repository's business (e.g. a duplicate id is a conflict).
    (pe.UniqueViolation("duplicate key value violates unique constraint"), None),
    (pe.SyntaxError("syntax error at or near"), None),
    # SQLite keeps its old meaning: an operational error is "unavailable".
    (sqlite3.OperationalError("database is locked"), "gone"),
    (sqlite3.IntegrityError("UNIQUE constraint failed: backlog.id"), None),
]


@pytest.mark.parametrize("exc, kind", CASES, ids=[f"{type(e).__name__}-{k}" for e, k in CASES])
def test_classify(exc, kind):
    assert failures.classify(exc) == kind
    base = sqlite3.Error if isinstance(exc, sqlite3.Error) else psycopg.Error
    wrapped = DBAPIError.instance(None, None, exc, base)
    assert wrapped.orig is exc
    assert failures.classify(wrapped) == kind  # as SQLAlchemy hands it over (``.orig``)


def test_the_database_turns_them_into_errors_a_user_can_act_on():
    db = open_database("postgresql://fleet:S3CRET@127.0.0.1:1/backlog", wait=2)

    def seen(exc):
        return db._translate(DBAPIError.instance(None, None, exc, psycopg.Error))

    busy = seen(psycopg.OperationalError("connection failed: FATAL: sorry, too many clients already (S3CRET)"))
    assert isinstance(busy, Busy) and isinstance(busy, Unavailable)
    assert (busy.code, busy.exit_code, busy.retryable) == ("busy", 5, True)
    assert "too many clients" in str(busy) and "retry later (retried for 2 s)" in str(busy)
    failed = seen(pe.ProtocolViolation("bind message supplies 5 parameters, but prepared statement requires 6"))
    assert isinstance(failed, DatabaseFailure) and not isinstance(failed, Unavailable)
    assert (failed.code, failed.exit_code) == ("database_error", 1) and "unreachable" not in str(failed)
    gone = seen(psycopg.OperationalError("connection failed: Connection refused"))
    assert type(gone) is Unavailable and "database unreachable" in str(gone)
    unique = DBAPIError.instance(None, None, pe.UniqueViolation("dup"), psycopg.Error)
    assert db._translate(unique) is unique
    for err in (busy, failed, gone):
        assert "S3CRET" not in str(err)
    db.dispose()


def _refusing_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


def test_a_down_server_is_reported_at_once_unless_wait_was_given(monkeypatch):
    """Without --wait a server that is down is reported at once (the default wait is for a full server
    only); given, --wait also rides it -- a failover -- for that long, then says unavailable, not busy."""
    from mosaic_tui.db.backoff import Backoff
    from mosaic_tui.db.connections import PG_CONNECT_TIMEOUT_S

    paused: list[bool] = []
    real_sleep = Backoff.sleep
    monkeypatch.setattr(Backoff, "sleep", lambda self: paused.append(real_sleep(self)) or paused[-1])
    url = f"postgresql://postgres@127.0.0.1:{_refusing_port()}/x"
    b = Backlog.open(url)
    started = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        b.count()
    # at once: not one pause between tries (the count, not the clock, says so on a loaded machine), and no
    # connect left to hang until its timeout
    assert not isinstance(caught.value, Busy) and True not in paused
    assert time.monotonic() - started < PG_CONNECT_TIMEOUT_S
    b.close()
    b = Backlog.open(url, wait=1.5)
    started = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        b.count()
    assert not isinstance(caught.value, Busy)
    assert 1.0 < time.monotonic() - started < 30  # it rode the outage about as long as asked, then stopped
    b.close()


def test_a_listen_url_must_be_postgres(capsys):
    with pytest.raises(InvalidInput, match="must be a postgresql:// URL"):
        open_database("postgresql://postgres@127.0.0.1:1/x", listen_url="/tmp/backlog.db")
    code = cli.run(["events", "--follow", "--json", "--db", "postgresql://u:S3CRET@127.0.0.1:1/x",
                    "--listen-url", "sqlite:///tmp/x.db"])
    err = capsys.readouterr().err
    assert code == 2 and '"invalid_input"' in err and "--listen-url must be a postgresql:// URL" in err
    # On SQLite there is nothing to listen to: a listen URL (e.g. set for the whole fleet) is ignored.
    assert open_database("/tmp/unused-backlog.db", listen_url="postgresql://h/db").listen is None


def test_the_listen_url_comes_from_the_flag_else_the_environment(monkeypatch):
    monkeypatch.setenv("MOSAIC_LISTEN_URL", "postgresql://listener:PW@10.0.0.1/backlog")
    db = open_database("postgresql://fleet@pooler:6432/backlog")
    assert db.listen is not None and db.listen.connect_kwargs["host"] == "10.0.0.1" and db.listen.source == "MOSAIC_LISTEN_URL"
    db.dispose()
    db = open_database("postgresql://fleet@pooler:6432/backlog", listen_url="postgresql://direct/backlog")
    assert db.listen.connect_kwargs["host"] == "direct" and db.listen.source == "flag"
    db.dispose()
    monkeypatch.setenv("MOSAIC_LISTEN_URL", "sqlite:///tmp/x.db")
    with pytest.raises(InvalidInput, match="MOSAIC_LISTEN_URL must be a postgresql:// URL"):
        open_database("postgresql://fleet@pooler:6432/backlog")


def test_the_one_backoff_doubles_to_its_cap_and_never_passes_its_deadline():
    from mosaic_tui.db.backoff import Backoff

    b = Backoff(0.1, 0.5)
    assert [b.pause() for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    b.reset()
    assert b.pause() == 0.1
    jittered = Backoff(1.0, 8.0, jitter=True)
    assert all(lo <= jittered.pause() <= hi for lo, hi in ((0.5, 1.5), (1.0, 3.0), (2.0, 6.0)))
    timed = Backoff(10.0, 10.0, seconds=0.3)
    started = time.monotonic()
    assert timed.sleep() is True and 0.25 <= time.monotonic() - started < 5.0  # cut to the deadline, not 10 s
    assert timed.sleep() is False and timed.pause() is None  # the time is up: no more pauses


# --------------------------------------------------------------------------- a role that may not
@pytest.fixture
def lowly_role(pg_server):
    """A login role with no privilege of its own (on Postgres 15 it may not create tables in ``public``)."""
    import uuid

    from conftest import PG_ADMIN_URL

    admin = PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql")
    name = f"mosaic_lowly_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{name}" LOGIN PASSWORD \'s3cret-lowly\'')
    try:
        yield name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:  # (its databases went with new_pg_database)
            conn.execute(f'DROP ROLE IF EXISTS "{name}"')


def _as(url: str, role: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(username=role, password="s3cret-lowly").render_as_string(hide_password=False)


def _refused_as(url: str, role: str, verb: list[str], capsys, said: str, hint: str) -> None:
    """``verb`` run as ``role``: exit 1 and one line that says what the server refused and what to do."""
    code = cli.run([*verb, "--db", _as(url, role)])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err.startswith("mosaic-tui: ") and "the database refused (" in err and "\n" not in err
    assert said in err and hint in err
    assert "internal" not in err and "Traceback" not in err and "s3cret-lowly" not in err


@pytest.mark.parametrize("verb", [["list"], ["create", "X-1", "a title"], ["claim", "--owner", "a"]])
def test_a_role_that_may_not_create_the_tables_is_told_so_in_one_line(lowly_role, capsys, verb):
    from conftest import new_pg_database

    with new_pg_database("mosaic_denied") as url:
        _refused_as(url, lowly_role, verb, capsys, "permission denied for schema public",
                    "run it once as a role that may create them")
        with psycopg.connect(url) as conn:  # nothing was made
            assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)


@pytest.mark.parametrize("verb", [["list"], ["claim", "--owner", "a"], ["create", "X-1", "a title"]])
def test_a_role_without_rights_on_the_backlog_is_told_so_in_one_line(lowly_role, capsys, verb):
    from conftest import new_pg_database

    with new_pg_database("mosaic_denied") as url:
        owner = Backlog.open(url)
        owner.count()  # migrated by the owner; the lowly role may connect but not read or write
        owner.close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'GRANT USAGE ON SCHEMA public TO "{lowly_role}"')
        _refused_as(url, lowly_role, verb, capsys, "permission denied for table",
                    "the role needs SELECT, INSERT, UPDATE and DELETE")
