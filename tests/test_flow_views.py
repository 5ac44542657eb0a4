"""The Flow screen, the activity timeline and the needs-attention badge, each in a small test app.

Until the board's house composes them (docs/board.md), they are built on
their own: a screen takes the backlog, an optional clock and an optional
``notices`` (anything with ``subscribe(node, callback)``; the refresher's in
the board), and a notice is anything with ``events`` (and ``reload``,
``busy``). Snapshots on SQLite with the hand-computed history of
``test_flow.py`` (fixed clock, fixed data, workers awaited); Pilot tests on both backends.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from datetime import timedelta

import pytest
from test_flow import NOW, seed_history
from textual import on
from textual.app import App, ComposeResult
from textual.widgets import Static

from mosaic_tui.board.panes.attention import AttentionBadge
from mosaic_tui.board.screens.flow import FlowScreen
from mosaic_tui.board.jobs import Call
from mosaic_tui.board.screens.timeline import TimelineScreen
from mosaic_tui.repository import Backlog

SIZE = (160, 45)


class Notices:
    """The refresher's subscription, as the screens use it. Unlike the board's, it keeps calling
    closed screens: they must ignore a notice once closed."""

    def __init__(self) -> None:
        self.subscribers = []

    def subscribe(self, node, callback) -> None:
        self.subscribers.append(callback)

    def publish(self, changes) -> None:
        for callback in list(self.subscribers):
            callback(changes)


@dataclass(frozen=True)
class Changes:
    events: tuple = ()
    reload: bool = False
    busy: bool = False


class ViewApp(App):
    """A header line with the badge, and one screen pushed on mount."""

    CSS = "#head { height: 1; layout: horizontal; } #where { width: 1fr; }"

    def __init__(self, backlog, screen=None, *, clock=None) -> None:
        super().__init__()
        self.backlog, self.first, self.clock = backlog, screen, clock
        self.notices = Notices()

    def compose(self) -> ComposeResult:
        from textual.containers import Horizontal

        with Horizontal(id="head"):
            yield Static(" mosaic board", id="where")
            yield AttentionBadge(self.backlog, notices=self.notices, clock=self.clock, tick=None)

    def on_mount(self) -> None:
        if self.first is not None:
            self.push_screen(self.first(self))

    @on(Call)
    def _call(self, msg: Call) -> None:  # what a worker's result becomes, as in the board
        msg.run()


def aio(fn):
    """Run an ``async def`` test in a fresh event loop (no async plugin needed)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return run


async def settle(pilot) -> None:
    """Workers done, their results (Call messages) drawn, and the tables' widths settled."""
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    for _ in range(3):
        await pilot.pause()


@pytest.fixture
def pinned(sqlite_url):
    b = seed_history(sqlite_url)
    yield b
    b.close()


@pytest.fixture
def history(db_url):
    b = seed_history(db_url)
    yield b
    b.close()


def clock():
    return NOW


# --------------------------------------------------------------------------- snapshots
def test_flow_screen_snapshot(snap_compare, pinned):
    app = ViewApp(pinned, lambda app: FlowScreen(app.backlog, window="1h", notices=app.notices, clock=clock), clock=clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_timeline_snapshot(snap_compare, pinned):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("H", "down", "down")  # heartbeats shown; the third line selected
        await settle(pilot)

    app = ViewApp(pinned, lambda app: TimelineScreen(app.backlog, notices=app.notices), clock=clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_attention_badge_snapshot(snap_compare, pinned, sqlite_url):
    """The header with the badge, a claim quiet for half its lease when the view opens (counted, not told)."""
    at = NOW + timedelta(seconds=31)
    b = Backlog.open(sqlite_url, clock=lambda: NOW)
    b.claim("agent-3", ttl=60, id="G")
    b.close()
    assert snap_compare(ViewApp(pinned, clock=lambda: at), terminal_size=(100, 12), run_before=settle)


# --------------------------------------------------------------------------- Pilot, both backends
@aio
async def test_flow_keys_switch_the_window_and_escape_goes_back(history):
    app = ViewApp(history, lambda app: FlowScreen(app.backlog, window="1h", notices=app.notices, clock=clock), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, FlowScreen) and screen.figures.window.key == "1h"
        assert sum(screen.figures.completions) == 4
        await pilot.press("3")
        await settle(pilot)
        assert screen.figures.window.key == "7d" and len(screen.figures.claims) == 56
        assert "last week" in str(screen.query_one("#flow-title").render())
        await pilot.press("w")  # 7d -> 1h
        await settle(pilot)
        assert screen.figures.window.key == "1h"
        await pilot.press("2")
        await settle(pilot)
        assert screen.figures.window.key == "1d" and screen.figures.agents[0].name == "ag1"
        agents = screen.query_one("#agents")
        assert agents.row_count == 2 and agents.get_row_at(0)[:3] == ["ag1", "3", "3"]
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, FlowScreen)
        app.notices.publish(Changes(reload=True))  # after it closed: ignored, no error
        await settle(pilot)


@pytest.mark.parametrize("size", [SIZE, (120, 40), (90, 30)])
@aio
async def test_cycle_and_lead_time_figures_stay_apart(pinned, size):
    """Each p50 and p90 stands apart from the figure before it at any width (it once read
    ``p50 24mp90 35m``): cycle 24m/35m, lead 45m/1h30m in the pinned history."""
    import re

    app = ViewApp(pinned, lambda app: FlowScreen(app.backlog, window="1h", notices=app.notices, clock=clock), clock=clock)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        panel = app.screen.query_one("#figures")
        lines = [panel.render_line(y).text for y in range(panel.size.height)]
    text = "\n".join(lines)
    for figure in ("p50 24m", "p90 35m", "p50 45m", "p90 1h30m"):
        assert figure in text, (size, lines)
    for line in lines:
        assert not re.search(r"\S(p50|p90)", line), (size, line)  # never run into what precedes it
    cycle = next(line for line in lines if "cycle time" in line)
    assert re.search(r"cycle time +p50 24m {2,}p90 35m", cycle), (size, cycle)


@aio
async def test_flow_screen_reads_again_when_cards_move(history, db_url):
    app = ViewApp(history, lambda app: FlowScreen(app.backlog, window="1h", notices=app.notices, clock=clock),
                  clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert screen.figures.cfd["ready"][-1] == 2
        other = Backlog.open(db_url, clock=clock)  # another program claims G
        other.claim("ag7", id="G")
        new = other.events(since=20)
        other.close()
        screen._last_read = 0.0  # the pace allows a read now
        app.notices.publish(Changes(tuple(new)))
        await settle(pilot)
        assert screen.figures.cfd["ready"][-1] == 1 and screen.figures.cfd["claimed"][-1] == 1
        assert [g.name for g in screen.figures.agents] == ["ag1", "ag2", "ag7"]
        app.notices.publish(Changes(tuple(new)))  # again at once: paced, read later, not now
        await settle(pilot)
        assert screen._due


@aio
async def test_timeline_is_live_and_filters_by_agent_and_card(history, db_url):
    app = ViewApp(history, lambda app: TimelineScreen(app.backlog, notices=app.notices), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        lines = screen.events.lines
        assert [(a.event.card_id, a.event.kind) for a in lines[:3]] == [
            ("H", "created"), ("B", "completed"), ("D", "completed")]
        assert all(a.event.kind != "heartbeat" for a in lines) and len(lines) == 19  # 20 events, 1 heartbeat hidden
        assert lines[1].title == "card B"
        # another program's write, as the refresher hands it over: on top, titled
        other = Backlog.open(db_url)
        other.create("Z", "Zeta", priority=4)
        other.claim("ag9", id="Z")
        cursor_events = other.events(since=20)
        other.close()
        await pilot.press("down")  # reading the second line: it must stay under the cursor
        reading = screen.events.selected.event.id
        app.notices.publish(Changes(tuple(cursor_events)))
        await settle(pilot)
        assert [(a.event.card_id, a.event.kind, a.title) for a in screen.events.lines[:2]] == [
            ("Z", "claimed", "Zeta"), ("Z", "created", "Zeta")]
        assert screen.events.selected.event.id == reading
        # only this agent (the selected line is B's completion by ag1)
        await pilot.press("home", "down", "down", "down", "o")
        await settle(pilot)
        assert screen.filter.owner == "ag1" and {a.event.owner for a in screen.events.lines} == {"ag1"}
        assert [(a.event.card_id, a.event.kind) for a in screen.events.lines] == [
            ("B", "completed"), ("C", "completed"), ("B", "claimed"), ("C", "claimed"), ("A", "completed"), ("A", "claimed")]
        await pilot.press("H")
        await settle(pilot)
        assert "heartbeat" in [a.event.kind for a in screen.events.lines]
        app.notices.publish(Changes(tuple(cursor_events)))  # ag9's events do not pass the filter
        await settle(pilot)
        assert {a.event.owner for a in screen.events.lines} == {"ag1"}
        await pilot.press("x", "home")
        await settle(pilot)
        await pilot.press("c")  # only the newest line's card
        await settle(pilot)
        assert screen.filter.card == "Z" and [a.event.kind for a in screen.events.lines] == ["claimed", "created"]
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, TimelineScreen)
        app.notices.publish(Changes(tuple(cursor_events)))  # a notice after it closed: ignored, no error
        await settle(pilot)


@aio
async def test_timeline_under_a_busy_fleet_keeps_a_bounded_list(history):
    from mosaic_tui.board.screens.timeline import KEEP
    from mosaic_tui.db.models import EventRecord

    app = ViewApp(history, lambda app: TimelineScreen(app.backlog, notices=app.notices), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        burst = tuple(EventRecord(1000 + i, "A", "claimed", "ready", "claimed", f"bot-{i % 7}", NOW)
                      for i in range(3 * KEEP))
        app.notices.publish(Changes(burst, busy=True))
        await settle(pilot)
        lines = app.screen.events.lines
        assert len(lines) == KEEP and lines[0].event.id == 1000 + 3 * KEEP - 1 and lines[0].title == "card A"


@aio
async def test_attention_badge_counts_and_tells_once(history, db_url):
    moments = {"now": NOW}
    b = Backlog.open(db_url, clock=lambda: moments["now"])
    b.claim("hung", ttl=60, id="G")
    app = ViewApp(b, clock=lambda: moments["now"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        badge = app.query_one(AttentionBadge)
        assert badge.attention.count == 0 and not badge.has_class("shown")
        moments["now"] = NOW + timedelta(seconds=31)  # past half the lease, unheard
        badge.look()
        await settle(pilot)
        assert badge.attention.silent == 1 and str(badge.render()).strip() == "⚠ 1 stale"
        told = [n.message for n in app._notifications]
        assert told == ["hung silent on G for 31s, half its lease (a: agents)"]
        badge.look()
        await settle(pilot)
        assert len(app._notifications) == 1  # told once
        moments["now"] = NOW + timedelta(seconds=61)
        badge.look()
        await settle(pilot)
        assert badge.attention.stale == 1 and "lease on G has ended" in list(app._notifications)[-1].message
        b.reclaim()
        app.notices.publish(Changes(tuple(b.events(since=20))))
        await settle(pilot)
        assert badge.attention.count == 0 and not badge.has_class("shown")
    b.close()
