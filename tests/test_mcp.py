"""The MCP server, driven by the MCP SDK's own stdio client, in real server processes, on both backends.

Each test starts ``python -m mosaic_tui.mcp.server`` (one test the console
script ``mosaic-tui mcp``) and talks to it as an MCP client does: initialize,
list the tools, call them. The client validates every non-error result
against the tool's output schema itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import sysconfig
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import jsonschema
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

from mosaic_tui.repository import Backlog

AGENT_LOOP = ["claim", "heartbeat", "complete", "release", "reclaim"]
GROOMING = ["show", "list", "create", "link", "unlink", "block", "unblock", "reopen", "stats", "events"]
SCRIPT = Path(sysconfig.get_path("scripts")) / "mosaic-tui"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {"MOSAIC_HOME": str(tmp_path / "home")}  # the client passes on only a safe default set besides these
    env.update(extra)
    return env


@contextlib.asynccontextmanager
async def connect(url: str, tmp_path: Path, *, owner: str | None = None, env: dict[str, str] | None = None,
                  script: bool = False, errlog=None) -> AsyncIterator[ClientSession]:
    """A client session on a new server process for the backlog at ``url``."""
    args = ["mcp"] if script else ["-m", "mosaic_tui.mcp.server"]
    args += ["--db", url] + (["--owner", owner] if owner is not None else [])
    params = StdioServerParameters(command=str(SCRIPT) if script else sys.executable, args=args,
                                   env=env if env is not None else _env(tmp_path))
    log = errlog if errlog is not None else open(os.devnull, "w")  # noqa: SIM115 - closed below
    try:
        with anyio.fail_after(120):
            async with stdio_client(params, errlog=log) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                yield session
    finally:
        if errlog is None:
            log.close()


async def call(s: ClientSession, tool: str, **args):
    """A successful call's structured content (fails the test on a tool error)."""
    res = await s.call_tool(tool, args)
    assert not res.is_error, res.content[0].text
    assert json.loads(res.content[0].text) is not None or tool == "claim"
    return res.structured_content


async def error(s: ClientSession, tool: str, **args) -> dict:
    """A failed call's error object: its one text block, and no structured content (see docs/mcp.md, "Errors")."""
    res = await s.call_tool(tool, args)
    assert res.is_error, f"{tool} {args} did not fail: {res.content[0].text}"
    assert res.structured_content is None and len(res.content) == 1
    body = json.loads(res.content[0].text)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert "\n" not in body["error"]["message"]
    return body["error"]


# --------------------------------------------------------------------------- listing
def test_the_console_script_serves_every_tool_with_description_and_schemas(sqlite_url, tmp_path):
    async def main():
        async with connect(sqlite_url, tmp_path, owner="a1", script=True) as s:
            return (await s.list_tools()).tools

    tools = {t.name: t for t in anyio.run(main)}
    assert set(AGENT_LOOP + GROOMING) <= set(tools)
    for t in tools.values():
        assert len(t.description) > 60, t.name
        assert t.input_schema["type"] == "object" and t.output_schema["type"] == "object", t.name
        jsonschema.Draft202012Validator.check_schema(t.input_schema)
        jsonschema.Draft202012Validator.check_schema(t.output_schema)
        assert "title" not in t.input_schema
    assert "null" in tools["claim"].description and "nothing is claimable" in tools["claim"].description
    assert set(tools["claim"].input_schema["properties"]) == {"owner", "ttl", "id"}
    assert set(tools["create"].input_schema["properties"]) >= {"id", "title", "dependsOn", "idempotencyKey"}
    assert tools["create"].input_schema["required"] == ["id", "title"]
    assert set(tools["link"].input_schema["properties"]) == {"from", "to"}
    card_keys = set(tools["show"].output_schema["properties"])
    assert {"claimOwner", "claimTtlSeconds", "claimedAt", "dependsOn", "createdAt"} <= card_keys
    assert tools["show"].annotations.read_only_hint and not tools["claim"].annotations.read_only_hint


def test_the_cli_and_the_tools_print_the_same_json(sqlite_url, tmp_path):
    b = Backlog.open(sqlite_url)
    b.create("a", "Alpha", body="**b**", priority=3, acceptance={"tests": ["x"]})
    b.close()

    async def main():
        async with connect(sqlite_url, tmp_path, owner="a1") as s:
            res = await s.call_tool("show", {"id": "a"})
            listed = await s.call_tool("list", {})
            return json.loads(res.content[0].text), res.structured_content, json.loads(listed.content[0].text)

    text, structured, listed = anyio.run(main)
    env = {**os.environ, "MOSAIC_HOME": str(tmp_path / "home")}
    cli = subprocess.run([str(SCRIPT), "show", "a", "--json", "--db", sqlite_url], capture_output=True, text=True, env=env)
    cli_list = subprocess.run([str(SCRIPT), "list", "--json", "--db", sqlite_url], capture_output=True, text=True, env=env)
    assert text == structured == json.loads(cli.stdout)
    assert listed == json.loads(cli_list.stdout)


def test_impact_is_the_clis_keystones_and_critical_paths(db_url, tmp_path):
    from fixtures import FixedClock, seed
    from mosaic_tui.db.engine import open_database

    b = Backlog(open_database(db_url), clock=FixedClock())
    seed(b, FixedClock())
    b.close()

    async def main():
        async with connect(db_url, tmp_path, owner="a1") as s:
            res = await s.call_tool("impact", {"top": 2})
            bad = await error(s, "impact", top=0)
            return json.loads(res.content[0].text), res.structured_content, bad

    text, structured, bad = anyio.run(main)
    env = {**os.environ, "MOSAIC_HOME": str(tmp_path / "home")}
    cli = subprocess.run([str(SCRIPT), "impact", "--top", "2", "--json", "--db", db_url], capture_output=True, text=True,
                         env=env)
    assert text == structured == json.loads(cli.stdout)
    assert [(k["id"], k["unlocks"]) for k in text["keystones"]] == [("M1-02", 4), ("M1-04", 2)]
    assert text["criticalPaths"][0] == {"phase": "M1", "length": 4, "cards": ["M1-02", "M1-04", "M1-05", "M1-07"]}
    assert bad["code"] == "invalid_input" and "top" in bad["message"]


def test_agents_and_flow_are_the_clis_figures(db_url, tmp_path):
    b = Backlog.open(db_url)
    for i in range(3):
        b.create(f"c{i}", f"card {i}", phase="P")
    b.claim("agent-1", ttl=600, id="c0")
    b.complete("c0", owner="agent-1")
    b.claim("agent-2", ttl=600, id="c1")
    b.close()

    async def main():
        async with connect(db_url, tmp_path, owner="a1") as s:
            agents = await s.call_tool("agents", {})
            flow = await s.call_tool("flow", {"window": "1h"})
            bad = await error(s, "flow", window="2w")
            return json.loads(agents.content[0].text), agents.structured_content, flow.structured_content, bad

    text, structured, flow, bad = anyio.run(main)
    env = {**os.environ, "MOSAIC_HOME": str(tmp_path / "home")}
    cli_agents = json.loads(subprocess.run([str(SCRIPT), "agents", "--json", "--db", db_url], capture_output=True,
                                           text=True, env=env).stdout)
    cli_flow = json.loads(subprocess.run([str(SCRIPT), "flow", "--window", "1h", "--json", "--db", db_url],
                                         capture_output=True, text=True, env=env).stdout)
    assert structured == {"agents": text}
    steady = ("owner", "cards", "stale", "claimsLastHour", "completionsLastHour")  # not the seconds: a later clock
    assert [{k: a[k] for k in steady} for a in text] == [{k: a[k] for k in steady} for a in cli_agents]
    assert [a["owner"] for a in text] == ["agent-2", "agent-1"] and text[0]["cards"] == [{"id": "c1", "title": "card 1"}]
    for key in ("window", "claims", "completions", "cycleTime", "phases", "agents"):
        assert flow[key] == cli_flow[key], key
    assert (flow["claims"], flow["completions"]) == (2, 1)
    assert bad["code"] == "invalid_input" and "window" in bad["message"]


# --------------------------------------------------------------------------- the agent's loop
class _Together:
    """The agents start claiming once every server answers (a server that starts late on a loaded machine
    would otherwise find most cards taken)."""

    def __init__(self, n: int):
        self.left, self.go = n, anyio.Event()

    async def wait(self) -> None:
        self.left -= 1
        if not self.left:
            self.go.set()
        await self.go.wait()


async def _agent(url: str, tmp_path: Path, me: str, n: int, log: list, errlog=None, start: _Together | None = None):
    async with connect(url, tmp_path, owner=me, errlog=errlog) as s:
        if start is not None:
            await start.wait()
        while True:
            got = await call(s, "claim", ttl=60)
            card = got["card"]
            if card is None:
                if (await call(s, "stats"))["counts"]["done"] == n:
                    return
                await anyio.sleep(0.05)  # the other agent holds what the rest waits on
                continue
            assert (card["status"], card["claimOwner"], card["claimTtlSeconds"]) == ("claimed", me, 60)
            log.append(("claimed", me, card["id"]))
            beat = await call(s, "heartbeat", id=card["id"], ttl=120)
            assert beat["claimOwner"] == me and beat["claimTtlSeconds"] >= 120
            done = await call(s, "complete", id=card["id"])
            assert (done["status"], done["claimOwner"]) == ("done", None)
            log.append(("completed", me, card["id"]))


def test_two_servers_drain_one_backlog_each_card_claimed_and_completed_once(db_url, tmp_path):
    n = 40
    b = Backlog.open(db_url)
    for i in range(n):  # every fourth card waits on the one before it
        b.create(f"c{i:02d}", f"card {i}", priority=i % 3, depends_on=[f"c{i - 1:02d}"] if i % 4 == 3 else [])
    before = b.last_event_id()
    log: list = []

    async def main():
        start = _Together(2)
        async with anyio.create_task_group() as tg:
            tg.start_soon(_agent, db_url, tmp_path, "agent-1", n, log, None, start)
            tg.start_soon(_agent, db_url, tmp_path, "agent-2", n, log, None, start)

    anyio.run(main)
    claimed = Counter(cid for kind, _, cid in log if kind == "claimed")
    completed = Counter(cid for kind, _, cid in log if kind == "completed")
    ids = {f"c{i:02d}" for i in range(n)}
    assert set(claimed) == set(completed) == ids
    assert max(claimed.values()) == 1 and max(completed.values()) == 1
    events = Counter((e.kind, e.card_id) for e in b.events(since=before))
    assert all(events[("claimed", i)] == 1 and events[("completed", i)] == 1 for i in ids)
    assert {c.status for c in b.list()} == {"done"}
    b.close()


def test_two_servers_drain_one_backlog_through_pgbouncer_in_transaction_mode(pg_url, tmp_path):
    """Behind PgBouncer in transaction mode (two server connections shared by both servers' transactions).

    A long-lived server runs the same statements many times on each pooled
    connection: past psycopg's auto-prepare threshold, after which a prepared
    statement would be looked for on whichever server connection the pooler
    hands over next ("prepared statement ... does not exist"). The servers run
    with prepare_threshold off (MOSAIC_PG_DIRECT unset), so the drain has no
    error and no duplicate.
    """
    import pooler
    from mosaic_tui.db.engine import PG_DIRECT_PREPARE_THRESHOLD

    pooler.need()
    n = 40
    b = Backlog.open(pg_url)
    for i in range(n):  # every fourth card waits on the one before it
        b.create(f"c{i:02d}", f"card {i}", priority=i % 3, depends_on=[f"c{i - 1:02d}"] if i % 4 == 3 else [])
    before = b.last_event_id()
    log: list = []
    errlogs = [open(tmp_path / f"server-{i}.err", "w") for i in (1, 2)]  # noqa: SIM115 - closed below

    async def main(url: str):
        start = _Together(2)
        async with anyio.create_task_group() as tg:
            tg.start_soon(_agent, url, tmp_path, "agent-1", n, log, errlogs[0], start)
            tg.start_soon(_agent, url, tmp_path, "agent-2", n, log, errlogs[1], start)

    try:
        with pooler.PgBouncer(pool_mode="transaction", pool_size=2) as bouncer:
            anyio.run(main, bouncer.url(pg_url))
            servers = bouncer.show("SERVERS")
    finally:
        for f in errlogs:
            f.close()
    assert 1 <= len(servers) <= 2  # both servers' transactions took turns on at most two server connections
    claimed = Counter(cid for kind, _, cid in log if kind == "claimed")
    completed = Counter(cid for kind, _, cid in log if kind == "completed")
    ids = {f"c{i:02d}" for i in range(n)}
    assert set(claimed) == set(completed) == ids
    assert max(claimed.values()) == 1 and max(completed.values()) == 1
    by_agent = Counter(me for kind, me, _ in log if kind == "claimed")
    assert min(by_agent.values()) > PG_DIRECT_PREPARE_THRESHOLD  # each server ran its statements past it
    events = Counter((e.kind, e.card_id) for e in b.events(since=before))
    assert all(events[("claimed", i)] == 1 and events[("completed", i)] == 1 for i in ids)
    assert {c.status for c in b.list()} == {"done"}
    b.close()
    stderr = "".join((tmp_path / f"server-{i}.err").read_text() for i in (1, 2))
    assert "prepared statement" not in stderr and "Traceback" not in stderr


# --------------------------------------------------------------------------- errors
def test_errors_carry_the_cli_codes_and_write_nothing(db_url, tmp_path):
    b = Backlog.open(db_url)
    b.create("a", "A")
    b.create("b", "B", depends_on=["a"])
    b.claim("someone", ttl=600, id="a")
    before = b.last_event_id()

    async def main():
        async with connect(db_url, tmp_path, owner="me") as s:
            errs = {
                "show missing": await error(s, "show", id="nope"),
                "heartbeat missing": await error(s, "heartbeat", id="nope"),
                "unlink no edge": await error(s, "unlink", **{"from": "a", "to": "b"}),
                "complete not mine": await error(s, "complete", id="a"),
                "release not mine": await error(s, "release", id="a"),
                "heartbeat not mine": await error(s, "heartbeat", id="a"),
                "duplicate id": await error(s, "create", id="a", title="again"),
                "cycle": await error(s, "link", **{"from": "a", "to": "b"}),
                "reopen a ready card": await error(s, "reopen", id="b"),
                "ttl 0": await error(s, "claim", ttl=0),
                "ttl text": await error(s, "heartbeat", id="a", ttl="soon"),
                "unknown argument": await error(s, "show", id="a", colour="red"),
                "missing id": await error(s, "show"),
                "empty title": await error(s, "create", id="c", title="  "),
                "unknown dependency": await error(s, "create", id="c", title="C", dependsOn=["zzz"]),
                "bad status": await error(s, "list", status=["ready", "finished"]),
                "control chars": await error(s, "show", id="a\x1b[2J"),
            }
            with pytest.raises(MCPError, match="unknown tool"):
                await s.call_tool("drop_everything", {})
            return errs

    errs = anyio.run(main)
    codes = {k: v["code"] for k, v in errs.items()}
    assert codes == {
        "show missing": "not_found", "heartbeat missing": "not_found", "unlink no edge": "not_found",
        "complete not mine": "conflict", "release not mine": "conflict", "heartbeat not mine": "conflict",
        "duplicate id": "conflict", "cycle": "conflict", "reopen a ready card": "conflict",
        "ttl 0": "invalid_input", "ttl text": "invalid_input", "unknown argument": "invalid_input",
        "missing id": "invalid_input", "empty title": "invalid_input", "unknown dependency": "invalid_input",
        "bad status": "invalid_input", "control chars": "invalid_input",
    }
    assert "claimed by 'someone', not 'me'" in errs["complete not mine"]["message"]
    assert errs["ttl 0"]["message"].startswith("ttl: ")
    assert errs["unknown argument"]["message"].startswith("colour: ")
    assert errs["bad status"]["message"].startswith("status.1: ")
    assert b.last_event_id() == before  # nothing written
    assert b.get("a").claim_owner == "someone" and b.count() == 2
    b.close()


# --------------------------------------------------------------------------- the owner
def test_the_default_owner_comes_from_mosaic_agent_and_the_flag_wins(sqlite_url, tmp_path):
    b = Backlog.open(sqlite_url)
    for i in range(3):
        b.create(f"c{i}", f"card {i}")
    b.close()

    async def main():
        async with connect(sqlite_url, tmp_path, env=_env(tmp_path, MOSAIC_AGENT="agent-7")) as s:
            mine = (await call(s, "claim"))["card"]
            done = await call(s, "complete", id=mine["id"])  # owner: agent-7, by default
            other = (await call(s, "claim", owner="agent-9"))["card"]
            refused = await error(s, "complete", id=other["id"])  # agent-7 does not hold it
            groomed = await call(s, "release", id=other["id"], anyOwner=True)
        async with connect(sqlite_url, tmp_path, owner="flag-owner", env=_env(tmp_path, MOSAIC_AGENT="agent-7")) as s:
            flagged = (await call(s, "claim"))["card"]
        async with connect(sqlite_url, tmp_path, env=_env(tmp_path)) as s:
            nobody = await error(s, "claim")
            named = (await call(s, "claim", owner="explicit"))["card"]
        return mine, done, other, refused, groomed, flagged, nobody, named

    mine, done, other, refused, groomed, flagged, nobody, named = anyio.run(main)
    assert mine["claimOwner"] == "agent-7" and done["status"] == "done"
    assert other["claimOwner"] == "agent-9" and refused["code"] == "conflict"
    assert groomed["status"] == "ready" and groomed["claimOwner"] is None
    assert flagged["claimOwner"] == "flag-owner"
    assert nobody["code"] == "invalid_input" and "owner" in nobody["message"]
    assert named["claimOwner"] == "explicit"


def test_a_bad_start_is_one_line_and_an_exit_code(tmp_path):
    env = {**os.environ, "MOSAIC_HOME": str(tmp_path / "home")}
    for args, code in ((["--db", "foo://u:s3cret@h/x"], 2), (["--owner", " padded"], 2)):
        r = subprocess.run([str(SCRIPT), "mcp", *args], capture_output=True, text=True, env=env,
                           stdin=subprocess.DEVNULL, timeout=120)
        assert r.returncode == code, r.stderr
        assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
        assert "s3cret" not in r.stderr


def test_the_start_line_names_the_backlog_as_the_user_gave_it(tmp_path):
    """Not the driver URL the engine was given (``postgresql+psycopg://``); the password hidden."""
    given = {"DATABASE_URL": "postgres://ann:s3cret@127.0.0.1:1/fleet"}  # nothing listens: the server serves anyway
    env = {**os.environ, "MOSAIC_HOME": str(tmp_path / "home"), **given}
    started = {}
    for name, args in (("env", []), ("flag", ["--db", "postgresql://ann:s3cret@127.0.0.1:1/fleet?sslmode=disable"]),
                       ("path", ["--db", str(tmp_path / "b.db")])):
        r = subprocess.run([sys.executable, "-m", "mosaic_tui.mcp.server", *args], capture_output=True, text=True,
                           env=env, stdin=subprocess.DEVNULL, timeout=120)  # stdin closed: serves, then ends
        assert r.stdout == "" and "s3cret" not in r.stderr and "Traceback" not in r.stderr, r.stderr
        started[name] = r.stderr.splitlines()[0].split("; ")[0]
    assert started == {
        "env": "mosaic-tui mcp: serving postgres://ann:***@127.0.0.1:1/fleet (from DATABASE_URL)",
        "flag": "mosaic-tui mcp: serving postgresql://ann:***@127.0.0.1:1/fleet?sslmode=disable (from flag)",
        "path": f"mosaic-tui mcp: serving {tmp_path / 'b.db'} (from flag)",
    }


# --------------------------------------------------------------------------- the stdio loop is not the database's
def test_a_call_waiting_on_the_database_does_not_hold_up_the_others(sqlite_url, tmp_path):
    b = Backlog.open(sqlite_url)
    b.create("a", "A")
    b.close()
    lock = sqlite3.connect(sqlite_url, isolation_level=None)

    async def main():
        async with connect(sqlite_url, tmp_path, owner="me") as s:
            await call(s, "show", id="a")  # warm: migrated, connected
            lock.execute("BEGIN IMMEDIATE")  # another writer holds the file's write lock
            claim: dict = {}

            async def claim_it():
                claim["result"] = await call(s, "claim")

            async with anyio.create_task_group() as tg:
                tg.start_soon(claim_it)
                await anyio.sleep(0.5)
                shown = await call(s, "show", id="a")  # answered while the claim waits on the lock
                stats = await call(s, "stats")
                waiting = "result" not in claim
                lock.execute("COMMIT")
            return shown, stats, waiting, claim["result"]

    try:
        shown, stats, waiting, claimed = anyio.run(main)
    finally:
        lock.close()
    assert waiting and shown["status"] == "ready" and stats["claimable"] == 1
    assert claimed["card"]["id"] == "a"


# --------------------------------------------------------------------------- Postgres: dropped connections, an outage
def _pg_admin(url: str, sql: str, *params) -> list:
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(url).set(database="postgres").set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


def test_the_server_survives_its_connections_being_terminated_and_an_outage(pg_url, tmp_path):
    from sqlalchemy.engine import make_url

    secret = "pw-s3cr3t-never-shown"
    url = make_url(pg_url).set(password=secret).render_as_string(hide_password=False)  # trust auth: ignored
    db = make_url(pg_url).database
    b = Backlog.open(pg_url)
    for i in range(4):
        b.create(f"c{i}", f"card {i}")
    # With a timeout, pg_terminate_backend returns once each backend has ended (its socket closed): without,
    # the next call could go out on a connection whose server had not yet sent its goodbye (CI met that once).
    kill = ("SELECT pg_terminate_backend(pid, 30000) FROM pg_stat_activity WHERE datname = %s "
            "AND pid <> pg_backend_pid()")
    errlog = open(tmp_path / "server.err", "w")  # noqa: SIM115

    async def main():
        out = {}
        async with connect(url, tmp_path, owner="me", errlog=errlog) as s:
            out["db"] = await call(s, "db")
            out["first"] = (await call(s, "claim"))["card"]["id"]
            out["killed"] = len(_pg_admin(pg_url, kill, db))
            out["after kill"] = (await call(s, "claim"))["card"]["id"]  # a write, on a fresh connection
            _pg_admin(pg_url, f'ALTER DATABASE "{db}" WITH ALLOW_CONNECTIONS false')
            try:
                _pg_admin(pg_url, kill, db)
                out["down claim"] = await error(s, "claim")
                out["down show"] = await error(s, "show", id="c0")
            finally:
                _pg_admin(pg_url, f'ALTER DATABASE "{db}" WITH ALLOW_CONNECTIONS true')
            out["back"] = (await call(s, "claim"))["card"]["id"]
            out["complete"] = (await call(s, "complete", id=out["back"]))["status"]
        return out

    try:
        out = anyio.run(main)
    finally:
        errlog.close()
    assert out["killed"] >= 1
    assert [out["first"], out["after kill"], out["back"], out["complete"]] == ["c0", "c1", "c2", "done"]
    assert out["down claim"]["code"] == out["down show"]["code"] == "unavailable"
    assert "database unreachable" in out["down claim"]["message"]
    assert out["db"]["backend"] == "postgresql" and ":***@" in out["db"]["url"]
    started = (tmp_path / "server.err").read_text().splitlines()[0]
    assert started.startswith(f"mosaic-tui mcp: serving {url.replace(secret, '***')} (from flag); ")  # as given
    seen = json.dumps(out) + (tmp_path / "server.err").read_text()
    assert secret not in seen
    assert sorted((c.id, c.claim_owner, c.attempts) for c in b.list(status="claimed")) == [
        ("c0", "me", 1), ("c1", "me", 1)]  # each claimed once: the outage's calls wrote nothing
    b.close()


def test_the_claim_command_does_not_load_the_mcp_sdk(sqlite_url):
    Backlog.open(sqlite_url).close()
    code = ("import sys; from mosaic_tui.cli import run; "
            f"rc = run(['claim', '--owner', 'x', '--json', '--db', {sqlite_url!r}]); "
            "print('RESULT', rc, [m for m in ('mcp', 'mosaic_tui.mcp.server', 'anyio') if m in sys.modules])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.splitlines()[-1] == "RESULT 0 []", r.stderr


def test_docs_name_every_tool_and_every_argument():
    from mosaic_tui.mcp.tools import TOOLS, input_schema

    doc = (Path(__file__).resolve().parent.parent / "docs" / "mcp.md").read_text(encoding="utf-8")
    results = doc.split("## Results", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1].strip() for line in results.splitlines() if line.startswith("| `")]
    assert sorted(rows) == sorted(f"`{spec.name}`" for spec in TOOLS)  # the results table: every tool, once
    for spec in TOOLS:
        assert f"`{spec.name}`" in doc, spec.name
        for arg in input_schema(spec.params).get("properties", {}):
            assert f"`{arg}`" in doc, f"{spec.name}: {arg}"
