"""Undo and redo on the board (``z``, ``Z``): the repository's :class:`~mosaic_tui.repository.History`.

Every change the board makes through the grooming operations (the status keys, reorder,
priority, phase, delete, the edit form, ``$EDITOR``, adding and removing dependencies) is
recorded; ``z`` undoes the newest, ``Z`` redoes. The history checks the event log: an undo is
refused, saying who changed what, when someone else (an agent, another board, another program)
touched those cards since; their change stays (``docs/semantics.md``, *Grooming*). At most
``LIMIT`` changes are kept. Undo and redo run in a worker, one at a time.
"""

from __future__ import annotations

import threading

from mosaic_tui.board.jobs import run_job
from mosaic_tui.repository import History

LIMIT = 100


class UndoKeys:
    """``z`` / ``Z`` and the record of the board's changes."""

    def __init__(self, app) -> None:
        self.app = app
        self.history = History(app.backlog, limit=LIMIT)
        self._lock = threading.Lock()  # the history is changed by workers and the interface thread
        self._running = False

    def record(self, result) -> None:
        """Keep a grooming result's change (nothing when it changed nothing)."""
        change = getattr(result, "change", None)
        if change is not None:
            with self._lock:
                self.history.record(change)

    def undo(self) -> None:
        self._step(redo=False)

    def redo(self) -> None:
        self._step(redo=True)

    def _step(self, *, redo: bool) -> None:
        what = "redo" if redo else "undo"
        if self._running:
            self.app.notify(f"an {what} is still running", severity="warning", timeout=2)
            return
        with self._lock:
            ready = self.history.can_redo if redo else self.history.can_undo
        if not ready:
            self.app.notify(f"nothing to {what}", timeout=2)
            return
        self._running = True
        backlog = self.app.backlog

        def run():
            with self._lock:
                change, notes = self.history.redo() if redo else self.history.undo()
            return change, notes, backlog.last_event_id()

        def done(got) -> None:
            self._running = False
            change, notes, own = got
            self.app.refresher.own(change.ids, own)
            verb = "redid" if redo else "undid"
            label = change.label if redo else change.label.removeprefix("undo of ")
            extra = f" ({'; '.join(notes)})" if notes else ""
            self.app.notify(f"{verb}: {label}{extra}", timeout=4, markup=False)
            self.app.refresher.look()

        def failed() -> None:
            self._running = False  # the one error path says why (a refusal names who changed what)

        run_job(self.app, run, then=done, failed=failed, group="action")
