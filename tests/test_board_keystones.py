"""Keystones on the board, on both backends: ``unlocks N`` in the rows and the detail, the critical path in
the stats footer, ``s`` sorting the ready column by impact, all following other programs' writes."""

from __future__ import annotations

import asyncio
import os
import json
import time

from conftest import run_sql

from boardkit import SIZE, aio, settle
from mosaic_tui.board import make_app
from mosaic_tui.board.changes import Scope
from mosaic_tui.board.panes.columns import ROW_H
from mosaic_tui.board.screens.dialogs import DetailScreen

IMPACT_ORDER = ["M1-04", "M1-03", "M1-05", "M2-02", "M1-07", "M2-03"]  # test_impact's hand count, most first


async def until(pilot, check, timeout: float = 60.0) -> None:
    """Look for changes (what the feed does) and settle until ``check()`` holds."""
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, "timed out"
        pilot.app.check_for_changes()
        await settle(pilot, 1)
        await asyncio.sleep(0.1)


def state_line(col, card_id: str) -> str:
    """The second line of a card's row, as drawn (in the column's width when last laid out: the focused
    column is the wide one)."""
    row = col.find(card_id)[0]
    col.scroll_to(y=row * ROW_H, animate=False)
    return col.render_line(row * ROW_H + 1 - int(col.scroll_offset.y)).text


def ready_ids(app) -> list[str]:
    col = app.columns["ready"]
    return [col.card_at(r).id for r in range(col.count)]


def footer(app) -> str:
    return str(app.stats_footer.render())


@aio
async def test_rows_say_what_they_unlock_and_the_footer_names_the_critical_path(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        ready, claimed = app.columns["ready"], app.columns["claimed"]
        assert "unlocks 2" in state_line(ready, "M1-04") and "waits on M1-02" in state_line(ready, "M1-04")
        assert "unlocks" not in state_line(ready, "M1-07")  # nothing waits on it: nothing said
        claimed.focus()
        await settle(pilot)
        assert "@agent-7" in state_line(claimed, "M1-02") and "unlocks 4" in state_line(claimed, "M1-02")
        assert "critical path: 4 cards via M1-02 (M1)" in footer(app)
        app.set_scope(Scope("M2"))  # the phase shown: its own critical path, no phase named
        await settle(pilot)
        assert "critical path: 2 cards via M2-02" in footer(app) and "(M2)" not in footer(app)


@aio
async def test_another_programs_link_and_completion_move_the_counts_live(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        reads = app.keystones.reads
        deps = "CAST(:d AS jsonb)" if backlog.backend == "postgresql" else ":d"
        run_sql(backlog, f"UPDATE backlog SET depends_on = {deps} WHERE id = 'M2-03'", {"d": json.dumps(["M2-02", "M1-07"])})
        app.columns["claimed"].focus()
        await until(pilot, lambda: "unlocks 5" in state_line(app.columns["claimed"], "M1-02"))
        # no phase chosen: the whole backlog's longest chain, across phases (M2-03 now waits on M1-07)
        assert "critical path: 5 cards via M1-02 (M1 → M2)" in footer(app), footer(app)
        run_sql(backlog, "UPDATE backlog SET status = 'done' WHERE id = 'M1-04'")
        await until(pilot, lambda: "unlocks 3" in state_line(app.columns["claimed"], "M1-02"))
        assert "critical path: 4 cards via M1-02 (M1 → M2)" in footer(app)  # M1-02 -> M1-03 -> M1-07 -> M2-03
        assert app.keystones.reads >= reads + 2
        heartbeats = app.keystones.reads
        for _ in range(3):  # heartbeats change no graph: no read
            backlog.heartbeat("M1-02", "agent-7", ttl=3600)
            app.check_for_changes()
            await settle(pilot)
        assert app.keystones.reads == heartbeats
        app.set_scope(Scope("M1"))  # a phase chosen: its own path only, edges to other phases not followed
        await settle(pilot)
        assert "critical path: 3 cards via M1-02" in footer(app) and "(M1" not in footer(app)


@aio
async def test_s_sorts_the_ready_column_by_impact_and_back(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        claim_order = [c.id for c in backlog.list(status="ready")]
        assert ready_ids(app) == claim_order != IMPACT_ORDER
        await pilot.press("s")
        await settle(pilot)
        ready = app.columns["ready"]
        assert ready_ids(app) == IMPACT_ORDER and ready.cursor == 0
        assert ready._title_text == "ready (6) ↓unlocks"
        backlog.complete("M1-02", owner="agent-7")  # M1-03 and M1-04 lose their wait; the order follows
        await until(pilot, lambda: ready_ids(app)[:2] == ["M1-04", "M1-03"] and "M1-05" in ready_ids(app)
                    and app.keystones.current.unlocks.get("M1-02") is None)
        assert ready_ids(app) == app.keystones.current.by_impact(backlog.ids(status="ready"))
        await pilot.press("s")
        await settle(pilot)
        assert ready_ids(app) == backlog.ids(status="ready") and ready._title_text == "ready (6)"


@aio
async def test_the_detail_says_what_the_card_unlocks_and_where_it_stands_on_the_critical_path(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        ready = app.columns["ready"]
        ready.focus()
        ready.cursor = ready.find("M1-04")[0]
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        text = " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert "unlocks     2 unfinished cards wait on it, directly or not" in text
        assert "step 2 of 4 on the critical path of M1" in text


@aio
async def test_a_large_backlogs_impact_is_read_in_a_process_of_its_own_and_follows_changes(board, monkeypatch):
    """Above ``IN_PROCESS_MAX`` unfinished cards the read and the analysis run in a process of their own (not
    holding this process's interpreter lock): the same answer, following another program's completion; the
    process ends with the board."""
    import mosaic_tui.board.keystones as keystones_module
    from mosaic_tui.repository.watch.impact import impact

    monkeypatch.setattr(keystones_module, "IN_PROCESS_MAX", 0)
    monkeypatch.setattr(keystones_module, "MIN_S", 0.0)  # no pace: every change read at once
    monkeypatch.setattr(keystones_module, "PACE", 0.0)
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)  # the first read too: the counts say more than IN_PROCESS_MAX (0) unfinished cards
        assert app.keystones._process is not None and app.keystones.current == impact(backlog)
        backlog.complete("M1-02", owner="agent-7")
        await until(pilot, lambda: app.keystones.current.unlocks.get("M1-02") is None)
        proc = app.keystones._process
        assert proc is not None and proc.poll() is None and proc.pid != os.getpid()
        assert app.keystones.current == impact(backlog)
        run_sql(backlog, "UPDATE backlog SET status = 'done' WHERE id = 'M1-04'")
        await until(pilot, lambda: "M1-04" not in app.keystones.current.status_of)
        assert app.keystones._process is proc and app.keystones.current == impact(backlog)
    assert proc.wait(timeout=10) is not None and app.keystones._process is None


def test_the_impact_process_answers_a_failure_with_the_exception_not_a_traceback():
    """``serve``: each request a pickled URL, each answer an ``Impact`` or the exception; a backlog that cannot
    be opened is an exception for the asking process's one error path."""
    import pickle
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", "from mosaic_tui.repository.watch.impact import serve; serve()"],
                          input=pickle.dumps(("postgresql://nobody:secret@127.0.0.1:1/none", None)), capture_output=True, timeout=120)
    exc = pickle.loads(proc.stdout)
    assert proc.returncode == 0 and isinstance(exc, Exception) and b"Traceback" not in proc.stderr
    assert "secret" not in str(exc)
