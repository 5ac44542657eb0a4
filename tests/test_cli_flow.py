"""`mosaic-tui flow [--window 1h|1d|7d] [--json]`: the flow figures for scripts and people, on both backends."""

from __future__ import annotations

import json
import sys

from test_flow import NOW, seed_history

from mosaic_tui.repository import Backlog


def test_flow_json_is_the_hand_computed_history(run_cli, db_url, monkeypatch):
    seed_history(db_url).close()
    monkeypatch.setattr(Backlog, "now", lambda backlog: NOW)  # the repository's one clock
    code, out, err = run_cli("flow", "--window", "1h", "--json")
    assert code == 0 and err == ""
    j = json.loads(out)
    assert set(j) == {"window", "start", "end", "bucketSeconds", "cumulativeFlow", "throughput", "claims",
                      "completions", "cycleTime", "leadTime", "phases", "agents"}
    assert (j["window"], j["start"], j["claims"], j["completions"]) == ("1h", "2026-01-01T11:01:00+00:00", 3, 4)
    assert j["cycleTime"] == {"count": 3, "p50Seconds": 1440.0, "p90Seconds": 2130.0}
    assert j["leadTime"] == {"count": 4, "p50Seconds": 2700.0, "p90Seconds": 5410.0}
    assert {s: j["cumulativeFlow"][s][0] for s in ("ready", "claimed", "blocked", "done")} == \
        {"ready": 2, "claimed": 1, "blocked": 0, "done": 0}
    assert [a["owner"] for a in j["agents"]] == ["ag1", "ag2"]
    code, out, _ = run_cli("flow", "--window", "1h")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("flow over the last hour: 60 buckets of 1m00s, 2026-01-01 11:01:00")
    assert "ready    2         2    +0" in out and "done     0         4    +4" in out
    assert "cycle time  p50 24m00s  p90 35m30s  (3 claim -> done)" in out
    assert "ag1    2       3     24m00s     35m30s     1h25m     1h30m" in lines


def test_flow_default_window_with_live_changes(run_cli, db_url):
    b = Backlog.open(db_url)
    b.create("A", "a", phase="P")
    b.claim("bot")
    b.complete("A", owner="bot")
    b.close()
    code, out, _ = run_cli("flow", "--json")
    j = json.loads(out)
    assert code == 0 and j["window"] == "1d" and j["bucketSeconds"] == 1800 and len(j["throughput"]["claims"]) == 48
    assert j["completions"] == 1 and j["agents"][0]["owner"] == "bot" and j["phases"][0]["phase"] == "P"


def test_a_bad_window_is_one_line_and_writes_nothing(run_cli):
    code, out, err = run_cli("flow", "--window", "2h", "--json")
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert json.loads(err)["error"]["code"] == "usage" and "'2h' is not one of '1h', '1d', '7d'" in err
    assert "Traceback" not in err and sys.exc_info() == (None, None, None)


# --------------------------------------------------------------------------- agents
def test_agents_json_and_table(run_cli, db_url, monkeypatch):
    from datetime import timedelta

    t0 = NOW
    b = Backlog.open(db_url, clock=lambda: t0)
    for i in range(3):
        b.create(f"K{i}", f"card {i}")
    b.claim("steady", ttl=600, id="K0")
    b.claim("hung", ttl=60, id="K1")
    b.close()
    later = t0 + timedelta(seconds=90)  # hung's lease ended 30 s ago, not reclaimed
    opened = Backlog.open.__func__

    def at_later(cls, *args, **kwargs):  # the command's backlog, on a clock 90 s after the claims
        return opened(cls, *args, clock=lambda: later, **kwargs)

    monkeypatch.setattr(Backlog, "open", classmethod(at_later))
    code, out, err = run_cli("agents", "--json")
    assert code == 0 and err == ""
    j = json.loads(out)
    assert [a["owner"] for a in j] == ["hung", "steady"]  # stale first
    hung, steady = j
    assert hung["stale"] is True and hung["leaseLeftSeconds"] == -30 and hung["cards"] == [{"id": "K1", "title": "card 1"}]
    assert steady["stale"] is False and steady["leaseLeftSeconds"] == 510 and steady["workingSeconds"] == 90
    code, out, _ = run_cli("agents")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["AGENT", "CARD", "LEASE"]
    assert lines[1].split()[:4] == ["hung", "K1", "STALE", "30s"] and lines[2].split()[:4] == ["steady", "K0", "8m30s", "left"]


def test_agents_when_there_are_none(run_cli):
    code, out, _ = run_cli("agents")
    assert code == 0 and out.strip() == "no agent holds a claim or acted in the last hour"
    code, out, _ = run_cli("agents", "--json")
    assert code == 0 and json.loads(out) == []
