"""The one backoff of every retry: a pause that doubles from ``first`` up to ``most``.

Used by the connect retry of a full server and the failover ride
(:mod:`mosaic_tui.db.connections`), the change feed's reconnect attempts
(:mod:`mosaic_tui.db.feed`: at most one attempt per pause, never a storm) and
``events --follow``'s reads while the database is away. With ``jitter`` each
pause is drawn from half to one and a half of it, so that a fleet refused at
once does not come back at once; with ``seconds`` no pause reaches past the
deadline, and the last try falls on it. Standard library only.
"""

from __future__ import annotations

import random
import time


class Backoff:
    """Pauses doubling from ``first`` to ``most``; :meth:`reset` after a success."""

    def __init__(self, first: float, most: float, *, seconds: float | None = None, jitter: bool = False) -> None:
        self.first, self.most, self.jitter = first, most, jitter
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.delay = first

    def reset(self) -> None:
        self.delay = self.first

    def pause(self) -> float | None:
        """The pause before the next try (the one after it doubles); None once the deadline has passed."""
        pause = self.delay * (random.uniform(0.5, 1.5) if self.jitter else 1.0)
        self.delay = min(self.delay * 2, self.most)
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                return None
            pause = min(pause, left)
        return pause

    def sleep(self) -> bool:
        """Sleep before the next try (True), or say that the time is up (False, no sleep)."""
        pause = self.pause()
        if pause is None:
            return False
        time.sleep(pause)
        return True
