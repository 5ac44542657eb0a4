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


def test_the_last_agent_stalls_so_that_needs_attention_and_stale_show(tmp_path):
    """The stalling agent holds a card unheard: first silent (half its lease), then stale (lease ended, unreclaimed)."""
    import time

    from mosaic_tui.repository.watch.activity import needs_attention

    path = str(tmp_path / "stall.db")
    b = Backlog.open(path)
    demo.seed(b)
    # A fleet of one: the last agent is the only one, so that nobody else's claim reclaims its card a moment
    # after the lease ends (with another agent the stale spell lasts anything from 0 to 1.8 s, and the looks
    # below could miss it on a loaded machine); here it lasts until the staller itself comes back and claims.
    fleet = demo.start_fleet(path, agents=1, pace=0.25)  # leases of 3 s; the stall lasts 4.8 s
    seen: dict[str, set[str]] = {"silent": set(), "stale": set()}
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not ("agent-1" in seen["silent"] and "agent-1" in seen["stale"]):
            for q in needs_attention(b).claims:
                seen[q.state].add(q.owner)
            time.sleep(0.05)
        # ...and the fleet's next claim reclaims it
        while time.monotonic() < deadline and not any(e.kind == "released" and e.owner == "agent-1" for e in b.events()):
            time.sleep(0.1)
    finally:
        demo.stop_fleet(fleet)
    assert "agent-1" in seen["silent"] and "agent-1" in seen["stale"], seen
    assert any(e.kind == "released" and e.owner == "agent-1" for e in b.events())
    b.close()
