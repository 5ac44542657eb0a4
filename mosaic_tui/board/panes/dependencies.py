"""The dependency pane: what the selected card needs and unlocks, recursively (a pane).

It shows one card (``card_id``: the selected card, told by the app) and
reads it again when a notice changes a card it shows, or any edge
(links, edits, creations, deletions), or on a reload. One read at a time; a
newer card asked for meanwhile wins.
"""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from mosaic_tui.board.changes import EDGE_KINDS, Changes
from mosaic_tui.board.draw.graph_text import neighbourhood
from mosaic_tui.board.jobs import Job
from mosaic_tui.errors import NotFound

class DependencyPane(VerticalScroll):
    """The selected card's neighbourhood in the dependency graph."""

    def __init__(self, refresher, *, id: str = "graphpane") -> None:
        super().__init__(id=id)
        self.refresher = refresher
        self.card_id: str | None = None  # the card shown (or being read)
        self._ids: frozenset[str] = frozenset()  # the cards the pane shows
        self._lines = -1
        self._graph = Static(Text("select a card", "dim"), id="graph")
        self._job = Job(self, self._read, self._show, group="graph")

    def compose(self):
        yield self._graph

    def on_mount(self) -> None:
        self.border_title = "dependencies"
        self.refresher.notices.subscribe(self, self.changed)

    def toggle(self) -> bool:
        """Show or hide the pane (``\\``: room for the columns' titles); True when it is shown now."""
        self.display = not self.display
        return bool(self.display)

    def follow(self, card_id: str | None) -> None:
        """Show ``card_id`` (the selected card), unless it is shown already."""
        if card_id == self.card_id:
            return
        self.card_id = card_id
        if card_id is None:
            self._draw(Text("no card selected", "dim"))
        else:
            self._job.ask(card_id)

    def changed(self, changes: Changes) -> None:
        if self.card_id is not None and (
            changes.reload or not self._ids.isdisjoint(changes.cards) or any(e.kind in EDGE_KINDS for e in changes.events)
        ):
            self._job.ask(self.card_id)  # the graph shown holds a card that changed, or edges changed

    def _read(self, card_id: str) -> tuple[str, Text, frozenset[str]]:
        try:
            cards, edges = self.refresher.backlog.graph(card_id)
        except NotFound as exc:  # deleted meanwhile: say so in the pane
            return card_id, Text(str(exc), "dim"), frozenset({card_id})
        ids = frozenset(cards) | {d for edge in edges for d in edge} | {card_id}
        return card_id, neighbourhood(card_id, cards, edges), ids

    def _show(self, got: tuple[str, Text, frozenset[str]]) -> None:
        card_id, text, ids = got
        if card_id == self.card_id:
            self._ids = ids
            self._draw(text)

    def _draw(self, text: Text) -> None:
        """Update the pane; re-layout only when its height changes (a layout repaints the whole screen)."""
        lines = text.plain.count("\n")
        self._graph.update(text, layout=lines != self._lines)
        self._lines = lines
