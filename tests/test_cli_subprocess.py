"""The real console script, ``mosaic-tui``, in subprocesses, on both backends.

One run per command and backend (JSON on Postgres, the human form on SQLite;
both forms of every command are also tested in-process in test_cli.py), the
error classes, cold-start imports, ``events --follow`` and Ctrl-C, and a
shell agent loop run by 4 concurrent processes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from mosaic_tui.db.schema import HEAD
from mosaic_tui.repository import Backlog


def _script() -> str:
    direct = Path(sysconfig.get_path("scripts")) / "mosaic-tui"  # not a pyenv shim: no extra start-up
    if direct.exists():
        return str(direct)
    found = shutil.which("mosaic-tui")
    assert found, "the console script is not installed: pip install -e . --no-deps"
    return found


MT = _script()


def mt(*args: str, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([MT, *args], input=stdin, capture_output=True, text=True, timeout=timeout, env=os.environ.copy())


def is_pg(url: str) -> bool:
    return url.startswith("postgresql")


def seed(url: str) -> None:
    b = Backlog.open(url)
    b.create("a", "Alpha")
    b.create("b", "Beta", depends_on=["a"])
    b.create("c", "Gamma", priority=5)
    b.create("d", "Delta")
    b.create("e", "Epsilon")
    b.claim("w1", 300, "c")
    b.block("d")
    b.complete("e")
    b.close()


def _other(request, db_url, tmp_path) -> str:
    """Another database of the other backend (import/migrate targets)."""
    return str(tmp_path / "other.db") if is_pg(db_url) else request.getfixturevalue("pg_url")


# (command, args, check of the JSON output, expected text in the human output)
CASES = {
    "create": (["create", "n", "New", "card", "--deps", "a", "--priority", "2"],
               lambda j: j["id"] == "n" and j["dependsOn"] == ["a"] and j["priority"] == 2, "created n: New card [waiting]"),
    "show": (["show", "b"], lambda j: j["dependsOn"] == ["a"] and j["status"] == "ready", "waiting on:      a"),
    "list": (["list", "--claimable"], lambda j: [c["id"] for c in j] == ["a"], "\na   ready   0    -      -      -           Alpha"),
    "claim": (["claim", "--owner", "w2"], lambda j: j["id"] == "a" and j["claimOwner"] == "w2", "claimed a: Alpha for w2"),
    "heartbeat": (["heartbeat", "c", "--owner", "w1", "--ttl", "60"], lambda j: j["claimOwner"] == "w1", "heartbeat c: lease ends"),
    "reclaim": (["reclaim", "--id", "c"], lambda j: j == {"reclaimed": ["c"]}, "reclaimed 1: c"),
    "link": (["link", "a", "c"], lambda j: j["dependsOn"] == ["c"], "linked a -> c (a depends on c)"),
    "unlink": (["unlink", "b", "a"], lambda j: j["dependsOn"] == [], "unlinked b -> a"),
    "block": (["block", "a"], lambda j: j["status"] == "blocked", "blocked a: Alpha [blocked]"),
    "unblock": (["unblock", "d"], lambda j: j["status"] == "ready", "unblocked d: Delta [ready]"),
    "complete": (["complete", "c", "--owner", "w1"], lambda j: j["status"] == "done" and j["claimOwner"] is None,
                 "completed c: Gamma [done]"),
    "reopen": (["reopen", "e"], lambda j: j["status"] == "ready", "reopened e: Epsilon [ready]"),
    "stats": (["stats"], lambda j: j["counts"] == {"ready": 2, "claimed": 1, "blocked": 1, "done": 1} and j["claimable"] == 1,
              "READY  CLAIMED  BLOCKED  DONE  TOTAL"),
    "events": (["events", "--card", "c"], lambda j: [e["kind"] for e in j] == ["created", "claimed"], "ready -> claimed"),
    "db": (["db"], lambda j: j["schemaVersion"] == HEAD and j["source"] == "flag", f"schema version: {HEAD}"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_every_command_through_the_console_script(name, db_url):
    seed(db_url)
    args, check, text = CASES[name]
    if is_pg(db_url):
        r = mt(*args, "--db", db_url, "--json")
        assert r.returncode == 0 and r.stderr == "", r.stderr
        assert check(json.loads(r.stdout)), r.stdout
    else:
        r = mt(*args, "--db", db_url)
        assert r.returncode == 0 and r.stderr == "", r.stderr
        assert text in r.stdout, r.stdout


def test_export_import_through_the_console_script(request, db_url, tmp_path):
    seed(db_url)
    other = _other(request, db_url, tmp_path)
    exported = mt("export", "--db", db_url)
    assert exported.returncode == 0 and exported.stderr == ""
    lines = exported.stdout.splitlines()
    assert json.loads(lines[0])["cards"] == 5 and sum('"card"' in x for x in lines) == 5
    imported = mt("import", "-", "--db", other, "--json", stdin=exported.stdout)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["imported"]["inserted"] == 5
    again = mt("import", "-", "--db", other, stdin=exported.stdout)
    assert again.returncode == 0 and again.stdout == "imported 0 cards, 0 events, 5 already there\n"
    to_file = mt("export", str(tmp_path / "copy.jsonl"), "--db", other, "--json")
    assert json.loads(to_file.stdout)["exported"]["cards"] == 5
    assert [json.loads(x) for x in (tmp_path / "copy.jsonl").read_text().splitlines()[1:]] == \
        [json.loads(x) for x in lines[1:]]


def test_migrate_through_the_console_script(request, db_url, tmp_path):
    seed(db_url)
    other = _other(request, db_url, tmp_path)
    r = mt("migrate", "--db", db_url, "--to", other)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("migrated 5 cards, 8 events, 0 notes and 0 labels from ") and "verified 5 cards by checksum" in r.stdout
    src, dst = Backlog.open(db_url), Backlog.open(other)
    from mosaic_tui.repository import card_json

    assert [card_json(c) for c in dst.list()] == [card_json(c) for c in src.list()]
    src.close()
    dst.close()
    r = mt("migrate", "--db", db_url, "--to", other, "--json")
    assert r.returncode == 4 and r.stdout == "" and json.loads(r.stderr)["error"]["code"] == "conflict"


def test_python_dash_m_runs_the_same_cli(sqlite_url):
    seed(sqlite_url)
    r = subprocess.run([sys.executable, "-m", "mosaic_tui", "list", "--db", sqlite_url, "--json"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and [c["id"] for c in json.loads(r.stdout)] == ["c", "a", "b", "d", "e"]


@pytest.mark.parametrize("args, code, kind", [
    (["claim"], 2, "usage"),
    (["create", "x", "t", "--priority", "high"], 2, "invalid_input"),
    (["show", "ghost"], 3, "not_found"),
    (["heartbeat", "c", "--owner", "intruder"], 4, "conflict"),
])
def test_error_classes_through_the_console_script(sqlite_url, args, code, kind):
    seed(sqlite_url)
    r = mt(*args, "--db", sqlite_url, "--json")
    assert r.returncode == code and r.stdout == ""
    assert json.loads(r.stderr)["error"]["code"] == kind
    r = mt(*args, "--db", sqlite_url)
    assert r.returncode == code and r.stdout == "" and r.stderr.startswith("mosaic-tui: error: ")
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_unreachable_database_through_the_console_script():
    r = mt("claim", "--owner", "w", "--json", "--db", "postgresql://agent:hunter2-S3CRET@127.0.0.1:1/fleet")
    assert r.returncode == 5 and r.stdout == "" and "S3CRET" not in r.stderr
    assert json.loads(r.stderr)["error"]["code"] == "unavailable"


def test_the_claim_path_imports_neither_textual_nor_alembic(db_url):
    seed(db_url)  # migrated already, as any backlog after its first use
    code = (
        "import sys; from mosaic_tui.cli import run; "
        f"rc = run(['claim', '--owner', 'agent', '--json', '--db', {db_url!r}]); "
        "bad = [m for m in ('textual', 'alembic', 'rich') if m in sys.modules]; "
        "print('RESULT', rc, bad)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "RESULT 0 []"
    assert json.loads(r.stdout.splitlines()[0])["id"] == "a"


def test_events_follow_prints_new_events_and_stops_cleanly_on_ctrl_c(db_url):
    import threading

    b = Backlog.open(db_url)
    b.create("old", "Before following")
    since = b.last_event_id()
    b.create("new", "After --since")
    proc = subprocess.Popen([MT, "events", "--follow", "--json", "--since", str(since), "--db", db_url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(90, proc.kill)  # a broken follower fails the test instead of hanging it
    watchdog.start()
    try:
        first = json.loads(proc.stdout.readline())  # it is running once it printed this
        assert (first["cardId"], first["kind"]) == ("new", "created")
        b.claim("w", 60, "new")  # committed while it follows: the feed wakes it
        live = json.loads(proc.stdout.readline())
        assert (live["cardId"], live["kind"], live["owner"]) == ("new", "claimed", "w")
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        watchdog.cancel()
        b.close()
    assert proc.returncode == 0 and err == "" and out == ""


AGENT = r"""
set -u
M="$1"; ME="$2"; LOG="$3"
# The README's loop: stop when nothing is claimable. The backlog still drains, because whoever
# completes a card claims again at once and so picks up (or leaves to others) what it unlocked.
while card=$("$M" claim --owner "$ME" --ttl 60 --json) && [ "$card" != null ]; do
  id=${card#\{\"id\": \"}; id=${id%%\"*}
  "$M" heartbeat "$id" --owner "$ME" --ttl 60 --json >/dev/null || exit 13
  echo "$ME $id" >> "$LOG"
  "$M" complete "$id" --owner "$ME" --json >/dev/null || exit 14
done
[ "${card:-}" = null ] || exit 11
"""


def test_four_agent_processes_drain_a_backlog_in_dependency_order(db_url, tmp_path):
    b = Backlog.open(db_url)
    deps: dict[str, list[str]] = {f"free-{i}": [] for i in range(3)}
    deps["chain-0"] = []
    deps["chain-1"] = ["chain-0"]
    deps["chain-2"] = ["chain-1"]  # three levels: chain-0, then chain-1 and join, then chain-2
    deps["join"] = ["chain-0", "free-0"]
    for cid, d in deps.items():
        b.create(cid, f"Card {cid}", depends_on=d, priority=len(d))
    script = tmp_path / "agent.sh"
    script.write_text(AGENT)
    log = tmp_path / "log.txt"
    env = {**os.environ, "DATABASE_URL": db_url}
    procs = [subprocess.Popen(["bash", str(script), MT, f"agent-{i}", str(log)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(4)]
    results = [p.communicate(timeout=240) for p in procs]
    for p, (_, err) in zip(procs, results):
        assert p.returncode == 0, err
    done = [line.split() for line in log.read_text().splitlines()]
    assert sorted(cid for _, cid in done) == sorted(deps)  # every card once: no card taken twice
    cards = {c.id: c for c in b.list()}
    assert all(c.status == "done" and c.attempts == 1 for c in cards.values())
    finished = {e.card_id: e.id for e in b.events() if e.kind == "completed"}
    started = {e.card_id: e.id for e in b.events() if e.kind == "claimed"}
    for cid, d in deps.items():
        for dep in d:  # claimed only after each dependency was completed
            assert finished[dep] < started[cid] < finished[cid], (cid, dep)
    assert len({who for who, _ in done}) >= 2  # the work was spread
    b.close()
