"""Every URL form libpq accepts, read by the one reader (mosaic_tui.db.url) for every path; the one scrubber;
the one-line ``unavailable``.

The reference for the forms is libpq itself (``psycopg.conninfo.conninfo_to_dict`` is libpq's
``PQconninfoParse``): what we hand psycopg must be what libpq reads from the same text.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mosaic_tui.db.url import parse, redact, scrub, secrets
from mosaic_tui.errors import InvalidInput

MT = str(Path(sys.executable).parent / "mosaic-tui")
HEAVY = ("sqlalchemy", "sqlmodel", "click", "alembic")


@pytest.mark.parametrize("raw", [
    "postgresql://u:p%40ss@db.example:6543/fleet?sslmode=require&application_name=x",
    "postgres://u@db.example/fleet",
    "postgresql:///fleet",
    "postgresql://u:@h/d%20x",
    "postgresql://u@h1:5441,h2:5442/db?target_session_attrs=read-write",
    "postgresql://h1,h2:5442/db",
    "postgresql://[::1]:5432,10.0.0.2/db?connect_timeout=3",
    "postgresql:///db?host=h1,h2&port=5441,5442&target_session_attrs=primary",
    "postgresql://u@/db?host=/var/run/postgresql",
    "postgresql:///?service=fleet",
    "postgresql://h/d?sslmode=verify-full&sslrootcert=/etc/ca.pem&sslcert=/c.pem&sslkey=/k.pem",
    "postgresql://h/d?options=-c%20statement_timeout%3D5000&load_balance_hosts=random",
    "host=h1,h2 port=5441,5442 dbname=fleet user=agent password=se'cr",
    "host=h dbname='my db' password='it''s' sslmode=require",
    "service=fleet",
    "dbname=fleet target_session_attrs=read-write",
])
def test_every_libpq_form_reads_as_libpq_reads_it(raw):
    from psycopg.conninfo import conninfo_to_dict

    try:
        expected = conninfo_to_dict(raw)
    except Exception:  # noqa: BLE001 - libpq refuses it: so must we
        with pytest.raises(InvalidInput):
            parse(raw)
        return
    target = parse(raw)
    assert target.backend == "postgresql"
    assert target.connect_kwargs == {k: str(v) for k, v in expected.items()}
    assert "p@ss" not in target.display() and "se'cr" not in target.display()


def test_sqlalchemy_forms_mean_what_sqlalchemy_meant():
    """``?host=h1:p1&host=h2:p2`` (SQLAlchemy's multi-host form) and ``+driver`` schemes: as libpq's own form."""
    a = parse("postgresql+psycopg2://u@/db?host=h1:5441&host=h2:5442&target_session_attrs=read-write")
    b = parse("postgresql://u@h1:5441,h2:5442/db?target_session_attrs=read-write")
    assert a.connect_kwargs == b.connect_kwargs == {
        "user": "u", "host": "h1,h2", "port": "5441,5442", "dbname": "db", "target_session_attrs": "read-write"}
    assert a.display() == b.display() == "postgresql://u@h1:5441,h2:5442/db?target_session_attrs=read-write"
    assert b.short() == "h1:5441,h2:5442/db"


@pytest.mark.parametrize("bad", [
    "mysql://u@h/d", "sqlite://", "sqlite:///:memory:", "   ", "postgresql://h:x/d", "postgresql://h1,h2/d?port=1,2,3",
    "postgresql://h/d?nosuchkeyword=1", "postgresql://h/d?sslmode", "sqlite:///x?mode=ro", "host=h bogus=1",
    "postgresql://u:pw@h:99999/d",
])
def test_what_libpq_would_refuse_is_one_clear_line(bad):
    with pytest.raises(InvalidInput) as info:
        parse(bad)
    assert "\n" not in str(info.value) and "pw@" not in str(info.value)


def test_pg_environment_fills_what_the_url_leaves_out(monkeypatch):
    monkeypatch.setenv("PGHOST", "envhost")
    monkeypatch.setenv("PGPORT", "6000")
    monkeypatch.setenv("PGPASSWORD", "envsecret")
    t = parse("postgresql:///fleet")
    assert t.connect_kwargs == {"dbname": "fleet"}  # libpq reads PG* itself when connecting
    assert t.short() == "envhost:6000/fleet"
    assert scrub("failed for envsecret", secrets()) == "failed for ***"


@pytest.mark.parametrize("raw,password", [
    ("postgresql://agent:s3cr%40t@h/d", "s3cr@t"),
    ("postgresql:///d?password=s3cret&host=h", "s3cret"),
    ("host=h password=s3cret dbname=d", "s3cret"),
    ("host=h password='s3 cret' dbname=d", "s3 cret"),
])
def test_the_one_scrubber_hides_the_password_whichever_form_carried_it(raw, password):
    t = parse(raw)
    assert t.password == password
    for text in (t.display(), redact(raw), scrub(f"boom: {raw} / {password}", t),
                 scrub(f"boom: {raw}", secrets(raw))):
        assert password not in text and "***" in text


def _fresh_db(pg_url: str) -> None:
    from mosaic_tui.repository import Backlog

    b = Backlog.open(pg_url)
    b.create("a", "Alpha")
    b.close()


def _multi(pg_url: str, *, down_first: bool = True) -> str:
    """``pg_url``'s database behind a multi-host URL whose first host refuses connections."""
    t = parse(pg_url)
    (host, port), = t.hosts()
    user = t.connect_kwargs.get("user", "postgres")
    return f"postgresql://{user}@127.0.0.1:1,{host}:{port}/{t.database}?target_session_attrs=read-write"


def test_a_multi_host_url_takes_the_fast_path_and_every_path_uses_it(pg_url):
    """The issue's URL: claim on the one-shot path (no SQLAlchemy, no click), then the full CLI, the feed."""
    _fresh_db(pg_url)
    url = _multi(pg_url)
    r = subprocess.run([sys.executable, "-X", "importtime", MT, "claim", "--owner", "w", "--json", "--db", url],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-1500:]
    assert json.loads(r.stdout)["id"] == "a"
    loaded = {line.split("|")[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}
    r = subprocess.run([MT, "show", "a", "--json", "--db", url], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and json.loads(r.stdout)["claimOwner"] == "w", r.stderr

    from mosaic_tui.repository import Backlog

    b = Backlog.open(url)
    try:
        with b.feed() as feed:  # the LISTEN connection reaches the second host too: live, not polling
            assert feed.status == "live"
    finally:
        b.close()


@pytest.mark.parametrize("verb", [["claim", "--owner", "w", "--json"], ["list", "--json"], ["list"]])
def test_unavailable_is_one_short_line_naming_each_host(verb):
    url = "postgresql://agent:pw-secret@127.0.0.1:1,127.0.0.1:2/db?target_session_attrs=read-write"
    r = subprocess.run([MT, *verb, "--db", url], capture_output=True, text=True, timeout=60)
    assert r.returncode == 5 and r.stdout == ""
    line = r.stderr.strip()
    assert "\n" not in line and len(line) < 250 and "pw-secret" not in line
    message = json.loads(line)["error"]["message"] if "--json" in verb else line
    assert len(message) < 200, message
    assert "127.0.0.1:1: Connection refused" in message and "127.0.0.1:2: Connection refused" in message
