"""The MCP server driven by the official TypeScript SDK's client (``@modelcontextprotocol/sdk``), on both backends.

Most editors and coding agents reach MCP servers through the TypeScript SDK,
whose client checks a result's structured content against the tool's output
schema once ``tools/list`` has run -- error results included. These tests run
``tests/mcp_ts/client.mjs`` (the SDK's ``Client`` + ``StdioClientTransport``,
the version pinned in ``tests/mcp_ts/package-lock.json``) against real server
processes and assert what the agent sees: results, and the codes of tool errors.

The SDK is installed by the ``ts_client`` fixture with ``npm ci`` into a cache
folder (``$MOSAIC_TEST_CACHE`` or ``~/.cache/mosaic-tui-tests``), once per
version of the three files in tests/mcp_ts/. Without node and npm (or the npm
registry) the tests skip, and fail instead under ``MOSAIC_REQUIRE_PG=1`` (CI).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import missing
from mosaic_tui.repository import Backlog

TS_DIR = Path(__file__).resolve().parent / "mcp_ts"
TS_FILES = ("package.json", "package-lock.json", "client.mjs")
SCRIPT = Path(sysconfig.get_path("scripts")) / "mosaic-tui"


def _missing(what: str) -> None:
    missing(f"the TypeScript-SDK tests need {what}")


@pytest.fixture(scope="session")
def ts_client() -> Path:
    """``client.mjs`` in a folder where ``npm ci`` installed the pinned SDK (reused while tests/mcp_ts/ is unchanged)."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        _missing("node and npm (node >= 18)")
    key = hashlib.sha256(b"".join((TS_DIR / f).read_bytes() for f in TS_FILES)).hexdigest()[:16]
    root = Path(os.environ.get("MOSAIC_TEST_CACHE") or Path.home() / ".cache" / "mosaic-tui-tests")
    home = root / f"mcp_ts-{key}"
    if not (home / "node_modules" / "@modelcontextprotocol" / "sdk" / "package.json").is_file():
        work = root / f"mcp_ts-{key}.{os.getpid()}"  # installed aside, then renamed: a half install is never used
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        for f in TS_FILES:
            shutil.copy2(TS_DIR / f, work / f)
        try:
            r = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=work,
                               capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            r = None
        if r is None or r.returncode != 0:
            shutil.rmtree(work, ignore_errors=True)
            tail = "timed out" if r is None else " ".join((r.stderr or r.stdout).split())[-300:]
            _missing(f"`npm ci` in tests/mcp_ts to work ({tail})")
        try:
            work.rename(home)
        except OSError:  # another session installed it meanwhile
            shutil.rmtree(work, ignore_errors=True)
    return home / "client.mjs"


def drive(client: Path, url: str, tmp_path: Path, calls: list[tuple[str, dict]], *, owner: str | None = "me",
          script: bool = False, list_tools: bool = True) -> dict:
    """Start a server for ``url``, make ``calls`` through the TypeScript SDK; what the client saw."""
    args = ["mcp"] if script else ["-m", "mosaic_tui.mcp.server"]
    args += ["--db", url] + (["--owner", owner] if owner is not None else [])
    env = {"MOSAIC_HOME": str(tmp_path / "home")}  # the SDK adds only HOME, PATH, ... of its own
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    plan = {"command": str(SCRIPT) if script else sys.executable, "args": args, "env": env, "listTools": list_tools,
            "calls": [{"tool": t, "arguments": a} for t, a in calls]}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan), encoding="utf-8")
    r = subprocess.run(["node", str(client), str(path)], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    assert len(out["results"]) == len(calls)
    return out


def text_of(result: dict):
    """A result's one text block, parsed (the test fails if the SDK threw instead of returning a result)."""
    assert "thrown" not in result, result["thrown"]
    assert len(result["content"]) == 1 and result["content"][0]["type"] == "text"
    return json.loads(result["content"][0]["text"])


# --------------------------------------------------------------------------- results
def test_the_typescript_client_runs_the_agent_loop_and_reads_every_tool(db_url, tmp_path, ts_client):
    from mosaic_tui.mcp.tools import TOOLS

    b = Backlog.open(db_url)
    b.create("a", "Alpha", phase="P", priority=2)
    b.create("b", "Beta", phase="P", depends_on=["a"])
    b.close()
    calls = [
        ("claim", {"ttl": 60}), ("heartbeat", {"id": "a", "ttl": 120}), ("complete", {"id": "a"}),
        ("claim", {}), ("release", {"id": "b"}), ("block", {"id": "b"}), ("claim", {}),  # {"card": null}
        ("unblock", {"id": "b"}), ("reclaim", {}), ("show", {"id": "b"}), ("list", {"status": "ready,done"}),
        ("create", {"id": "c", "title": "Gamma", "acceptance": {"tests": ["x"]}}),
        ("link", {"from": "c", "to": "b"}), ("unlink", {"from": "c", "to": "b"}), ("reopen", {"id": "a"}),
        ("stats", {}), ("events", {"cardId": "a"}), ("impact", {}), ("agents", {}), ("flow", {"window": "1h"}),
        ("db", {}),
        ("note", {"id": "b", "body": "found the flaky test"}), ("notes", {"id": "b"}),
        ("label", {"ids": ["a", "b"], "add": ["infra"]}), ("list", {"where": "#infra"}),
    ]
    untried = {t.name for t in TOOLS} - {t for t, _ in calls}
    assert not untried, f"call the new tools here too, so the SDK checks their results: {sorted(untried)}"
    out = drive(ts_client, db_url, tmp_path, calls, script=db_url.endswith(".db"))
    assert {t["name"] for t in out["tools"]} == {t.name for t in TOOLS}
    assert all(t["outputSchema"]["type"] == "object" for t in out["tools"])  # so the SDK checks every result
    seen = {}
    for (tool, _), res in zip(calls, out["results"], strict=True):
        text = text_of(res)  # the SDK accepted the structured content against the output schema
        assert res["isError"] is False and res["structuredContent"] is not None, tool
        wrap = {"claim": "card", "list": "cards", "events": "events", "agents": "agents", "notes": "notes",
                "label": "labels"}.get(tool)
        assert res["structuredContent"] == ({wrap: text} if wrap else text), tool
        seen.setdefault(tool, []).append(text)
    first, second, none = seen["claim"]
    assert (first["id"], first["claimOwner"], second["id"], none) == ("a", "me", "b", None)
    assert seen["heartbeat"][0]["claimTtlSeconds"] >= 120 and seen["complete"][0]["status"] == "done"
    assert [(c["id"], c["status"]) for c in seen["list"][0]] == [("a", "done"), ("b", "ready")]
    assert seen["block"][0]["status"] == "blocked" and seen["reclaim"][0] == {"reclaimed": []}
    assert seen["create"][0]["acceptance"] == {"tests": ["x"]} and seen["reopen"][0]["status"] == "ready"
    assert [e["kind"] for e in seen["events"][0]] == ["created", "claimed", "heartbeat", "completed", "reopened"]
    assert seen["stats"][0]["counts"] == {"ready": 3, "claimed": 0, "blocked": 0, "done": 0}
    assert seen["db"][0]["backend"] == ("sqlite" if db_url.endswith(".db") else "postgresql")
    assert seen["note"][0]["body"] == "found the flaky test" and seen["note"][0]["kind"] == "note"
    assert [n["body"] for n in seen["notes"][0]] == ["found the flaky test"]
    assert seen["label"][0] == {"a": ["infra"], "b": ["infra"]}
    assert sorted(c["id"] for c in seen["list"][1]) == ["a", "b"]


# --------------------------------------------------------------------------- errors
def test_the_typescript_client_sees_every_error_code_and_nothing_is_written(db_url, tmp_path, ts_client):
    b = Backlog.open(db_url)
    b.create("a", "A")
    b.create("b", "B", depends_on=["a"])
    b.claim("someone", ttl=600, id="a")
    before = b.last_event_id()
    cases = {
        "show missing": (("show", {"id": "nope"}), "not_found"),
        "unlink no edge": (("unlink", {"from": "a", "to": "b"}), "not_found"),
        "complete not mine": (("complete", {"id": "a"}), "conflict"),
        "heartbeat not mine": (("heartbeat", {"id": "a"}), "conflict"),
        "cycle": (("link", {"from": "a", "to": "b"}), "conflict"),
        "duplicate id": (("create", {"id": "a", "title": "again"}), "conflict"),
        "ttl 0": (("claim", {"ttl": 0}), "invalid_input"),
        "unknown argument": (("show", {"id": "a", "colour": "red"}), "invalid_input"),
        "missing id": (("show", {}), "invalid_input"),
        "unknown dependency": (("create", {"id": "c", "title": "C", "dependsOn": ["zzz"]}), "invalid_input"),
        "bad window": (("flow", {"window": "2w"}), "invalid_input"),
    }
    calls = [call for call, _ in cases.values()] + [("drop_everything", {})]
    out = drive(ts_client, db_url, tmp_path, calls)
    *results, unknown = out["results"]
    seen = {}
    for name, res in zip(cases, results, strict=True):
        body = text_of(res)  # before the fix: the SDK threw -32602 "Structured content does not match ..."
        assert res["isError"] is True and res["structuredContent"] is None, name
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, name
        seen[name] = body["error"]["code"]
    assert seen == {name: code for name, (_, code) in cases.items()}
    assert unknown["thrown"]["code"] == -32602 and "unknown tool" in unknown["thrown"]["message"]  # a protocol error
    assert b.last_event_id() == before and b.count() == 2 and b.get("a").claim_owner == "someone"
    b.close()


def test_the_typescript_client_sees_no_owner_and_unavailable(tmp_path, ts_client):
    junk = tmp_path / "not-a-backlog.db"
    junk.write_bytes(b"this is not a SQLite file" * 100)
    out = drive(ts_client, str(junk), tmp_path, [("show", {"id": "a"}), ("claim", {})], owner=None)
    (unavailable, no_owner) = (text_of(r)["error"] for r in out["results"])
    assert unavailable["code"] == "unavailable"
    assert no_owner["code"] == "invalid_input" and "owner" in no_owner["message"]
    assert all(r["isError"] and r["structuredContent"] is None for r in out["results"])
