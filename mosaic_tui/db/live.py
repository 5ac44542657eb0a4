"""The live feed: a thread that wakes its reader (the board, ``events --follow``) when another program commits.

:class:`LiveFeed` owns its thread (started on mount, stopped on unmount, as
Toolong's watcher), the change feed it waits on (``Backlog.feed()``: LISTEN
on Postgres, ``data_version`` on SQLite), the backstop and the pace. It knows
nothing of columns, panes or Textual: it calls ``wake()`` (from its thread;
the board posts a message, the CLI sets an event) and ``status(state, label)`` when the feed's state
changes (``live``, ``polling``, ``replica``: polling a read replica while the primary does not answer,
``lost``; the label for people, with the interval: ``polling (every 1s)``). The board tells it whether the last look
was ``busy``; nothing else crosses between the threads.

- **Wake-ups**: when the feed says something changed.
- **Backstop**: a wake-up when the feed has said nothing for ``BACKSTOP_S``
  (a missed signal); without a feed (it cannot be opened, or it failed), a
  wake-up every ``poll`` seconds.
- **Pace**: after a wake-up, at least ``MIN_WAKE_INTERVAL_S``; after a busy
  look, until the CPU this process spent since the wake-up is at most
  ``CPU_BUDGET`` of the time passed (at most ``MAX_WAKE_INTERVAL_S``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

MIN_WAKE_INTERVAL_S = 0.1  # at most ten wake-ups a second...
CPU_BUDGET = 0.05  # ...and after a busy look, only as often as a twentieth of one core allows
MAX_WAKE_INTERVAL_S = 2.0  # however costly the looks, a wake-up at least every two seconds
BACKSTOP_S = 2.0  # a wake-up when the feed has said nothing for this long
POLL_S = 0.5  # without a feed: a wake-up this often
WAIT_S = 0.25  # one wait on the feed (how soon a stop is noticed)


class LiveFeed:
    """Wakes the board: on each change another program commits, paced, with a backstop."""

    def __init__(self, open_feed: Callable[[], object], wake: Callable[[], None], status: Callable[[str, str], None],
                 *, poll: float = POLL_S, backstop: float | None = None) -> None:
        self._open_feed = open_feed
        self._wake = wake
        self._status = status
        self.poll = poll
        self.backstop = BACKSTOP_S if backstop is None else backstop
        self._stop = threading.Event()
        self._busy = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the board's side ------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """The last look changed more cards than a person can follow: pace by CPU."""
        return self._busy.is_set()

    @busy.setter
    def busy(self, value: bool) -> None:
        (self._busy.set if value else self._busy.clear)()

    def start(self) -> None:
        """A daemon thread of its own rather than a Textual worker: it lives as long as the board, and
        awaiting the workers (tests, actions) must not wait for it. No lock, no open transaction between waits."""
        self._thread = threading.Thread(target=self._run, name="mosaic-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    # -- the thread ------------------------------------------------------------------
    def _run(self) -> None:
        try:
            feed = self._open_feed()
        except Exception:  # noqa: BLE001 - no feed: the backstop still wakes the board
            self._status("lost", "lost")
        else:
            self._follow(feed)
        while not self._stop.wait(self.poll):
            self._wake()

    def _follow(self, feed) -> None:
        label = None
        last = time.monotonic()
        try:
            while not self._stop.is_set():
                feed.busy = self.busy  # while busy, the feed need not signal each change (docs/live.md)
                changed = feed.wait(WAIT_S)
                if feed.label != label:  # the state, or the interval it polls at
                    label = feed.label
                    self._status(feed.state, label)
                if changed or time.monotonic() - last >= self.backstop:
                    self._wake()
                    self.pace()
                    last = time.monotonic()
        except Exception:  # noqa: BLE001 - never a traceback from the feed; the backstop goes on
            self._status("lost", "lost")
        finally:
            feed.close()

    def pace(self) -> None:
        """Wait before the next wake-up: a busy fleet notifies hundreds of times a second.

        At least MIN_WAKE_INTERVAL_S. Then, while the last look was busy, until
        the CPU this process spent since the wake-up (the look, the redraw,
        everything) is at most CPU_BUDGET of the time passed, but never more
        than MAX_WAKE_INTERVAL_S: a quiet fleet's change is shown at once, a
        busy fleet is looked at as often as a twentieth of one core allows.
        What arrives meanwhile is taken by the next look.
        """
        t0, c0 = time.monotonic(), time.process_time()
        self._stop.wait(MIN_WAKE_INTERVAL_S)
        while not self._stop.is_set() and self.busy:
            spent, elapsed = time.process_time() - c0, time.monotonic() - t0
            if spent <= CPU_BUDGET * elapsed or elapsed >= MAX_WAKE_INTERVAL_S:
                return
            self._stop.wait(min(spent / CPU_BUDGET, MAX_WAKE_INTERVAL_S) - elapsed + 0.001)
