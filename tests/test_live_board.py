"""The live board: another process's change reaches an open board through the change feed."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

from mosaic_tui.board import make_app
from fixtures import FixedClock, seed
from mosaic_tui.db.engine import open_database
from mosaic_tui.repository import Backlog

SIZE = (160, 45)


def _other_process(url: str, code: str) -> None:
    subprocess.run([sys.executable, "-c", "import sys; from mosaic_tui.repository import Backlog; "
                    f"b = Backlog.open(sys.argv[1]); {code}", url], check=True, timeout=60)


def _seeded_board(db_url: str):
    """The board tests' fixed backlog (fixed clock), and a board over it."""
    clock = FixedClock()
    backlog = Backlog(open_database(db_url), clock=clock)
    seed(backlog, clock)
    return backlog, make_app(backlog, clock=clock)


async def _until(pilot, predicate, timeout: float = 60.0) -> float:
    """Pause until ``predicate()`` holds (a generous deadline: a loaded machine is slow, a passing test is not)."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError("the board did not show the change")
        await pilot.pause(0.01)
    return time.monotonic() - start


def test_a_change_by_another_process_appears_live_and_flashes(db_url):
    async def run():
        backlog, app = _seeded_board(db_url)
        async with app.run_test(size=SIZE) as pilot:
            await _until(pilot, lambda: app.columns["ready"].count > 0)
            await _until(pilot, lambda: app.feed_status in ("live", "polling"))
            expected = "live" if backlog.backend == "postgresql" else "polling"
            assert app.feed_status == expected
            assert ("● live" if expected == "live" else "◌ polling (every 0.02s)") in str(app.topbar.render())
            ready_before = app.columns["ready"].count
            _other_process(db_url, "b.block('M2-02')")
            await _until(pilot, lambda: app.columns["blocked"].find("M2-02") is not None)
            # The count moved at once by the event's delta, and agrees with the database.
            assert app.columns["blocked"].count == backlog.count(status="blocked")
            assert app.columns["ready"].count == ready_before - 1
            assert "M2-02" in app.columns["blocked"].flash
        backlog.close()

    asyncio.run(run())


def test_the_feed_not_the_timer_brings_the_change(db_url):
    """With the backstop timer made very slow, the change still arrives, long before the backstop could have
    brought it. (How soon, on a quiet machine: bench/live.py, docs/performance/live.md.)"""
    import mosaic_tui.db.live as board_feed

    async def run():
        backlog, app = _seeded_board(db_url)
        opened = time.monotonic()  # before the feed thread starts: no backstop wake-up before opened + BACKSTOP_S
        async with app.run_test(size=SIZE) as pilot:
            await _until(pilot, lambda: app.columns["done"].count > 0)
            await pilot.pause(0.3)
            _other_process(db_url, "b.complete('M1-06')")
            await _until(pilot, lambda: app.columns["done"].find("M1-06") is not None)
            assert time.monotonic() - opened < board_feed.BACKSTOP_S
        backlog.close()

    old = board_feed.BACKSTOP_S
    board_feed.BACKSTOP_S = 600.0
    try:
        asyncio.run(run())
    finally:
        board_feed.BACKSTOP_S = old


def test_a_busy_look_moves_counts_exactly_and_highlights_nothing(db_url):
    """Thirty cards claimed at once by another process: one look takes them all; the counts are the
    database's, and with everything moving nothing is highlighted."""
    from mosaic_tui.board.refresher import BUSY_CARDS

    async def run():
        backlog = Backlog.open(db_url)
        backlog.db.ensure_schema()
        for i in range(40):
            backlog.create(f"B{i:02d}", f"busy card {i}", priority=i % 3)
        app = make_app(backlog)
        async with app.run_test(size=SIZE) as pilot:
            await _until(pilot, lambda: app.columns["ready"].count == 40)
            await pilot.pause(0.3)
            # one transaction of plain SQL, as the fleet's own service might: one commit, one look
            _other_process(db_url, "from sqlalchemy import text; c = b.db.engine.connect(); "
                           "c.execute(text(\"UPDATE backlog SET status = 'claimed', claim_owner = 'w', "
                           "claim_ttl_seconds = 600, claimed_at = CURRENT_TIMESTAMP WHERE id IN "
                           "(SELECT id FROM backlog ORDER BY id LIMIT 30)\")); c.commit()")
            await _until(pilot, lambda: app.columns["claimed"].count == 30)
            await pilot.pause(0.3)
            assert app.columns["ready"].count == backlog.count(status="ready") == 10
            assert app.columns["claimed"].count == backlog.count(status="claimed") == 30
            assert app.stats["counts"]["claimed"] == 30  # the footer says what the columns say
            assert 30 > BUSY_CARDS
            assert not app.columns["claimed"].flash and not app.columns["ready"].flash
            # what the column shows is the database's first page, in claim order
            shown = [app.columns["claimed"].card_at(r).id for r in range(app.columns["claimed"].count)]
            assert shown == [c.id for c in backlog.list(status="claimed", limit=50)]
        backlog.close()

    asyncio.run(run())


def test_only_the_card_the_person_picked_is_announced(db_url):
    """The card under the cursor is claimed by an agent: said once. The card that slides up into
    its place is claimed next: not announced (a busy fleet would fill the screen)."""

    async def run():
        backlog = Backlog.open(db_url)
        backlog.db.ensure_schema()
        for i in range(5):
            backlog.create(f"P{i}", f"pick {i}", priority=10 - i)
        app = make_app(backlog)
        async with app.run_test(size=SIZE) as pilot:
            await _until(pilot, lambda: app.columns["ready"].count == 5)
            ready = app.columns["ready"]
            ready.focus()
            await pilot.press("down", "up")  # the person puts the cursor on P0
            await pilot.pause(0.2)
            assert app.selected_card().id == "P0"

            def notes():
                return [str(n.message) for n in app._notifications]

            _other_process(db_url, "b.claim('agent-7', ttl=600)")
            await _until(pilot, lambda: app.columns["claimed"].find("P0") is not None)
            await _until(pilot, lambda: any("P0 was claimed by agent-7" in n for n in notes()))
            await pilot.pause(0.2)
            assert app.selected_card().id == "P1"  # slid under the cursor
            _other_process(db_url, "b.claim('agent-8', ttl=600)")
            await _until(pilot, lambda: app.columns["claimed"].find("P1") is not None)
            await pilot.pause(0.3)
            assert not any("P1 was" in n for n in notes()), notes()
        backlog.close()

    asyncio.run(run())


def test_the_pace_waits_out_a_busy_looks_cpu_and_not_a_quiet_ones():
    """After a busy look the feed thread waits until the board's CPU since the wake-up is within the
    budget; after a quiet one only the minimum interval."""
    import threading

    from mosaic_tui.db import live as board_feed

    def paced(busy_look: bool, burn: float) -> tuple[float, float]:
        """How long the pace took, and how long until both the pace and the look's CPU were over."""
        live = board_feed.LiveFeed(lambda: None, lambda: None, lambda status: None)
        live.busy = busy_look

        def busy():  # the look's CPU, spent right after the wake-up
            end = time.process_time() + burn
            while time.process_time() < end:
                pass

        began = time.monotonic()
        worker = threading.Thread(target=busy)
        worker.start()
        live.pace()
        paced_for = time.monotonic() - began
        worker.join()
        return paced_for, time.monotonic() - began

    quiet, _ = paced(False, 0.05)
    _, busy = paced(True, 0.05)
    # 0.05 s of CPU at a budget of CPU_BUDGET of a core: about 0.05 / CPU_BUDGET seconds (capped); the
    # burn starts a moment before the pace takes its first reading, hence the margin. (On a loaded machine
    # the burn itself may take longer than that: then the pace returns early and the join waits instead.)
    least = min(0.05 / board_feed.CPU_BUDGET, board_feed.MAX_WAKE_INTERVAL_S)
    assert busy >= least * 0.6, (busy, least)
    # After a quiet look the pace is the minimum interval, whatever the look's CPU (the burn's own wall time,
    # long on a loaded machine, is not the pace's).
    assert board_feed.MIN_WAKE_INTERVAL_S * 0.9 <= quiet < least * 0.3, (quiet, least)


def test_the_board_feed_wakes_at_once_for_a_lone_change_and_paces_bursts(monkeypatch):
    """The pacing policy, on a fake clock: after a quiet moment two wake-ups go through at once; a steady
    stream is held to one wake-up per MIN_WAKE_INTERVAL_S (what the old pacing, BURST = 1, always did)."""
    import mosaic_tui.board.refresher as refresher_module
    from mosaic_tui.board.refresher import BoardFeed
    from mosaic_tui.db.live import MIN_WAKE_INTERVAL_S

    class Clock:
        now = 1000.0
        slept: list[float] = []

        def monotonic(self):
            return self.now

        def sleep(self, s):
            self.slept.append(round(s, 6))
            self.now += s

    clock = Clock()
    monkeypatch.setattr(refresher_module, "time", clock)
    feed = BoardFeed(lambda: None, lambda: None, lambda *a: None)
    feed.pace()  # a lone change: no wait
    clock.now += 0.03
    feed.pace()  # the change right behind it (a claim after a heartbeat): no wait either
    assert clock.slept == []
    clock.now += 0.01
    feed.pace()  # a third within the interval: a burst, paced
    assert len(clock.slept) == 1 and 0 < clock.slept[0] <= MIN_WAKE_INTERVAL_S
    clock.slept.clear()
    for _ in range(50):  # a steady stream: one wake-up per interval at most
        feed.pace()
    assert sum(clock.slept) >= 49 * MIN_WAKE_INTERVAL_S - 1e-6
    clock.slept.clear()
    clock.now += 5.0  # quiet again: at once
    feed.pace()
    assert clock.slept == []
    feed.busy = True  # after a busy look the feed's CPU budget paces, as before (LiveFeed.pace)...
    called = []
    monkeypatch.setattr(refresher_module.LiveFeed, "pace", lambda self: called.append(1))
    feed.pace()
    feed.busy = False
    clock.now += 1.0
    feed.pace()  # ...and for a while after (the small looks between a busy fleet's busy ones)
    assert called == [1, 1] and clock.slept == []
    clock.now += refresher_module.BUSY_QUIET_S
    feed.pace()  # quiet long enough: a lone change at once again
    assert called == [1, 1] and clock.slept == []
