"""The board app: it composes the rooms and routes keys and messages between them.

The rooms (``docs/board.md``, *How the board is built*):

- :class:`~mosaic_tui.board.refresher.BoardFeed` (the :class:`~mosaic_tui.db.live.LiveFeed`
  thread) wakes the board when another program commits: a lone change at once, bursts paced,
  with a backstop;
- :class:`~mosaic_tui.board.refresher.Refresher` looks (reads the events
  after its cursor) and publishes one :class:`~mosaic_tui.board.changes.Changes`
  notice per look;
- the panes hear it, read what they need in a worker and draw:
  :class:`~mosaic_tui.board.panes.topbar.TopBar`, :class:`~mosaic_tui.board.panes.kanban.Kanban`,
  :class:`~mosaic_tui.board.panes.dependencies.DependencyPane`,
  :class:`~mosaic_tui.board.panes.agents.AgentsPane`, :class:`~mosaic_tui.board.panes.stats.StatsFooter`;
- :class:`~mosaic_tui.board.keystones.Keystones` reads what each card
  unlocks and the critical paths (paced) and publishes them on the same notices;
- keys come from :mod:`~mosaic_tui.board.keys`; the board's are the
  :class:`~mosaic_tui.board.screens.board.BoardScreen`'s (this app's default screen), which hands
  each to its owner (the kanban, the marks, grooming, undo, the editor, the dialogs of
  :class:`~mosaic_tui.board.actions.CardActions`);
- every worker's failure comes here, to one handler (:func:`~mosaic_tui.board.jobs.explain`).
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterable
from datetime import datetime

from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from mosaic_tui.board import keys
from mosaic_tui.board.actions import CardActions
from mosaic_tui.board.grooming.editor import EditorKeys
from mosaic_tui.board.grooming.groom import GroomKeys
from mosaic_tui.board.grooming.marks import MarkKeys, Marks
from mosaic_tui.board.panes.agents import AgentsPane
from mosaic_tui.board.panes.attention import AttentionBadge
from mosaic_tui.board.screens.board import BoardScreen
from mosaic_tui.board.changes import Scope
from mosaic_tui.board.panes.dependencies import DependencyPane
from mosaic_tui.db.live import POLL_S
from mosaic_tui.board.jobs import OFFLINE, REFUSED, Call, explain
from mosaic_tui.board.panes.kanban import Kanban
from mosaic_tui.board.keystones import Keystones
from mosaic_tui.board.panes.base import Drawn, ShowCard
from mosaic_tui.board.refresher import BoardFeed, Refresher
from mosaic_tui.board.panes.stats import StatsFooter
from mosaic_tui.board.panes.topbar import TopBar
from mosaic_tui.board.grooming.undo import UndoKeys
from mosaic_tui.board.views import FilterBar, ViewKeys

NARROW_BELOW = 110  # the dependency pane hides on narrower terminals


class Wake(Message):
    """The live feed says: look (posted from its thread)."""


class FeedStatus(Message):
    def __init__(self, status: str, label: str) -> None:
        super().__init__()
        self.status = status
        self.label = label  # for people: ``polling (every 1s)``


class BoardApp(App[int]):
    """The kanban board over one backlog."""

    TITLE = "mosaic board"
    CSS = """
    Screen { layout: vertical; }
    #head { height: 1; }
    #topbar { width: 1fr; height: 1; background: $primary-background; color: $text; }
    #topbar.disconnected { background: $error; color: $text; text-style: bold; }
    #main { height: 1fr; }
    #columns { width: 7fr; height: 1fr; }
    #graphpane { width: 3fr; height: 1fr; border: round $panel-lighten-2; border-title-style: bold; overflow-x: hidden; scrollbar-size-vertical: 1; }
    #graph { width: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    Screen.narrow #graphpane { display: none; }
    #stats { height: 1; background: $boost; color: $text-muted; padding: 0 1; }
    """

    def __init__(self, backlog, *, phase: str | None = None, clock: Callable[[], datetime] | None = None,
                 poll: float | None = POLL_S) -> None:
        """``poll``: how often to look without a change feed; None: no live following at all (tests)."""
        super().__init__()
        self.backlog = backlog
        self.clock = clock or backlog.now  # the repository's clock: a test's fixed clock reaches the panes too
        self.live_feed = None if not poll else BoardFeed(
            backlog.feed, lambda: self.post_message(Wake()), lambda s, label: self.post_message(FeedStatus(s, label)),
            poll=poll)
        self.refresher = Refresher(self, backlog, Scope(phase), busy=self._busy)
        self.keystones = Keystones(self, self.refresher)
        self.actions = CardActions(self)
        self.marks = Marks()
        self.mark_keys = MarkKeys(self, self.marks)
        self.groom = GroomKeys(self)
        self.undo_keys = UndoKeys(self)
        self.editor = EditorKeys(self)
        self.view_keys = ViewKeys(self)
        self.painted = False

    def compose(self) -> ComposeResult:
        # Kept by reference: a query from the app searches the screen on top (maybe a dialog).
        live = self.live_feed is not None
        self.topbar = TopBar(self.refresher, live=live)
        self.kanban = Kanban(self.refresher, self.clock, live=live, marks=self.marks)
        self.dependencies = DependencyPane(self.refresher)
        self.stats_footer = StatsFooter(self.refresher)
        self.filter_bar = FilterBar()
        self.filter_box = self.filter_bar.input
        with Horizontal(id="head"):
            yield self.topbar
            yield AttentionBadge(self.backlog, notices=self.refresher.notices, clock=self.clock)
        with Horizontal(id="main"):
            yield self.kanban
            yield self.dependencies
        yield AgentsPane(self.refresher, self.clock)
        yield self.stats_footer
        yield self.filter_bar
        yield Footer()

    def on_mount(self) -> None:
        self.marks.listen(lambda _ids: self.stats_footer.show_marked(len(self.marks)))
        self.kanban.columns["ready"].focus()
        self.screen.set_class(self.size.width < NARROW_BELOW, "narrow")
        self.keystones.start()
        self.refresher.reload()
        if self.live_feed is not None:
            self.live_feed.start()

    def on_unmount(self) -> None:
        if self.live_feed is not None:
            self.live_feed.stop()
        self.keystones.stop()

    def on_resize(self, event) -> None:
        self.screen_stack[0].set_class(event.size.width < NARROW_BELOW, "narrow")

    # -- what the rooms say --------------------------------------------------------------
    @on(Call)
    def _call(self, msg: Call) -> None:
        msg.run()

    @on(Wake)
    def _wake(self) -> None:
        self.refresher.look()

    @on(FeedStatus)
    def _feed_status(self, msg: FeedStatus) -> None:
        self.topbar.show_feed(msg.status, msg.label)

    def _busy(self, busy: bool) -> None:
        if self.live_feed is not None:
            self.live_feed.busy = busy

    def on_dag_view_open(self, msg) -> None:
        """Enter on a box of the drawn graph (``DagView.Open``; by name: the graph is imported when opened)."""
        self.actions.detail(msg.card_id)

    def on_dag_screen_card_action(self, msg) -> None:
        """``b u c o r`` on a box of the drawn graph (``DagScreen.CardAction``): on that card, by the board's
        one path of a status change (``Backlog.bulk``, recorded for undo)."""
        self.groom.status(msg.action, msg.card_id)

    @on(Kanban.Selected)
    def _selected(self, msg: Kanban.Selected) -> None:
        self.dependencies.follow(msg.card_id)

    @on(ShowCard)
    def _show_card(self, msg: ShowCard) -> None:
        self.kanban.select(msg.card_id)

    @on(Drawn)
    def _drawn(self) -> None:
        if not self.painted and self.kanban.drawn and self.stats_footer.drawn:
            self.painted = True
            self.call_after_refresh(self._first_paint)

    def _first_paint(self) -> None:
        # What exists now (the modules, the widgets, the first pages) lives as long as the board: out of the
        # cyclic collector's sight, so that its full collections (every few seconds while cards move) walk
        # only what came since: 130-200 ms with the interface stopped at 100,000 cards otherwise
        # (docs/performance/live.md).
        gc.freeze()
        out = os.environ.get("MOSAIC_BOARD_PAINTED")
        if out:  # the benchmark's probe: note the time of the first full paint, then leave
            with open(out, "w") as fh:
                fh.write(repr(time.time()))
            self.exit(0)

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        """The one path of every worker's failure: the banner, a refusal, or one line."""
        if event.state != WorkerState.ERROR:
            return
        kind, line = explain(event.worker.error, self.backlog.db.target)
        if kind == OFFLINE:
            if not self.refresher.lost(line) and event.worker.group == "action":
                self.notify(line, title="not done", severity="error", markup=False, timeout=6)
        else:
            self.notify(line, title="refused" if kind == REFUSED else "error", severity="error", markup=False, timeout=6)

    # -- the state others read (tests, the benchmarks) -----------------------------------------
    @property
    def columns(self):
        return self.kanban.columns

    @property
    def stats(self) -> dict | None:
        return self.stats_footer.stats

    @property
    def phase(self) -> str | None:
        return self.refresher.scope.phase

    @property
    def search(self) -> str | None:
        """The filter as text (None: none)."""
        return self.refresher.scope.filter_text() or None

    @property
    def generation(self) -> int:
        return self.refresher.generation

    @property
    def disconnected(self) -> str | None:
        return self.refresher.offline

    @property
    def feed_status(self) -> str:
        return self.topbar.feed

    def selected_card(self):
        return self.kanban.selected

    def focused_column(self):
        return self.kanban.focused_column()

    def check_for_changes(self) -> None:
        """Look for changes made by anyone since the last look (what the feed does on each commit)."""
        self.refresher.look()

    def set_scope(self, scope: Scope) -> None:
        self.refresher.reload(scope)

    # -- keys: the board screen owns them (screens/board.py); the palette offers the top screen's ---------
    def get_default_screen(self) -> Screen:
        return BoardScreen(id="board")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette: every action of the screen on top's key table."""
        yield from super().get_system_commands(screen)
        table = getattr(screen, "KEY_TABLE", None)  # the board's, the drawn graph's; a dialog has none
        for title, help_, callback in keys.palette(screen, table) if table is not None else ():
            yield SystemCommand(title, help_, callback)
