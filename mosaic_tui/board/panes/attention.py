"""Needs attention: a header badge ``⚠ 2 stale`` and a one-line notice when a claim goes quiet (a pane).

A claim needs attention when its lease has ended and no one has reclaimed
it (stale) or when its holder has not heartbeated for half its lease
(silent): :func:`mosaic_tui.repository.watch.activity.needs_attention`, one query over the
claimed cards. Going quiet writes nothing to the database, so besides the
refresher's notices (a claim, a heartbeat, a completion changes the answer)
the badge looks every ``TICK_S`` seconds. Each claim that newly needs
attention is told once, in one line (``a`` opens the agents view); those
that already did when the board opened are only counted. The badge is empty
when all is well.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from mosaic_tui.repository.watch.activity import Attention, Quiet, needs_attention
from mosaic_tui.board.jobs import Job
from mosaic_tui.board.draw.text import duration, literal

TICK_S = 2.0
MAX_NOTICES = 3  # more claims going quiet at once than this: one notice for them all


def notice(q: Quiet) -> str:
    who = literal(q.owner) or "someone"
    if q.state == "stale":
        return f"{who}'s lease on {literal(q.card_id)} has ended; not reclaimed yet (a: agents)"
    return f"{who} silent on {literal(q.card_id)} for {duration(q.silent_seconds)}, half its lease (a: agents)"


class AttentionBadge(Static):
    """`` ⚠ 2 stale `` in the header, or nothing."""

    DEFAULT_CSS = """
    AttentionBadge { width: auto; height: 1; display: none; background: $error; color: $text; text-style: bold; }
    AttentionBadge.shown { display: block; }
    """

    def __init__(self, backlog, *, notices=None, clock=None, tick: float | None = TICK_S, id: str = "attention") -> None:
        super().__init__(id=id)
        self.backlog = backlog
        self.notices = notices
        self.clock = clock
        self.tick = tick
        self.attention = Attention()
        self._told: dict[tuple[str, str], str] | None = None  # (card, owner) -> the state told; None: first look
        self._badge = ""  # the text shown
        self._job = Job(self, self._read, self.show, group="attention")  # a failure: the board's one error path

    def on_mount(self) -> None:
        if self.notices is not None:
            self.notices.subscribe(self, self.changed)
        if self.tick:
            self.set_interval(self.tick, self.look)
        self.look()

    def changed(self, changes) -> None:
        if not self.is_attached:
            return
        if getattr(changes, "reload", False) or any(ev.owner for ev in getattr(changes, "events", ())):
            self.look()

    def look(self) -> None:
        if not self._job.busy:  # a look already running or asked for will see the same
            self._job.ask()

    def _read(self, _: object = None) -> Attention:
        """In the worker."""
        return needs_attention(self.backlog, now=self.clock() if self.clock else None)

    def show(self, found: Attention) -> None:
        if not self.is_attached:
            return
        self.attention = found
        now = {(q.card_id, q.owner or ""): q.state for q in found.claims}
        told = now if self._told is None else self._told  # the first look: the badge says it, no notice
        new = [q for q in found.claims if told.get((q.card_id, q.owner or "")) != q.state]
        if len(new) > MAX_NOTICES:  # a whole fleet gone quiet at once: one line, not a toast each
            self.app.notify(f"{len(new)} claims went quiet (a: agents)", title="needs attention",
                            severity="warning", timeout=6)
        else:
            for q in new:
                self.app.notify(notice(q), title="needs attention", severity="warning", markup=False, timeout=6)
        self._told = now
        badge = f" ⚠ {found.count} stale " if found.count else ""
        if badge != self._badge:  # an update lays the screen out again (the badge's width is its text's)
            self._badge = badge
            self.set_class(found.count > 0, "shown")
            self.update(Text(badge))
