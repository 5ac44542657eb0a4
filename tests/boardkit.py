"""What the board's Pilot tests share: the terminal size, running an async test, waiting for the board to settle.

The seeded boards themselves are fixtures in ``conftest.py`` (``board`` on both backends, ``sboard`` on SQLite).
"""

from __future__ import annotations

import asyncio
import functools

SIZE = (160, 45)


def aio(fn):
    """Run an ``async def`` test in a fresh event loop (no async plugin needed)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return run


async def settle(pilot, rounds: int = 3) -> None:
    """Let messages and workers run out: ``rounds`` times a pause and every worker awaited, then two pauses."""
    for _ in range(rounds):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    for _ in range(2):
        await pilot.pause()
