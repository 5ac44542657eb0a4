"""The agent CLI in-process (mosaic_tui.cli.run), every command with and without --json, on both backends.

The real console script in subprocesses is tested in test_cli_subprocess.py.
"""

from __future__ import annotations

import io
import json
import os
import sys
import types
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from mosaic_tui import cli
from mosaic_tui.db.engine import open_database
from mosaic_tui.db.schema import HEAD
from mosaic_tui.repository import Backlog

CARD_KEYS = {"id", "title", "body", "phase", "priority", "status", "dependsOn", "claimOwner", "claimTtlSeconds",
             "claimedAt", "attempts", "idempotencyKey", "acceptance", "createdAt", "updatedAt"}


@dataclass
class Res:
    code: int
    out: str
    err: str

    def json(self):
        assert self.err == "", self.err
        return json.loads(self.out)

    def error(self) -> dict:
        assert self.out == ""
        lines = self.err.splitlines()
        assert len(lines) == 1, self.err
        return json.loads(lines[0])["error"]


@pytest.fixture
def mt(capsys, monkeypatch, db_url):
    """Run ``mosaic-tui ARGS --db <db_url>`` in-process; returns code, stdout, stderr."""

    def run(*args, stdin: str | None = None, db: str | None = db_url) -> Res:
        argv = list(args) + (["--db", db] if db else [])
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = cli.run(argv)
        got = capsys.readouterr()
        return Res(code, got.out, got.err)

    run.url = db_url
    return run


@pytest.fixture
def b(db_url):
    backlog = Backlog.open(db_url)
    yield backlog
    backlog.close()


# --------------------------------------------------------------------------- create
def test_create_with_every_option(mt, tmp_path):
    assert mt("create", "base", "Base card").code == 0
    r = mt("create", "A4-07", "Wire the claim", "--deps", "base", "--priority", "3", "--phase", "M1",
           "--body", "**md**", "--acceptance", '{"tests": ["t1"], "n": 2}', "--idempotency-key", "k1", "--json")
    card = r.json()
    assert r.code == 0 and set(card) == CARD_KEYS
    assert (card["id"], card["title"], card["priority"], card["phase"], card["body"]) == ("A4-07", "Wire the claim", 3, "M1", "**md**")
    assert card["dependsOn"] == ["base"] and card["acceptance"] == {"tests": ["t1"], "n": 2}
    assert card["idempotencyKey"] == "k1" and card["status"] == "ready" and card["attempts"] == 0
    # same key again: the first card, unchanged
    again = mt("create", "other", "Other", "--idempotency-key", "k1", "--json").json()
    assert again == card
    human = mt("create", "B", "Two", "words", "--deps", "base,A4-07")
    assert human.code == 0 and human.out == "created B: Two words [waiting]\n"


def test_create_body_from_stdin_and_file(mt, tmp_path):
    r = mt("create", "S", "From stdin", "--body-file", "-", "--json", stdin="line 1\nline 2\n")
    assert r.json()["body"] == "line 1\nline 2\n"
    f = tmp_path / "body.md"
    f.write_text("# from a file\n", encoding="utf-8")
    assert mt("create", "F", "From a file", "--body-file", str(f), "--json").json()["body"] == "# from a file\n"
    r = mt("create", "X", "x", "--body", "a", "--body-file", str(f))
    assert r.code == 2 and "not both" in r.err
    r = mt("create", "X", "x", "--body-file", str(tmp_path / "missing.md"))
    assert r.code == 2 and "cannot read the body" in r.err


@pytest.mark.parametrize("args, message", [
    (["create", "E", ""], "title must not be empty"),
    (["create", "E", "t", "--deps", "ghost"], "unknown dependency: ghost"),
    (["create", "E", "t", "--priority", "high"], "priority must be an integer, not 'high'"),
    (["create", "E", "t", "--priority", "1.5"], "priority must be an integer"),
    (["create", "E", "t", "--acceptance", "{not json"], "--acceptance is not valid JSON"),
    (["create", "E\x07", "t"], "contains control characters"),
    (["create", "E", "t", "--deps", "E"], "cannot depend on itself"),
    (["claim", "--owner", "w", "--ttl", "0"], "ttl must be more than 0 seconds"),
    (["claim", "--owner", "w", "--ttl", "-5"], "ttl must be more than 0 seconds"),
    (["heartbeat", "E", "--owner", "w", "--ttl", "soon"], "ttl must be a whole number of seconds"),
    (["show", "a\x1bb"], "contains control characters"),
    (["list", "--status", "finished"], "unknown status 'finished'"),
])
def test_bad_input_exits_2_and_writes_nothing(mt, b, args, message):
    r = mt(*args)
    assert r.code == 2 and r.out == ""
    assert r.err.startswith("mosaic-tui: error: ") and message in r.err and r.err.count("\n") == 1
    assert "\x07" not in r.err and "\x1b" not in r.err  # escaped, never raw
    rj = mt(*args, "--json")
    assert rj.code == 2 and rj.error()["code"] == "invalid_input" and message in rj.error()["message"]
    assert b.count() == 0 and b.events() == []


# --------------------------------------------------------------------------- show / list
def test_show(mt, b):
    b.create("dep", "The dependency")
    b.create("C", "Card \x1b[31mred", body="para\x1b]0;x\x07", depends_on=["dep"], acceptance={"ok": True})
    j = mt("show", "C", "--json").json()
    assert j["title"] == "Card \x1b[31mred" and j["dependsOn"] == ["dep"]  # JSON is JSON
    r = mt("show", "C")
    assert r.code == 0 and "\x1b" not in r.out and "\x07" not in r.out
    assert "title:           Card \\e[31mred" in r.out
    assert "status:          waiting" in r.out and "waiting on:      dep" in r.out
    assert 'acceptance:      {"ok": true}' in r.out and "  para\\e]0;x\\x07" in r.out
    b.claim("w1", 60, "dep")
    r = mt("show", "dep")
    assert "owner:           w1" in r.out and "lease ends" in r.out


def test_list_filters_and_table(mt, b):
    b.create("low", "Low", phase="M1")
    b.create("high", "High \x1b[2J", phase="M2", priority=9)
    b.create("waits", "Waits on low", depends_on=["low"], phase="M1")
    b.create("gone", "Done one")
    b.complete("gone")
    assert [c["id"] for c in mt("list", "--json").json()] == ["high", "low", "waits", "gone"]
    assert [c["id"] for c in mt("list", "--phase", "M1", "--json").json()] == ["low", "waits"]
    assert [c["id"] for c in mt("list", "--claimable", "--json").json()] == ["high", "low"]
    assert [c["id"] for c in mt("list", "--status", "done", "--json").json()] == ["gone"]
    assert [c["id"] for c in mt("list", "--status", "done,ready", "--limit", "2", "--json").json()] == ["high", "low"]
    assert [c["id"] for c in mt("list", "--status", "done", "--status", "ready", "--json").json()] == ["high", "low", "waits", "gone"]
    assert [c["id"] for c in mt("list", "--search", "WAITS", "--json").json()] == ["waits"]
    r = mt("list")
    lines = r.out.splitlines()
    assert r.code == 0 and lines[0].split() == ["ID", "STATUS", "PRI", "PHASE", "OWNER", "DEPENDS", "ON", "TITLE"]
    assert lines[1].split()[:2] == ["high", "ready"] and lines[1].endswith("High \\e[2J")
    assert lines[3].split()[:2] == ["waits", "waiting"] and "\x1b" not in r.out
    assert mt("list", "--phase", "none").out == "no cards\n"
    assert mt("list", "--phase", "none", "--json").json() == []


# --------------------------------------------------------------------------- claims
def test_claim_json_and_human(mt, b):
    assert mt("claim", "--owner", "w1", "--json").json() is None  # empty backlog: null, exit 0
    r = mt("claim", "--owner", "w1")
    assert r.code == 0 and r.out == "nothing to claim\n"
    b.create("first", "First", priority=2)
    b.create("second", "Second", depends_on=["first"])
    j = mt("claim", "--owner", "w1", "--ttl", "120", "--json").json()
    assert (j["id"], j["status"], j["claimOwner"], j["claimTtlSeconds"], j["attempts"]) == ("first", "claimed", "w1", 120, 1)
    r = mt("claim", "--owner", "w2")
    assert r.code == 0 and r.out == "nothing to claim (1 ready cards wait on dependencies)\n"
    r = mt("claim", "--owner", "w2", "--id", "second")
    assert r.code == 0 and r.out == "second is not claimable: waiting on first\n"
    r = mt("claim", "--owner", "w2", "--id", "first")
    assert r.code == 0 and r.out.startswith("first is not claimable: claimed by w1 (lease ends ")
    assert mt("claim", "--owner", "w2", "--id", "first", "--json").json() is None
    b.complete("first")
    r = mt("claim", "--owner", "w2", "--id", "first")
    assert r.out == "first is not claimable: it is done\n"
    r = mt("claim", "--owner", "w2", "--id", "second")
    assert r.code == 0 and r.out.startswith("claimed second: Second for w2 (attempt 1; lease ends ")
    r = mt("claim", "--owner", "w2", "--id", "ghost", "--json")
    assert r.code == 3 and r.error()["code"] == "not_found"


def test_heartbeat(mt, b):
    b.create("c", "C")
    b.claim("w1", 60)
    j = mt("heartbeat", "c", "--owner", "w1", "--ttl", "600", "--json").json()
    assert j["claimOwner"] == "w1" and j["claimTtlSeconds"] >= 600
    r = mt("heartbeat", "c", "--owner", "w1")
    assert r.code == 0 and r.out.startswith("heartbeat c: lease ends ") and ("in 14m" in r.out or "in 15m00s" in r.out)
    r = mt("heartbeat", "c", "--owner", "intruder", "--json")
    assert r.code == 4 and "claimed by 'w1', not 'intruder'" in r.error()["message"]
    b.complete("c")
    r = mt("heartbeat", "c", "--owner", "w1")
    assert r.code == 4 and "not claimed (it is done)" in r.err


def test_reclaim(mt, db_url):
    past = Backlog(open_database(db_url), clock=lambda: datetime.now(UTC) - timedelta(hours=1))
    past.create("old", "Lease long over")
    past.create("live", "Lease still running")
    past.claim("w2", 7200, "live")  # ends in an hour from now
    past.claim("w1", 60, "old")  # ended 59 minutes ago
    past.close()
    assert mt("reclaim", "--json").json() == {"reclaimed": ["old"]}
    assert mt("reclaim").out == "nothing to reclaim\n"
    r = mt("reclaim", "--id", "live")
    assert r.code == 0 and r.out == "reclaimed 1: live\n"
    r = mt("reclaim", "--id", "live", "--json")
    assert r.code == 4 and r.error()["code"] == "conflict"


# --------------------------------------------------------------------------- graph and status changes
def test_link_and_unlink(mt, b):
    for cid in ("a", "b", "c"):
        b.create(cid, cid.upper())
    assert mt("link", "a", "b", "--json").json()["dependsOn"] == ["b"]
    assert mt("link", "a", "b", "--json").json()["dependsOn"] == ["b"]  # twice: no-op
    assert mt("link", "b", "c").out == "linked b -> c (b depends on c)\n"
    r = mt("link", "c", "a", "--json")
    assert r.code == 4 and "a cycle" in r.error()["message"]
    assert mt("link", "a", "a").code == 2
    assert mt("link", "a", "ghost").code == 3
    assert mt("unlink", "a", "b", "--json").json()["dependsOn"] == []
    assert mt("unlink", "b", "c").out == "unlinked b -> c\n"
    r = mt("unlink", "b", "c", "--json")
    assert r.code == 3 and r.error()["code"] == "not_found"


def test_block_unblock_complete_reopen(mt, b):
    b.create("c", "C")
    assert mt("block", "c", "--json").json()["status"] == "blocked"
    r = mt("block", "c")
    assert r.code == 4 and "already blocked" in r.err
    assert mt("unblock", "c").out == "unblocked c: C [ready]\n"
    assert mt("unblock", "c", "--json").code == 4
    b.claim("w1", 60)
    r = mt("complete", "c", "--owner", "w2", "--json")
    assert r.code == 4 and "claimed by 'w1', not 'w2'" in r.error()["message"]
    j = mt("complete", "c", "--owner", "w1", "--json").json()
    assert j["status"] == "done" and j["claimOwner"] is None
    assert mt("complete", "c").code == 4
    assert mt("reopen", "c").out == "reopened c: C [ready]\n"
    assert mt("reopen", "c", "--json").code == 4
    assert mt("complete", "c").out == "completed c: C [done]\n"
    assert mt("reopen", "c", "--json").json()["status"] == "ready"
    for cmd in ("block", "unblock", "complete", "reopen"):
        r = mt(cmd, "ghost", "--json")
        assert r.code == 3 and r.error() == {"code": "not_found", "message": "no card 'ghost'"}


# --------------------------------------------------------------------------- stats / events / db
def test_stats(mt, b):
    b.create("a", "A")
    b.create("b", "B", depends_on=["a"])
    b.create("c", "C")
    b.claim("w", 60, "c")
    s = mt("stats", "--json").json()
    assert s["counts"] == {"ready": 2, "claimed": 1, "blocked": 0, "done": 0}
    assert (s["total"], s["claimable"], s["expiredClaimCount"]) == (3, 1, 0)
    assert {"oldestReadyAgeSeconds"} <= set(s)
    r = mt("stats")
    assert r.out.splitlines()[0].split() == ["READY", "CLAIMED", "BLOCKED", "DONE", "TOTAL"]
    assert r.out.splitlines()[1].split() == ["2", "1", "0", "0", "3"]
    assert r.out.splitlines()[2].startswith("claimable: 1")


def test_events(mt, b):
    b.create("a", "A")
    b.create("b", "B")
    b.claim("w", 60, "a")
    evs = mt("events", "--json").json()
    assert [(e["cardId"], e["kind"]) for e in evs] == [("a", "created"), ("b", "created"), ("a", "claimed")]
    assert set(evs[0]) == {"id", "cardId", "kind", "oldStatus", "newStatus", "owner", "at"}
    assert [e["kind"] for e in mt("events", "--card", "a", "--json").json()] == ["created", "claimed"]
    assert [e["cardId"] for e in mt("events", "--since", str(evs[0]["id"]), "--json").json()] == ["b", "a"]
    assert len(mt("events", "--limit", "1", "--json").json()) == 1
    r = mt("events")
    assert r.out.splitlines()[0].split()[:3] == ["ID", "AT", "(UTC)"]
    assert "ready -> claimed" in r.out.splitlines()[3] and r.out.splitlines()[3].rstrip().endswith("w")
    assert mt("events", "--card", "zzz").out == "no events\n"


def test_db(mt, b, db_url):
    j = mt("db", "--json").json()
    assert j["schemaVersion"] == HEAD and j["source"] == "flag"
    if db_url.startswith("postgresql"):
        assert j["backend"] == "postgresql" and j["path"] is None
    else:
        assert j["backend"] == "sqlite" and j["path"] == db_url
    r = mt("db")
    assert r.code == 0 and f"schema version: {HEAD}" in r.out and f"backend:        {j['backend']}" in r.out


def test_db_from_environment_and_default(mt, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", str(tmp_path / "env.db"))
    j = mt("db", "--json", db=None).json()
    assert j["source"] == "DATABASE_URL" and j["path"] == str(tmp_path / "env.db")
    monkeypatch.delenv("DATABASE_URL")
    j = mt("db", "--json", db=None).json()
    assert j["source"] == "default" and j["path"] == str(tmp_path / "mosaic-home" / "fleet" / "backlog.db")


# --------------------------------------------------------------------------- options, errors, board
def test_options_before_the_command(mt, b):
    b.create("a", "A")
    r = mt("--db", mt.url, "--json", "list", db=None)
    assert r.code == 0 and [c["id"] for c in r.json()] == ["a"]


def test_usage_errors_exit_2_in_one_line(mt):
    for args in (["claim"], ["bogus"], ["show"], ["list", "--limit", "0"], ["migrate"]):
        r = mt(*args)
        assert r.code == 2 and r.out == "" and r.err.count("\n") == 1 and "error:" in r.err, args
        rj = mt(*args, "--json")
        assert rj.code == 2 and rj.error()["code"] == "usage"


def test_unreachable_database_exits_5_and_hides_the_password(mt):
    url = "postgresql://fleet:pa55w0rd-S3CRET@127.0.0.1:1/backlog"
    r = mt("list", db=url)
    assert r.code == 5 and "S3CRET" not in r.err and "database unreachable" in r.err and r.err.count("\n") == 1
    rj = mt("stats", "--json", db=url)
    assert rj.code == 5 and rj.error()["code"] == "unavailable" and "S3CRET" not in rj.err


def test_not_a_backlog_exits_5(mt, tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    r = mt("list", "--json", db=str(junk))
    assert r.code == 5 and "not a backlog" in r.error()["message"]


def test_unexpected_errors_are_one_line_and_scrubbed(mt, monkeypatch):
    def boom(self):
        raise RuntimeError("kaboom\nwith pa55-S3CRET inside")

    monkeypatch.setattr(Backlog, "stats", boom)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:pa55-S3CRET@127.0.0.1:5432/x")
    r = mt("stats", "--json", db=mt.url)
    assert r.code == 1 and r.error()["code"] == "internal" and "S3CRET" not in r.err
    r = mt("stats", db=mt.url)
    assert r.code == 1 and r.err == "mosaic-tui: error: internal error: RuntimeError: kaboom with *** inside\n"
    assert "Traceback" not in r.err


def test_help_explains_every_command(mt):
    r = mt("--help", db=None)
    assert r.code == 0 and "Exit codes:" in r.out and "An agent's loop:" in r.out
    for code in range(6):
        assert f"  {code}  " in r.out
    for name, command in cli.cli.commands.items():
        r = mt(name, "--help", db=None)
        assert r.code == 0 and "--db URL" in r.out and "--json" in r.out, name
        assert command.help and command.help.split(".")[0] in " ".join(r.out.split()), name


def test_no_command_opens_the_board(mt, monkeypatch):
    calls = []
    fake = types.ModuleType("mosaic_tui.board")
    fake.run_board = lambda db_url, phase=None, listen_url=None, read_url=None: calls.append(
        (db_url, phase, listen_url)) or 0
    monkeypatch.setitem(sys.modules, "mosaic_tui.board", fake)
    monkeypatch.delenv("MOSAIC_LISTEN_URL", raising=False)
    assert mt().code == 0
    assert mt("--phase", "M1").code == 0
    assert mt("board", "--phase", "M2").code == 0
    assert mt("--phase", "M3", "board").code == 0
    # --listen-url reaches the board as an argument (no environment variable is set for it)
    assert mt("--listen-url", "postgresql://u@server:5432/db", "board").code == 0
    assert "MOSAIC_LISTEN_URL" not in os.environ
    assert calls == [(mt.url, None, None), (mt.url, "M1", None), (mt.url, "M2", None), (mt.url, "M3", None),
                     (mt.url, None, "postgresql://u@server:5432/db")]
    fake.run_board = lambda db_url, phase=None, listen_url=None, read_url=None: 5
    assert mt("board").code == 5


def test_no_command_without_a_board_explains_the_commands(mt, monkeypatch):
    monkeypatch.setitem(sys.modules, "mosaic_tui.board", None)  # as if the board were not built
    r = mt()
    assert r.code == 0 and "use the commands" in r.out and "claim" in r.out and r.err == ""


# --------------------------------------------------------------------------- export / import / migrate
def test_export_import_and_migrate_commands(mt, b, tmp_path):
    b.create("a", "Alpha")
    b.create("b", "Beta", depends_on=["a"])
    b.claim("w", 60, "a")
    b.label(["a"], add=["infra"])
    b.note("b", "a note", author="ann")
    path = tmp_path / "out.jsonl"
    r = mt("export", str(path))
    assert r.code == 0 and r.out == f"exported 2 cards, 5 events, 1 note and 1 label to {path}\n"
    assert (path.stat().st_mode & 0o777) == 0o600  # an export may hold private text
    assert mt("export", str(path), "--json").json() == {"exported": {"cards": 2, "events": 5, "notes": 1, "labels": 1,
                                                                        "file": str(path)}}
    whole = mt("export")
    assert whole.code == 0 and whole.out == path.read_text().replace(
        path.read_text().splitlines()[0], whole.out.splitlines()[0])  # the same, but for exportedAt

    other = str(tmp_path / "other.db")
    r = mt("import", str(path), "--json", db=other)
    assert r.json()["imported"] == {"inserted": 2, "replaced": 0, "unchanged": 0, "kept": 0, "keptIds": [],
                                    "events": 5, "eventIdsKept": True, "notes": 1, "notesAlreadyThere": 0,
                                    "labels": 1, "verified": False}
    r = mt("import", "-", db=other, stdin=path.read_text())
    assert r.code == 0 and r.out == "imported 0 cards, 0 events, 2 already there, 1 note already there\n"
    b.edit("b", title="Beta, edited")
    edited = mt("export").out
    r = mt("import", "-", db=other, stdin=edited)
    assert r.out == ("imported 0 cards, 0 events, 1 already there, kept 1 existing that differ: b, "
                     "1 note already there\n")
    r = mt("import", "-", "--on-existing", "fail", "--json", db=other, stdin=edited)
    assert r.code == 4 and r.error()["code"] == "conflict"
    r = mt("import", "-", "--on-existing", "replace", db=other, stdin=edited)
    assert r.code == 0 and "replaced 1" in r.out
    r = mt("import", str(tmp_path / "missing.jsonl"))
    assert r.code == 2 and "cannot read" in r.err
    r = mt("import", "-", "--json", stdin='{"id": "x", "title": "ok"}\n{"id": "y"}\n')
    assert r.code == 2 and r.error()["message"] == "line 2: title must not be empty"
    assert b.count() == 2  # nothing written

    target = str(tmp_path / "target.db")
    r = mt("migrate", "--to", target, "--json")
    m = r.json()["migrated"]
    assert (m["inserted"], m["cards"], m["targetCards"], m["events"], m["verified"]) == (2, 2, 2, 6, True)
    assert (m["notes"], m["labels"]) == (1, 1)
    r = mt("migrate", "--to", target)
    assert r.code == 4 and "not empty" in r.err and "--merge" in r.err
    r = mt("migrate", "--to", target, "--merge")
    assert r.code == 0 and "(2 were there already)" in r.out
    r = mt("migrate", "--to", target, "--replace")
    assert r.code == 2 and "--replace only makes sense with --merge" in r.err
    r = mt("migrate", "--to", mt.url)
    assert r.code == 2 and "same database" in r.err


def test_one_exit_code_table(mt):
    """Every error class, the --help epilog and docs/cli.md take their exit codes from errors.EXIT_CODES."""
    from pathlib import Path

    from mosaic_tui import errors

    from mosaic_tui.repository import transfer
    classes = [errors.MosaicError, errors.InvalidInput, errors.NotFound, errors.Conflict, errors.Unavailable,
               transfer.VerifyFailed]
    assert {c.code: c("x").exit_code for c in classes} == {c.code: errors.EXIT_CODES[c.code] for c in classes}
    assert [errors.InvalidInput.code, errors.NotFound.code, errors.Conflict.code, errors.Unavailable.code] == [
        "invalid_input", "not_found", "conflict", "unavailable"]
    assert [errors.EXIT_CODES[c] for c in ("invalid_input", "not_found", "conflict", "unavailable")] == [2, 3, 4, 5]
    help_text = mt("--help", db=None).out
    for code, meaning in errors.EXIT_MEANINGS.items():
        assert f"  {code}  {meaning}" in help_text
    doc = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text()
    rows = {line.split("|")[1].strip(): line.split("|")[2] for line in doc.splitlines() if line.startswith("| ") and
            line.split("|")[1].strip().isdigit()}
    for code, exit_code in errors.EXIT_CODES.items():
        if code != "error":
            assert f"`{code}`" in rows[str(exit_code)], (code, exit_code)
