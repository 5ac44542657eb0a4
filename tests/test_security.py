"""Security: SQL is parameterised everywhere, passwords never show, the embedded file is private."""

from __future__ import annotations

import ast
import json
import os
import stat
import subprocess
import textwrap
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from mosaic_tui.errors import InvalidInput, MosaicError, Unavailable
from mosaic_tui.repository import Backlog

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([*ROOT.joinpath("mosaic_tui").rglob("*.py"), *ROOT.joinpath("migrations").rglob("*.py")])

# --------------------------------------------------------------------------- string-built SQL
SINKS = {"execute", "executemany", "exec_driver_sql", "executescript", "text", "literal_column", "copy"}


def _constant_like(node: ast.AST) -> bool:
    """A formatted value that cannot carry user input: a MODULE_CONSTANT, a number, int()/len() of one."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return node.id.isupper()
    if isinstance(node, ast.Attribute):
        return node.attr.isupper()
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("int", "float", "len"):
        return all(_constant_like(a) or isinstance(a, ast.BinOp) for a in node.args)
    if isinstance(node, ast.BinOp):
        return _constant_like(node.left) and _constant_like(node.right)
    return False


def _string_built(node: ast.AST) -> bool:
    """An expression that builds text from values that are not constants."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) and not _constant_like(v.value) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return isinstance(node.left, (ast.Constant, ast.JoinedStr)) and not _constant_like(node.right)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        parts = [node.left, node.right]
        texty = any(isinstance(p, (ast.Constant, ast.JoinedStr)) and not isinstance(getattr(p, "value", ""), (int, float))
                    for p in parts)
        return texty and (any(_string_built(p) for p in parts) or not all(_constant_like(p) for p in parts))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return not all(_constant_like(a) for a in node.args) or any(not _constant_like(k.value) for k in node.keywords)
    return False


def string_built_sql(source: str, filename: str = "<src>") -> list[str]:
    """Calls of execute()/text()/... whose SQL is built from non-constant values (also via a local variable)."""
    tree = ast.parse(source, filename)
    found = []
    scopes = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Module))]
    for scope in scopes:
        built_names = set()
        for n in ast.walk(scope):
            if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and n.value is not None:
                targets = n.targets if isinstance(n, ast.Assign) else [n.target]
                if _string_built(n.value) or (isinstance(n, ast.AugAssign) and not _constant_like(n.value)):
                    built_names |= {t.id for t in targets if isinstance(t, ast.Name)}
        for n in ast.walk(scope):
            if not isinstance(n, ast.Call):
                continue
            name = n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", None)
            if name not in SINKS or not n.args:
                continue
            arg = n.args[0]
            if _string_built(arg) or (isinstance(arg, ast.Name) and arg.id in built_names):
                found.append(f"{filename}:{n.lineno}: {ast.unparse(n)[:120]}")
    return sorted(set(found))


def test_the_checker_catches_string_built_sql_and_lets_parameters_through():
    bad = textwrap.dedent(
        """
        def f(conn, card_id, owner):
            conn.execute(text(f"SELECT * FROM backlog WHERE id = '{card_id}'"))
            conn.execute("UPDATE backlog SET claim_owner = '%s'" % owner)
            conn.exec_driver_sql("DELETE FROM backlog WHERE id = '" + card_id + "'")
            conn.execute(text("SELECT * FROM backlog WHERE id = '{}'".format(card_id)))
            sql = f"SELECT * FROM backlog WHERE title = '{owner}'"
            conn.execute(text(sql))
        """
    )
    assert len(string_built_sql(bad)) == 5
    good = textwrap.dedent(
        """
        TABLE = "backlog"
        def f(conn, card_id):
            conn.execute(text("SELECT * FROM backlog WHERE id = :id"), {"id": card_id})
            conn.execute(text(f"SELECT version_num FROM {TABLE}"))
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(TIMEOUT_S * 1000)}")
            conn.execute(select(B).where(B.c.id == card_id))
        """
    )
    assert string_built_sql(good) == []


def test_no_sql_is_built_from_values_anywhere_in_the_source():
    assert len(SOURCES) > 5
    found = [hit for path in SOURCES for hit in string_built_sql(path.read_text(), str(path.relative_to(ROOT)))]
    assert found == [], "SQL built from values (use bound parameters):\n" + "\n".join(found)


# --------------------------------------------------------------------------- passwords
SECRET = "Pw-s3cr3t-9f2Q"
ENCODED_SECRET = "p%40ss%3Aw0rd-7Kz"  # "p@ss:w0rd-7Kz" once decoded


def _bad_urls(pg_db: str | None):
    urls = [
        f"postgresql://bob:{SECRET}@127.0.0.1:1/nothing",  # nothing listens there
        f"postgresql://bob:{ENCODED_SECRET}@127.0.0.1:1/nothing",
        f"postgres://bob:{SECRET}@127.0.0.1:notaport/nothing",  # not even a URL
        f"mysql://bob:{SECRET}@127.0.0.1/nothing",  # unsupported
    ]
    if pg_db:
        server = make_url(pg_db)
        urls.append(f"postgresql://{server.username or 'postgres'}:{SECRET}@{server.host}:{server.port or 5432}/no_such_db_x")
    return urls


def _assert_hidden(text: str) -> None:
    for secret in (SECRET, ENCODED_SECRET, "p@ss:w0rd-7Kz"):
        assert secret not in text, f"password shown in: {text!r}"


@pytest.fixture
def pg_db():
    """The test server's admin URL (a wrong database on it is one of the bad URLs)."""
    return os.environ.get("MOSAIC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def test_backlog_open_errors_never_show_the_password(pg_db):
    for url in _bad_urls(pg_db):
        with pytest.raises(MosaicError) as info:
            b = Backlog.open(url)
            b.count()
        assert isinstance(info.value, (Unavailable, InvalidInput)), url
        _assert_hidden(str(info.value))
        _assert_hidden(repr(info.value))
        assert "\n" not in str(info.value)


def _cli(args, env_extra=None, tmp_path=None):
    env = {**os.environ, "MOSAIC_HOME": str(tmp_path / "home")}
    env.pop("DATABASE_URL", None)
    env.update(env_extra or {})
    return subprocess.run(["mosaic-tui", *args], capture_output=True, text=True, env=env, timeout=120)


def _cli_in_process(capsys, args):
    from mosaic_tui import cli

    capsys.readouterr()
    code = cli.run(args)
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out.out, out.err)


def test_cli_errors_never_show_the_password(pg_db, tmp_path, capsys):
    runs = []
    for url in _bad_urls(pg_db):
        runs.append((_cli_in_process(capsys, ["list", "--db", url]), False))
        runs.append((_cli_in_process(capsys, ["claim", "--owner", "x", "--json", "--db", url]), True))
    # and once for real, through the console script, with the URL in the environment
    runs.append((_cli(["stats", "--json"], {"DATABASE_URL": _bad_urls(pg_db)[0]}, tmp_path), True))
    runs.append((_cli(["show", "x"], {"DATABASE_URL": _bad_urls(pg_db)[2]}, tmp_path), False))
    for p, as_json in runs:
        _assert_hidden(p.stdout + p.stderr)
        assert p.returncode in (2, 5), p
        assert "Traceback" not in p.stderr
        if as_json:
            assert json.loads(p.stderr)["error"]["code"] in ("unavailable", "invalid_input")
        else:
            assert p.stderr.count("\n") == 1


def test_cli_shows_a_reachable_url_without_its_password(pg_url, tmp_path, capsys):
    server = make_url(pg_url)
    url = server.set(password=SECRET).render_as_string(hide_password=False)
    assert SECRET in url
    for args in (["db"], ["db", "--json"], ["create", "s1", "secret test", "--json"], ["stats", "--json"], ["list"]):
        p = _cli_in_process(capsys, [*args, "--db", url])
        assert p.returncode == 0, p.stderr
        _assert_hidden(p.stdout + p.stderr)
    assert "***" in _cli_in_process(capsys, ["db", "--db", url]).stdout
    p = _cli(["db", "--json"], {"DATABASE_URL": url}, tmp_path)
    assert p.returncode == 0 and "***" in p.stdout
    _assert_hidden(p.stdout + p.stderr)


# --------------------------------------------------------------------------- the embedded file
def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_embedded_backlog_file_is_private_to_the_user(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("MOSAIC_HOME", str(home))
    old = os.umask(0o022)  # a permissive umask must not leak into the backlog's modes
    try:
        b = Backlog.open()
        b.create("p1", "private")
        b.claim("me")
        path = Path(b.db.target.path)
        assert path.parent == home / "fleet"
        assert _mode(path) == 0o600
        assert _mode(path.parent) == 0o700
        assert _mode(home) == 0o700
        for side in (Path(f"{path}-wal"), Path(f"{path}-shm")):
            if side.exists():
                assert _mode(side) & 0o077 == 0, (side, oct(_mode(side)))
        b.close()
        # An explicit path in a folder that already exists: the file is private, the folder is the user's.
        mine = tmp_path / "shared-folder"
        mine.mkdir(mode=0o755)
        b = Backlog.open(str(mine / "team.db"))
        b.create("p2", "private too")
        assert _mode(mine / "team.db") == 0o600
        assert _mode(mine) == 0o755
        b.close()
    finally:
        os.umask(old)
