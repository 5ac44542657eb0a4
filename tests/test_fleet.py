"""The fleet's figures (``mosaic_tui.repository.watch.fleet.agents``) and the agents view (``a``), on both backends.

The history is ``tests.fixtures.seed_fleet``: every event stamped at a fixed time before
the fixed clock, so each figure below is computed by hand from its docstring.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from test_board import SIZE, aio, notes, settle

from mosaic_tui.repository.watch import fleet
from mosaic_tui.board import make_app
from mosaic_tui.board.panes.agents import AgentsPane
from fixtures import FixedClock, seed_fleet
from mosaic_tui.db.engine import open_database
from mosaic_tui.repository import Backlog


def _fleet(db_url):
    clock = FixedClock()
    backlog = Backlog(open_database(db_url), clock=clock)
    seed_fleet(backlog, clock)
    return backlog, clock


def test_the_figures_match_the_history_by_hand(db_url):
    backlog, clock = _fleet(db_url)
    now = clock()
    found = fleet.agents(backlog)
    assert [a.owner for a in found] == ["agent-2", "agent-4", "agent-1"]  # stale first, then longest-working
    two, four, one = found
    # agent-2: holds D since T-20m on a 5-minute lease (ended T-15m): stale; E claimed at T-2h (outside the
    # hour) and completed at T-55m: one claim (D) and one completion in the hour, cycle 65m
    assert [h.id for h in two.held] == ["D"] and [h.id for h in two.stale(now)] == ["D"]
    assert two.lease_left_s(now) == -15 * 60 and two.working_s(now) == 20 * 60
    assert (two.claims, two.completions, two.median_cycle_s) == (1, 1, 65 * 60)
    assert two.last_event_at == now - timedelta(minutes=20)
    # agent-4: holds G since T-2h on a 4-hour lease, nothing since: listed for its claim, last event 2h ago
    assert [h.id for h in four.held] == ["G"] and not four.stale(now)
    assert four.lease_left_s(now) == 2 * 3600 and four.working_s(now) == 2 * 3600
    assert (four.claims, four.completions, four.median_cycle_s) == (0, 0, None)
    assert four.last_event_at == now - timedelta(hours=2)
    # agent-1: A 10m, B 15m (median 12m30s); holds C since T-18m, heartbeat at T-10m extends the lease to T+20m
    assert [h.id for h in one.held] == ["C"]
    assert one.lease_left_s(now) == 20 * 60 and one.working_s(now) == 18 * 60
    assert (one.claims, one.completions, one.median_cycle_s) == (3, 2, 750)
    assert one.last_event_at == now - timedelta(minutes=10)
    # agent-3 finished F at T-2h30m and holds nothing: not listed; H's completion had no owner
    assert fleet.agent_json(two, now) == {
        "owner": "agent-2", "cards": [{"id": "D", "title": "Flaky deploy"}], "stale": True, "leaseLeftSeconds": -900,
        "workingSeconds": 1200, "claimsLastHour": 1, "completionsLastHour": 1, "medianCycleSeconds": 3900.0,
        "lastEventAgoSeconds": 1200,
    }
    # a longer window takes agent-3 in, and agent-2's claim of E
    wide = {a.owner: a for a in fleet.agents(backlog, window_s=4 * 3600)}
    assert set(wide) == {"agent-1", "agent-2", "agent-3", "agent-4"}
    assert (wide["agent-2"].claims, wide["agent-3"].completions, wide["agent-3"].median_cycle_s) == (2, 1, 30 * 60)
    backlog.close()


def test_an_odd_number_of_cycles_takes_the_middle_one(sqlite_url):
    clock = FixedClock()
    backlog = Backlog(open_database(sqlite_url), clock=clock)
    from fixtures import pin_events

    last = 0
    start = clock.now
    for i, minutes in enumerate([3, 30, 7]):
        backlog.create(f"X{i}", "x")
        backlog.claim("solo", ttl=3600, id=f"X{i}")
        last = pin_events(backlog, last, start)
        start += timedelta(minutes=minutes)
        clock.now = start
        backlog.complete(f"X{i}", owner="solo")
        last = pin_events(backlog, last, start)
    (solo,) = fleet.agents(backlog)
    assert solo.median_cycle_s == 7 * 60 and solo.completions == 3 and not solo.held
    backlog.close()


def test_the_fleet_module_stays_below_the_entry_floor():
    code = "import sys, mosaic_tui.repository.watch.fleet; print(sorted(m for m in ('textual', 'click', 'rich') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --------------------------------------------------------------------------- the agents view
def _rows(pane: AgentsPane) -> list[tuple[str, ...]]:
    return [cells for _, cells in pane._shown]


@aio
async def test_a_shows_the_agents_and_enter_selects_the_card(db_url):
    backlog, clock = _fleet(db_url)
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = app.query_one(AgentsPane)
        assert not pane.display
        await pilot.press("a")
        await settle(pilot)
        assert pane.display and app.focused is pane
        rows = _rows(pane)
        assert [r[0] for r in rows] == ["agent-2", "agent-4", "agent-1"]
        assert rows[0][1:4] == ("D Flaky deploy", "STALE 15m", "20m")
        assert rows[2][1:] == ("C Leases and heartbeats", "20m left", "18m", "3", "2", "12m", "10m ago")
        assert pane.border_title == "agents (3) · 1 stale"
        await pilot.press("enter")  # agent-2's card, on the board
        await settle(pilot)
        assert app.selected_card().id == "D" and app.focused is app.columns["claimed"]
        # live: another agent claims a card (another program); the pane shows it
        pane.focus()
        other = Backlog.open(backlog.db.target.raw)
        other.reopen("H")
        other.claim("agent-5", ttl=600, id="H")
        other.close()
        app.check_for_changes()
        for _ in range(30):
            await pilot.pause(0.1)
            if any(r[0] == "agent-5" for r in _rows(pane)):
                break
        assert "agent-5" in [r[0] for r in _rows(pane)]
        await pilot.press("a")
        await settle(pilot)
        assert not pane.display and app.focused is app.columns["claimed"]
        assert not any("refused" in n or "error" in n for n in notes(app)), notes(app)
    backlog.close()


@aio
async def test_the_agents_view_is_in_the_palette_and_not_through_a_dialog(sqlite_url):
    backlog, clock = _fleet(sqlite_url)
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = app.query_one(AgentsPane)
        cmd = next(c for c in app.get_system_commands(app.screen) if c.title == "Agents")
        cmd.callback()
        await settle(pilot)
        assert pane.display
        await pilot.press("question_mark")
        await settle(pilot)
        await pilot.press("a")  # the help is open: the board's keys do nothing
        await settle(pilot)
        assert pane.display
    backlog.close()
