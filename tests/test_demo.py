"""`mosaic-tui demo`: a realistic plan, a simulated fleet in separate processes, stopped on exit."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

from mosaic_tui import demo
from mosaic_tui.repository import Backlog


def test_the_plan_is_a_dag_of_several_phases_and_levels(tmp_path):
    plan = demo.build_plan()
    ids = [c["id"] for c in plan]
    assert len(ids) == len(set(ids)) >= 30
    assert len({c["phase"] for c in plan}) >= 4
    position = {cid: i for i, cid in enumerate(ids)}
    depth = {}
    for c in plan:
        assert all(position[d] < position[c["id"]] for d in c["depends_on"])  # dependencies first: no cycle
        depth[c["id"]] = 1 + max((depth[d] for d in c["depends_on"]), default=0)
    assert max(depth.values()) >= 5
    assert all(c["body"] and c["acceptance"]["criteria"] for c in plan)
    assert len({c["priority"] for c in plan}) > 5
    b = Backlog.open(str(tmp_path / "d.db"))
    assert demo.seed(b) == len(plan)
    assert b.stats()["claimable"] >= 3
    b.close()


def _agents_running(marker: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "mosaic_tui.demo agent" in line and marker in line]


def test_demo_fleet_works_the_backlog_and_stops(tmp_path):
    path = tmp_path / "demo.db"
    run = subprocess.run(
        [sys.executable, "-m", "mosaic_tui", "demo", str(path), "--no-board", "--seconds", "8", "--pace", "0.2", "--agents", "3"],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    stats = json.loads(run.stdout)
    assert stats["path"] == str(path) and stats["total"] >= 30
    assert stats["claimsLastHour"] >= 3 and stats["counts"]["done"] >= 1
    assert _agents_running(str(path)) == []  # the fleet stopped with the command
    b = Backlog.open(str(path))
    owners = Counter(e.owner for e in b.events() if e.kind == "claimed")
    assert len(owners) >= 2  # several agents took work
    done_at = {e.card_id: e.id for e in b.events() if e.kind == "completed"}
    for card in b.list(status="done"):
        for dep in card.depends_on:
            assert dep in done_at and done_at[dep] < done_at[card.id], (card.id, dep)
    b.close()


def test_demo_never_uses_an_existing_backlog(tmp_path):
    existing = tmp_path / "real.db"
    Backlog.open(str(existing)).create("A", "mine")
    for args in ([str(existing)], ["--db", str(existing)]):
        run = subprocess.run([sys.executable, "-m", "mosaic_tui", "demo", *args, "--no-board", "--seconds", "1"],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 2 and "demo" in run.stderr and "Traceback" not in run.stderr
    assert [c.id for c in Backlog.open(str(existing)).list()] == ["A"]
