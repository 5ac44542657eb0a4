"""The board's filter (``/``) and saved views (``v``, ``1``-``9``): one query language
(:mod:`mosaic_tui.repository.query`, ``docs/query.md``) behind both.

:class:`FilterBar` is the box under the columns: enter applies the query, a bad one keeps the box
open with one line under it (``invalid query at column 8: expected a status ...``) and changes
nothing. :class:`ViewKeys` opens :class:`ViewsScreen`, the picker of saved views with what each
counts (read in a worker, again on each notice that brings events), or applies the n-th view.
"""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from mosaic_tui.board.changes import Changes
from mosaic_tui.board.jobs import Job
from mosaic_tui.board.draw.text import literal
from mosaic_tui.repository.query import QueryError
from mosaic_tui.repository.views import View, load

PLACEHOLDER = "filter: #label @owner status:ready phase:M1 priority>=2 age>2h -#docs \"text\" (docs/query.md; enter applies)"


class FilterBar(Vertical):
    """The filter box and, under it, the line saying what is wrong with the query typed."""

    DEFAULT_CSS = """
    FilterBar { height: auto; display: none; }
    FilterBar.shown { display: block; }
    FilterBar #filter-error { color: $error; text-style: bold; height: auto; display: none; padding: 0 1; }
    FilterBar #filter-error.shown { display: block; }
    """

    def __init__(self) -> None:
        super().__init__(id="filterbar")
        self.input = Input(placeholder=PLACEHOLDER, id="filter")
        self.error = Static("", id="filter-error")
        self._bad: str | None = None  # the text whose error is shown

    def compose(self) -> ComposeResult:
        yield self.input
        yield self.error

    def open(self, text: str) -> None:
        self.input.value = text
        self.show_error(None)
        self.add_class("shown")
        self.input.focus()

    def close(self) -> None:
        self.remove_class("shown")
        self.show_error(None)

    @property
    def error_text(self) -> str | None:
        return str(self.error.render()) if self.error.has_class("shown") else None

    def show_error(self, line: str | None) -> None:
        self.error.update(Text(literal(line or "")))
        self.error.set_class(line is not None, "shown")

    @on(Input.Submitted, "#filter")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        app = self.app
        try:
            scope = app.refresher.scope.with_filter(event.value)
        except QueryError as e:
            self._bad = event.value
            self.show_error(str(e))
            return
        self.close()
        app.kanban.focus_board()
        app.set_scope(scope)

    @on(Input.Changed, "#filter")
    def _edited(self, event: Input.Changed) -> None:
        # Only an edit clears it: a Changed of the typing that led to the error may arrive after it.
        if self.error.has_class("shown") and event.value != self._bad:
            self.show_error(None)


def count_views(backlog, phase: str | None, views: list[View] | None = None) -> tuple[list[View], list[int]]:
    """(views, how many cards each matches under ``phase``): in a worker (the files are read here too)."""
    views = load() if views is None else views
    return views, [backlog.count(phase=phase, where=v.node) for v in views]


class ViewsScreen(ModalScreen[View | None]):
    """The saved views, numbered, with what each counts now; enter or 1-9 applies one."""

    BINDINGS = [Binding("escape,v", "cancel", "Cancel"),
                *(Binding(str(n), f"pick({n})", show=False) for n in range(1, 10))]
    DEFAULT_CSS = """
    ViewsScreen { align: center middle; }
    ViewsScreen > Vertical { width: 96; height: auto; max-height: 80%; border: round $accent; background: $surface; padding: 0 1; }
    ViewsScreen OptionList { height: auto; max-height: 30; text-wrap: nowrap; text-overflow: ellipsis; }
    ViewsScreen #views-help { color: $text-muted; }
    """

    def __init__(self, views: list[View], counts: list[int], refresher, current: str | None) -> None:
        super().__init__()
        self.views, self.counts = views, counts
        self.refresher = refresher
        self.current = current
        self._job = Job(self, self._count, self._counted, group="views")

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text("Saved views", "bold"))
            yield OptionList(*self._options(), id="views-list")
            yield Label("enter or 1-9: show · escape: close · from .mosaic/views.toml, then the data dir's views.toml",
                        id="views-help")

    def _options(self) -> list[Option]:
        if not self.views:
            return [Option(Text("no saved views: see docs/query.md, Saved views", "italic"), id="none", disabled=True)]
        width = max(len(v.name) for v in self.views)
        out = []
        for i, (v, n) in enumerate(zip(self.views, self.counts, strict=True)):
            t = Text(f"{i + 1}" if i < 9 else " ", "bold", no_wrap=True, overflow="ellipsis")
            t.append(f"  {literal(v.name):<{min(width, 28)}}", "bold" if v.name == self.current else "")
            t.append(f" {n:>7,}", "cyan")
            t.append("  project" if v.source == "project" else "  user   ", "dim italic")
            t.append(f"  {v.order:<6}" if v.order else "        ", "dim")
            t.append(f"  {literal(v.query)}", "dim")  # last: a long query is cut, one line a view
            out.append(Option(t, id=str(i)))
        return out

    def on_mount(self) -> None:
        names = [v.name for v in self.views]
        if self.current in names:
            self.query_one(OptionList).highlighted = names.index(self.current)
        self.refresher.notices.subscribe(self, self._changed)

    def _changed(self, changes: Changes) -> None:
        if changes.events or changes.reload:
            self._job.ask()

    def _count(self, _want) -> list[int]:
        return count_views(self.refresher.backlog, self.refresher.scope.phase, self.views)[1]

    def _counted(self, counts: list[int]) -> None:
        if not self.is_attached or counts == self.counts:
            return
        self.counts = counts
        ol = self.query_one(OptionList)
        at = ol.highlighted
        ol.clear_options()
        ol.add_options(self._options())
        ol.highlighted = at

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        if event.option.id not in (None, "none"):
            self.dismiss(self.views[int(event.option.id)])

    def action_pick(self, n: int) -> None:
        if n <= len(self.views):
            self.dismiss(self.views[n - 1])

    def action_cancel(self) -> None:
        self.dismiss(None)


class ViewKeys:
    """``v`` and ``1``-``9`` on the board."""

    def __init__(self, app) -> None:
        self.app = app

    def picker(self) -> None:
        app = self.app
        scope = app.refresher.scope

        def show(got) -> None:
            views, counts = got
            app.push_screen(ViewsScreen(views, counts, app.refresher, scope.view), self.apply)

        app.actions.read_then(count_views, app.backlog, scope.phase, then=show)

    def nth(self, n: int) -> None:
        def chosen(views: list[View]) -> None:
            if n <= len(views):
                self.apply(views[n - 1])
            else:
                self.app.notify(f"no view {n}: {len(views)} saved (v lists them)", markup=False, timeout=4)

        self.app.actions.read_then(load, then=chosen)

    def apply(self, view: View | None) -> None:
        """Show ``view``: its query over the phase chosen with ``p``, and the ready column's order if it says."""
        if view is None:
            return
        app = self.app
        app.set_scope(replace(app.refresher.scope, query=view.node, view=view.name))
        if view.order is not None:
            app.kanban.sort_by_impact(view.order == "impact")


__all__ = ["FilterBar", "ViewKeys", "ViewsScreen", "count_views"]
