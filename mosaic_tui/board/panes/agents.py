"""The agents pane: one row per agent that holds a claim or acted in the last hour (a pane).

Columns: the card(s) held, the lease left (a countdown) or ``STALE`` (the
lease ended and the card is not reclaimed yet: red, first), the time on the
current card, the last hour's claims and completions, the median cycle time
(claim to complete) and the last event. Stale first, then longest-working.
``enter`` selects the agent's card on the board. Hidden until ``a``.

Its data is one read, :func:`mosaic_tui.repository.watch.fleet.agents`. Live like the
columns: a notice naming an owner's event reads it again (at most once a
second; every five while the fleet is busy), only while shown; the
countdowns move every second.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual import on
from textual.widgets import DataTable

from mosaic_tui.board.changes import Changes
from mosaic_tui.board.jobs import Job
from mosaic_tui.board.panes.base import ShowCard
from mosaic_tui.board.draw.text import duration, literal
from mosaic_tui.repository.watch.fleet import Agent, agents, order

MIN_READ_S = 1.0  # at most one read a second...
BUSY_READ_S = 5.0  # ...or every five seconds while the fleet is busy
TITLE_W = 34
COLUMNS = (("agent", 14), ("card", 42), ("lease", 12), ("working", 8), ("claims 1h", 9), ("done 1h", 7),
           ("median cycle", 12), ("last event", 12))  # fixed widths: the countdowns never move the columns


def row(agent: Agent, now) -> tuple[Text, ...]:
    """One agent's cells at ``now``."""
    held = agent.card
    if held is None:
        card = Text("—", "dim")
    else:
        title = literal(held.title)
        card = Text(literal(held.id), "bold")
        card.append(" " + (title if len(title) <= TITLE_W else title[: TITLE_W - 1] + "…"))
        if len(agent.held) > 1:
            card.append(f" +{len(agent.held) - 1}", "dim")
    left = agent.lease_left_s(now)
    if left is None:
        lease = Text("—", "dim")
    elif left <= 0:
        lease = Text(f"STALE {duration(-left)}", "bold red")
    else:
        lease = Text(f"{duration(left)} left")
    working = agent.working_s(now)
    cycle = agent.median_cycle_s
    last = agent.last_event_at
    return (
        Text(literal(agent.owner), "bold red" if left is not None and left <= 0 else "bold"),
        card,
        lease,
        Text(duration(working) if working is not None else "—"),
        Text(f"{agent.claims:,}", justify="right"),
        Text(f"{agent.completions:,}", justify="right"),
        Text(duration(cycle) if cycle is not None else "—"),
        Text(f"{duration((now - last).total_seconds())} ago" if last is not None else "—"),
    )


class AgentsPane(DataTable):
    """Who holds what, who is stuck."""

    DEFAULT_CSS = """
    AgentsPane { display: none; height: auto; max-height: 40%; border: round $panel-lighten-2; border-title-style: bold; }
    AgentsPane:focus { border: round $accent; }
    """

    def __init__(self, refresher, clock, *, id: str = "agents") -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.refresher = refresher
        self.clock = clock
        self.agents: list[Agent] = []
        self._shown: list[tuple] = []  # the rows drawn: (owner, cells' text)
        self._stale = True  # a notice came while hidden (or nothing was read yet)
        self._last_read = 0.0
        self._later = False
        self._job = Job(self, self._read, self._show, group="agents")

    def on_mount(self) -> None:
        self.border_title = "agents"
        for label, width in COLUMNS:
            self.add_column(label, width=width)
        self.refresher.notices.subscribe(self, self.changed)
        self.set_interval(1.0, self._draw)

    def toggle(self) -> bool:
        """Show (and focus) or hide the pane; True when it is shown now."""
        self.display = not self.display
        if self.display:
            self.focus()
            if self._stale:
                self._ask()
        return bool(self.display)

    def changed(self, changes: Changes) -> None:
        if changes.reload or any(ev.owner for ev in changes.events):
            self._stale = True
            if self.display:
                self._ask(BUSY_READ_S if changes.busy else MIN_READ_S)
        elif changes.recount:  # exact figures are due (the hour moved on): a read outside the pacing, so that it
            if not self.display:  # never makes the next claim or completion wait for it (once per recount period)
                self._stale = True
            elif not self._later:  # (a read is already due otherwise)
                self._job.ask()

    def _ask(self, every: float = MIN_READ_S) -> None:
        wait = self._last_read + every - time.monotonic()
        if wait <= 0:
            self._stale = False
            self._last_read = time.monotonic()
            self._job.ask()
        elif not self._later:
            self._later = True
            self.set_timer(wait, self._asked_later)

    def _asked_later(self) -> None:
        self._later = False
        if self._stale and self.display:
            self._ask()

    def _read(self, _: object = None) -> list[Agent]:
        return agents(self.refresher.backlog)

    def _show(self, found: list[Agent]) -> None:
        self.agents = found
        self._draw()

    def _draw(self) -> None:
        """Redraw the rows whose text changed (the countdowns move every second)."""
        if not self.display:
            return
        now = self.clock()
        ordered = sorted(self.agents, key=order(now))
        rows = [(a.owner, row(a, now)) for a in ordered]
        shown = [(owner, tuple(c.plain for c in cells)) for owner, cells in rows]
        if shown == self._shown:
            return
        keep = self._shown[self.cursor_row][0] if self._shown and 0 <= self.cursor_row < len(self._shown) else None
        self._shown = shown
        self.clear()
        for owner, cells in rows:
            self.add_row(*cells, key=owner)
        owners = [owner for owner, _ in rows]
        if keep in owners:
            self.move_cursor(row=owners.index(keep), animate=False)
        stale = sum(1 for a in ordered if a.stale(now))
        self.border_title = f"agents ({len(rows)})" + (f" · {stale} stale" if stale else "") if rows else "agents · none in the last hour"

    @on(DataTable.RowSelected)
    def _picked(self, event: DataTable.RowSelected) -> None:
        event.stop()
        agent = next((a for a in self.agents if a.owner == event.row_key.value), None)
        if agent is not None and agent.card is not None:
            self.post_message(ShowCard(agent.card.id))
        elif agent is not None:
            self.app.notify(f"{literal(agent.owner)} holds no card now", markup=False, timeout=3)
