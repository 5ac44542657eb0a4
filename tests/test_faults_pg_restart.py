"""Postgres restarted while 4 agents drain the backlog through the CLI.

This test stops and starts the machine's Postgres server, so it runs only when
MOSAIC_TEST_PG_CONTROL=1 (CI's .ci/run sets it); without it, it is skipped with
a reason that says so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pytest

from mosaic_tui.repository import Backlog

CONTROL = os.environ.get("MOSAIC_TEST_PG_CONTROL") == "1"
pytestmark = pytest.mark.skipif(
    not CONTROL,
    reason="restarts the local Postgres server: set MOSAIC_TEST_PG_CONTROL=1 to run it (CI's .ci/run does)",
)
CARDS = 16
UNREACHABLE = 5  # the CLI's documented exit code for "database unreachable"


def _pg_ctl(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
        check=True, capture_output=True, timeout=120,
    )


def _done(logs) -> int:
    return sum(1 for log in logs if log.exists() for line in log.read_text().splitlines()
               if json.loads(line)["args"][0] == "complete" and json.loads(line)["rc"] == 0)


def _pg_ready(timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"]).returncode == 0:
            return True
        time.sleep(0.3)
    return False


# One agent: the README's loop, run through the console script, retrying after
# "database unreachable"; after an outage it first finishes any card it still
# holds (a claim whose answer was lost with the connection).
AGENT = textwrap.dedent(
    """
    import json, subprocess, sys, time
    url, me, log = sys.argv[1], sys.argv[2], sys.argv[3]
    out = open(log, "w")
    def run(*args):
        p = subprocess.run(["mosaic-tui", *args, "--db", url, "--json"], capture_output=True, text=True, timeout=120)
        out.write(json.dumps({"args": args, "rc": p.returncode, "stderr": p.stderr, "stdout": p.stdout[:2000]}) + "\\n")
        out.flush()
        return p
    deadline = time.monotonic() + 240
    recovering = False
    while time.monotonic() < deadline:
        if recovering:
            p = run("list", "--status", "claimed")
            if p.returncode != 0:
                time.sleep(0.2)
                continue
            for card in json.loads(p.stdout):
                if card["claimOwner"] == me:
                    run("complete", card["id"], "--owner", me)
            recovering = False
        p = run("claim", "--owner", me)
        if p.returncode != 0:
            recovering = True
            time.sleep(0.2)
            continue
        card = json.loads(p.stdout)
        if card is None:
            p = run("list", "--status", "claimed")
            if p.returncode == 0 and json.loads(p.stdout) == []:
                break
            recovering = p.returncode != 0
            time.sleep(0.2)
            continue
        while True:
            p = run("complete", card["id"], "--owner", me)
            if p.returncode == 0:
                break
            if p.returncode != 5:  # e.g. its earlier attempt committed before the connection died
                break
            time.sleep(0.2)
    """
)


@pytest.fixture
def restartable_pg(pg_url):
    yield pg_url
    if not _pg_ready(1):  # whatever happened, leave the server running
        _pg_ctl("start")
        _pg_ready(60)


def test_postgres_restart_while_four_agents_drain(restartable_pg, tmp_path):
    if shutil.which("mosaic-tui") is None:
        pytest.fail("the console script mosaic-tui is not installed (pip install -e .)")
    url = restartable_pg
    b = Backlog.open(url)
    ids = [f"R{i:03d}" for i in range(CARDS)]
    for cid in ids:
        b.create(cid, f"card {cid}")
    b.close()

    env = {**os.environ, "MOSAIC_HOME": str(tmp_path / "home")}
    logs = [tmp_path / f"agent{i}.log" for i in range(4)]
    agents = [
        subprocess.Popen([sys.executable, "-c", AGENT, url, f"agent{i}", str(log)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i, log in enumerate(logs)
    ]
    try:
        # Let the drain get going, then take the server away under it.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if _done(logs) >= 3:
                break
            time.sleep(0.2)
        assert all(a.poll() is None for a in agents), "the agents finished before the outage"
        _pg_ctl("stop")
        # Keep the server down at least 2 s, and until an agent has met the outage (an
        # agent's command must fail promptly, not hang: at most 30 s).
        down_at = time.monotonic()
        while time.monotonic() - down_at < 30:
            met = any(json.loads(line)["rc"] == UNREACHABLE for log in logs if log.exists()
                      for line in log.read_text().splitlines())
            if met and time.monotonic() - down_at >= 2:
                break
            time.sleep(0.2)
        _pg_ctl("start")
        assert _pg_ready(60), "Postgres did not come back"
        for a in agents:
            _, err = a.communicate(timeout=300)
            assert a.returncode == 0, err
    finally:
        for a in agents:
            if a.poll() is None:
                a.kill()
                a.wait()

    records = [json.loads(line) for log in logs for line in log.read_text().splitlines()]
    failures = [r for r in records if r["rc"] != 0]
    assert any(r["rc"] == UNREACHABLE for r in failures), "no agent met the outage"
    for r in failures:
        assert "Traceback" not in r["stderr"], r
        assert r["rc"] in (UNREACHABLE, 4), r  # 4: a complete whose first try had committed
        if r["rc"] == UNREACHABLE:
            err = json.loads(r["stderr"])["error"]
            assert err["code"] == "unavailable" and "\n" not in err["message"], r

    b = Backlog.open(url)
    cards = b.list()
    assert sorted(c.id for c in cards) == ids
    assert {c.status for c in cards} == {"done"}
    assert {c.id: c.attempts for c in cards} == dict.fromkeys(ids, 1)  # each claimed exactly once
    claims = Counter(e.card_id for e in b.events() if e.kind == "claimed")
    assert claims == Counter(ids)
    b.close()
