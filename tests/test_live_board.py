"""The live board: another process's change reaches an open board through the change feed."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

from mosaic_tui.board import make_app
from mosaic_tui.board.fixtures import FixedClock, seed
from mosaic_tui.db.engine import open_database
from mosaic_tui.repository import Backlog

SIZE = (160, 45)


def _other_process(url: str, code: str) -> None:
    subprocess.run([sys.executable, "-c", "import sys; from mosaic_tui.repository import Backlog; "
                    f"b = Backlog.open(sys.argv[1]); {code}", url], check=True, timeout=60)


async def _until(pilot, predicate, timeout: float = 10.0) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError("the board did not show the change")
        await pilot.pause(0.01)
    return time.monotonic() - start


def test_a_change_by_another_process_appears_live_and_flashes(db_url):
    async def run():
        clock = FixedClock()
        backlog = Backlog(open_database(db_url), clock=clock)
        seed(backlog, clock)
        app = make_app(backlog, clock=clock)
        async with app.run_test(size=SIZE) as pilot:
            await _until(pilot, lambda: app.columns["ready"].count > 0)
            await _until(pilot, lambda: app.feed_status in ("live", "polling"))
            expected = "live" if backlog.backend == "postgresql" else "polling"
            assert app.feed_status == expected
            assert ("● live" if expected == "live" else "◌ polling") in str(app._topbar.render())
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
    """With the backstop timer made very slow, the change still arrives within a second or so."""
    import mosaic_tui.board.app as board_app

    async def run():
        clock = FixedClock()
        backlog = Backlog(open_database(db_url), clock=clock)
        seed(backlog, clock)
        app = make_app(backlog, clock=clock)
        async with app.run_test(size=SIZE) as pilot:
            await _until(pilot, lambda: app.columns["done"].count > 0)
            await pilot.pause(0.3)
            started = time.monotonic()
            _other_process(db_url, "b.complete('M1-06')")
            committed = time.monotonic()
            waited = await _until(pilot, lambda: app.columns["done"].find("M1-06") is not None)
            assert committed - started < 30 and waited < 3.0
        backlog.close()

    old = board_app.FEED_BACKSTOP_S
    board_app.FEED_BACKSTOP_S = 60.0
    try:
        asyncio.run(run())
    finally:
        board_app.FEED_BACKSTOP_S = old
