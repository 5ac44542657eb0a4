"""The Flow screen (``f``): how work moves over the last hour, day or week.

A cumulative flow diagram (cards per status, stacked, at the end of each
bucket), throughput bars (completions, claims), cycle and lead time p50/p90
beside them, then the same per phase and per agent. The figures are one call
of :func:`mosaic_tui.repository.watch.flow.flow` (aggregated in SQL) in a worker; the screen
reads them again when a notice brings claims, completions or status moves
(at most every ``REREAD_S`` seconds, ``REREAD_BUSY_S`` while the fleet is
busy) and every ``TICK_S`` seconds (time moves the window even when nothing
happens). Keys: ``1`` ``2`` ``3`` (or ``w``) choose the window; ``escape``
(or ``f``) goes back.
"""

from __future__ import annotations

import time

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from mosaic_tui.board.jobs import Job
from mosaic_tui.board.draw.plot import BarPlot, Series
from mosaic_tui.board.draw.text import duration, literal
from mosaic_tui.repository.watch.flow import DEFAULT_WINDOW, WINDOWS, Flow, Spread, flow

REREAD_S = 5.0
REREAD_BUSY_S = 20.0
TICK_S = 30.0
COLORS = {"ready": "dodger_blue2", "claimed": "yellow", "blocked": "red", "done": "green"}
STACK = ("done", "blocked", "claimed", "ready")  # bottom first
KEYS = tuple(WINDOWS)


def spreads(rows: list[tuple[str, Spread, str]]) -> Table:
    """Cycle and lead time, one row each: label, p50, p90, how many, in columns of a grid.

    Columns, not one line of text: a panel too narrow for the line wraps each
    cell on its own, so a figure is never run into the next one (a line broken
    at the spaces between them read ``p50 24mp90 35m`` once joined).
    """
    grid = Table.grid(padding=(0, 2))
    for _ in range(3):
        grid.add_column(no_wrap=True)  # label, p50, p90: whole; the count wraps under itself
    grid.add_column()
    for label, s, what in rows:
        if not s.count:
            grid.add_row(Text(label, "bold"), Text("—", "dim"), "", "")
            continue
        grid.add_row(Text(label, "bold"), Text.assemble("p50 ", (duration(s.p50 or 0), "bold")),
                     Text.assemble("p90 ", (duration(s.p90 or 0), "bold")), Text(f"({s.count:,} {what})", "dim"))
    return grid


def _p(s: Spread) -> tuple[str, str]:
    return (duration(s.p50), duration(s.p90)) if s.count else ("—", "—")


class FlowScreen(Screen):
    """The flow of work over a window, live."""

    BINDINGS = [
        Binding("1", "window('1h')", "Hour"),
        Binding("2", "window('1d')", "Day"),
        Binding("3", "window('7d')", "Week"),
        Binding("w", "next_window", "Next window", show=False),
        Binding("escape,f", "close", "Back"),
    ]
    DEFAULT_CSS = """
    FlowScreen { layout: vertical; }
    FlowScreen #flow-title { height: 1; background: $primary-background; padding: 0 1; }
    FlowScreen .box { border: round $panel-lighten-2; border-title-style: bold; height: auto; }
    FlowScreen #cfd { height: 12; }
    FlowScreen #cfd-axis, FlowScreen #legend { height: 1; }
    FlowScreen #throughput-row { height: auto; }
    FlowScreen #bars { width: 3fr; }
    FlowScreen .bars { height: 4; }
    FlowScreen .bar-label { height: 1; }
    FlowScreen #figures { width: 2fr; padding: 0 1; }
    FlowScreen #tables { height: 1fr; }
    FlowScreen DataTable { width: 1fr; height: 1fr; border: round $panel-lighten-2; border-title-style: bold; }
    """

    def __init__(self, backlog, *, window: str = DEFAULT_WINDOW, notices=None, clock=None) -> None:
        super().__init__()
        self.backlog = backlog
        self.window = window
        self.notices = notices
        self.clock = clock
        self.figures: Flow | None = None
        self._last_read = 0.0
        self._due = False
        self._job = Job(self, self._read, self.show, group="flow")  # a failure: the board's one error path

    def compose(self) -> ComposeResult:
        yield Static(id="flow-title")
        with Vertical(classes="box", id="cfd-box"):
            yield BarPlot(id="cfd")
            yield Static(id="cfd-axis")
            yield Static(id="legend")
        with Horizontal(id="throughput-row"):
            with Vertical(classes="box", id="bars"):
                yield Static(classes="bar-label", id="done-label")
                yield BarPlot(classes="bars", id="done-bars")
                yield Static(classes="bar-label", id="claims-label")
                yield BarPlot(classes="bars", id="claims-bars")
            yield Static(classes="box", id="figures")
        with Horizontal(id="tables"):
            yield DataTable(id="phases", cursor_type="row", zebra_stripes=True)
            yield DataTable(id="agents", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#cfd-box").border_title = "cumulative flow"
        self.query_one("#bars").border_title = "throughput"
        self.query_one("#figures").border_title = "cycle and lead time"
        phases, agents = self.query_one("#phases", DataTable), self.query_one("#agents", DataTable)
        phases.border_title, agents.border_title = "per phase", "per agent"
        self._title()
        if self.notices is not None:
            self.notices.subscribe(self, self.changed)
        self.set_interval(TICK_S, self.read)
        self.read()

    # -- reading ------------------------------------------------------------------
    def changed(self, changes) -> None:
        """A notice from the refresher: read again if it moved cards (paced)."""
        if not self.is_attached:
            return  # closed meanwhile
        moved = getattr(changes, "reload", False) or any(
            ev.old_status != ev.new_status or ev.kind == "claimed" for ev in getattr(changes, "events", ())
        )
        if not moved:
            return
        every = REREAD_BUSY_S if getattr(changes, "busy", False) else REREAD_S
        wait = self._last_read + every - time.monotonic()
        if wait <= 0:
            self.read()
        elif not self._due:
            self._due = True
            self.set_timer(wait, self._read_due)

    def _read_due(self) -> None:
        self._due = False
        self.read()

    def read(self) -> None:
        self._last_read = time.monotonic()
        self._job.ask(self.window)

    def _read(self, window: str) -> Flow:
        """In the worker."""
        return flow(self.backlog, window, now=self.clock() if self.clock is not None else None)

    # -- drawing ------------------------------------------------------------------
    def _title(self) -> None:
        win = WINDOWS[self.window]
        t = Text(" flow", "bold")
        t.append(f"  {win.label}  ")
        for i, key in enumerate(KEYS, start=1):
            t.append(f" {i} {WINDOWS[key].label.split()[-1]} ", "reverse bold" if key == self.window else "dim")
        if self.figures is not None and self.figures.window.key == self.window:
            f = self.figures
            t.append(f"   {win.buckets} buckets of {duration(win.step)} · {f.start:%Y-%m-%d %H:%M} → {f.end:%H:%M:%S} UTC",
                     "dim")
        self.query_one("#flow-title", Static).update(t)

    def show(self, f: Flow) -> None:
        if f.window.key != self.window or not self.is_attached:
            return  # an older window's figures, overtaken by a key press
        self.figures = f
        self._title()
        self.query_one("#cfd", BarPlot).plot([Series(s, COLORS[s], f.cfd[s][1:]) for s in STACK])
        axis = Text(" " * 7 + f"{f.start:%H:%M}")
        end = f"{f.end:%H:%M}"
        width = self.query_one("#cfd", BarPlot).size.width
        axis.append(end.rjust(max(1, width - len(axis) - 1)))
        self.query_one("#cfd-axis", Static).update(axis)
        legend = Text(" " * 7)
        for s in reversed(STACK):
            legend.append("■ ", COLORS[s])
            legend.append(f"{s} {f.cfd[s][-1]:,}   ")
        self.query_one("#legend", Static).update(legend)
        self.query_one("#done-bars", BarPlot).plot([Series("completions", "green", f.completions)])
        self.query_one("#claims-bars", BarPlot).plot([Series("claims", "yellow", f.claims)])
        self.query_one("#done-label", Static).update(
            Text.assemble(("completions ", "bold green"), (f"{sum(f.completions):,}", "bold"),
                          (f"  (per {duration(f.window.step)})", "dim")))
        self.query_one("#claims-label", Static).update(
            Text.assemble(("claims ", "bold yellow"), (f"{sum(f.claims):,}", "bold"),
                          (f"  (per {duration(f.window.step)})", "dim")))
        figures = Group(
            spreads([("cycle time", f.cycle, "claim → done"), ("lead time", f.lead, "created → done")]),
            Text("\nover the window's completions (nearest rank). Cycle: from the claim the completion "
                 "ended; lead: from the card's creation.", "dim"),
        )
        self.query_one("#figures", Static).update(figures)
        self._table("#phases", ("phase", "done", "cycle p50", "cycle p90", "lead p50", "lead p90"), [
            (literal(g.name) if g.name else "(none)", f"{g.completions:,}", *_p(g.cycle), *_p(g.lead)) for g in f.phases
        ])
        self._table("#agents", ("agent", "claims", "done", "cycle p50", "cycle p90", "lead p50", "lead p90"), [
            (literal(g.name), f"{g.claims:,}", f"{g.completions:,}", *_p(g.cycle), *_p(g.lead)) for g in f.agents
        ])

    def _table(self, selector: str, headings: tuple[str, ...], rows: list[tuple]) -> None:
        table = self.query_one(selector, DataTable)
        keep = table.cursor_row
        table.clear(columns=True)  # the columns again, as wide as what they hold now (set, not measured later)
        for i, heading in enumerate(headings):
            table.add_column(heading, width=max([len(heading), *(len(str(row[i])) for row in rows)]))
        for row in rows:
            table.add_row(*row)
        if rows:
            table.move_cursor(row=min(keep, len(rows) - 1), animate=False)

    # -- keys ---------------------------------------------------------------------
    def action_window(self, key: str) -> None:
        if key != self.window:
            self.window = key
            self._title()
            self.read()

    def action_next_window(self) -> None:
        self.action_window(KEYS[(KEYS.index(self.window) + 1) % len(KEYS)])

    def action_close(self) -> None:
        self.dismiss()
