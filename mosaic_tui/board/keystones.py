"""The keystones room: what each unfinished card unlocks, and the critical path per phase, kept current.

It reads :func:`mosaic_tui.repository.watch.impact.impact` (the unfinished cards, the edges
between them, then the analysis; a few milliseconds at a thousand cards,
about half a second at 100,000) in a worker, one read at a time, and
publishes the result on the refresher's notices (a :class:`Changes` with
``impact`` set and nothing else), so the panes hear it where they hear
everything else: the columns' ``unlocks N``, the stats footer's critical
path, the ready column's sort by impact. The card detail reads ``current``.

When: on every reload (the first, and after the database was away: what
changed meanwhile is not in any notice), and after a notice whose events change the
unfinished graph (a card done or undone, created, deleted, linked, unlinked,
edited: its phase). **Paced** like Dolphie's refresh: the next read starts
no sooner than ``MIN_S`` after the last one ended, nor sooner than
``PACE`` times what the last one took, and while the fleet is busy (the
refresher's ``busy``) no sooner than ``RECOUNT_BUSY_S`` after it, so a busy fleet at 100,000 cards costs
the board at most about a twentieth of a core here (in a process of its own
the read takes less time than in the board's thread, which shared the
interpreter lock: at ten times, as before, it would be read more often). It never draws.

**Where**: when the last read found more than ``IN_PROCESS_MAX`` unfinished
cards (the first read: when the counts say so), the reads run in a process
of its own (one, started on first need, at a lower CPU priority;
:func:`~mosaic_tui.repository.watch.impact.serve` opens the backlog there by
its URL, sent through a pipe), the worker thread only waiting for it and
unpickling the result (about 15 ms at 100,000 cards). In the board's own
process the read and the analysis (about 0.6 s of pure Python at 100,000
cards) shared the interpreter lock with the interface thread: a claim shown
meanwhile took several times as long (docs/performance/live.md). A small
backlog reads in the thread (a few milliseconds: no process for it).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

from mosaic_tui.board.changes import Changes
from mosaic_tui.board.jobs import Job
from mosaic_tui.board.refresher import RECOUNT_BUSY_S
from mosaic_tui.repository.watch.impact import Impact, impact

STRUCTURE_KINDS = frozenset({"linked", "unlinked", "edited", "created", "deleted"})
MIN_S = 1.0  # reads at most this often...
PACE = 20.0  # ...and leave nineteen twentieths of the time to everything else
IN_PROCESS_MAX = 5000  # more unfinished cards than this: read and analysed in a process of its own
NICE = 10  # that process's CPU priority, lowered by so much


def reshapes(events) -> bool:
    """Do these events change the unfinished graph (its cards, edges or phases)?"""
    return any(ev.kind in STRUCTURE_KINDS or (ev.old_status != ev.new_status and "done" in (ev.old_status, ev.new_status))
               for ev in events)


class Keystones:
    """Owns the impact read; ``current`` is the last one (None before the first)."""

    def __init__(self, app, refresher) -> None:
        self.app = app
        self.refresher = refresher
        self.current: Impact | None = None
        self.took = 0.0  # seconds the last read took (wall)
        self.reads = 0
        self._due = 0.0  # monotonic: the next read may start then
        self._ended = 0.0  # monotonic: the last read ended then
        self._timer = None
        self._process: subprocess.Popen | None = None
        self._job = Job(self, self._read, self._show, group="keystones",
                        prepare=lambda _want: None if self.current is None else self.current.cards > IN_PROCESS_MAX)

    def start(self) -> None:
        """Hear the notices (called once the app is mounted)."""
        self.refresher.notices.subscribe(self.app, self.changed)

    def stop(self) -> None:
        """The process, if one was started, goes (called as the app unmounts)."""
        proc, self._process = self._process, None
        if proc is not None:
            proc.kill()
            proc.wait()

    def changed(self, changes: Changes) -> None:
        if changes.impact is not None or changes.offline:
            return
        if changes.reload or reshapes(changes.events):  # a reload: the first, a new scope, the database back
            self.ask()

    def ask(self) -> None:
        """Read again, now or once the pace allows (one read pending at most)."""
        wait = self._due - time.monotonic()
        if self.refresher.busy:  # a busy fleet: with the recount's period at most (the counts' own pace)
            wait = max(wait, self._ended + RECOUNT_BUSY_S - time.monotonic())
        if wait <= 0 or self.current is None:
            self._job.ask()
        elif self._timer is None:
            self._timer = self.app.set_timer(wait, self._timer_fired)

    def _timer_fired(self) -> None:
        self._timer = None
        self._job.ask()

    def _read(self, big: bool | None) -> tuple[Impact, float]:
        """In the worker; ``big``: by the last read's size (None: the first read, by the counts)."""
        started = time.perf_counter()
        if big is None:
            counts = self.refresher.backlog.counts()
            big = sum(n for status, n in counts.items() if status != "done") > IN_PROCESS_MAX
        found = self._read_elsewhere() if big else impact(self.refresher.backlog)
        return found, time.perf_counter() - started

    def _read_elsewhere(self) -> Impact:
        """The impact read in the process of its own (started on first need, again if it went)."""
        proc = self._process
        if proc is None or proc.poll() is not None:
            root = str(Path(__file__).resolve().parents[2])  # where mosaic_tui is imported from
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))}
            proc = self._process = subprocess.Popen(
                [sys.executable, "-c", f"from mosaic_tui.repository.watch.impact import serve; serve({NICE})"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        try:
            db = self.refresher.backlog.db  # its URLs through the pipe: never in an argument
            pickle.dump((db.target.raw, None if db.replica is None else db.replica.target.raw), proc.stdin)
            proc.stdin.flush()
            found = pickle.load(proc.stdout)
        except (OSError, EOFError, pickle.UnpicklingError):
            self.stop()  # the next read starts another
            raise
        if isinstance(found, BaseException):
            raise found  # the read's own failure: the board's one error path says what it means
        return found

    def _show(self, got: tuple[Impact, float]) -> None:
        self.current, self.took = got
        self.reads += 1
        self._ended = time.monotonic()
        self._due = self._ended + max(MIN_S, PACE * self.took)
        r = self.refresher
        r.notices.publish(Changes(r.generation, r.scope, impact=self.current))
