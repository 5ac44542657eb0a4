"""The full-screen dependency graph (``g``): the drawn DAG, the critical path named on top.

Fed with cards and edges as the repository gives them (``Backlog.list`` /
``get_many`` cards by id, ``Backlog.edges`` pairs ``(card, dependency)``);
:meth:`DagScreen.refresh_graph` redraws from new ones (a live change),
keeping the selection. The layout runs in a thread worker. Above
``DRAW_LIMIT`` cards it shows today's layered list instead, and says so.

What it says to the app (messages that bubble up to it):
``DagView.Open(card_id)`` on enter, :class:`DagScreen.CardAction` for the
card keys (``b u c o r``, only when the screen was made with
``card_keys=True``: the app then acts on the card).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from mosaic_tui.board.dag_view import STATUS_COLOUR, DagView, Scene, build_scene
from mosaic_tui.board.graph import layered
from mosaic_tui.board.text import literal

DRAW_LIMIT = 300  # more cards than this: the layered list (a drawing that large is not read, and lays out slowly)
CARD_KEYS = {"b": "block", "u": "unblock", "c": "complete", "o": "reopen", "r": "release"}


class _Built(Message):
    """A scene laid out in the worker, for the data of ``generation``."""

    def __init__(self, scene: Scene, generation: int) -> None:
        super().__init__()
        self.scene = scene
        self.generation = generation


class DagScreen(Screen[None]):
    """The graph of the current phase or filter, drawn; the critical path lit."""

    BINDINGS = [
        Binding("escape,q,g", "close", "Close"),
        Binding("v", "compact", "Compact"),
        *[Binding(k, f"card('{a}')", a.capitalize()) for k, a in CARD_KEYS.items()],
    ]
    DEFAULT_CSS = """
    DagScreen #dag-title { height: 1; text-style: bold; text-wrap: nowrap; text-overflow: ellipsis; }
    DagScreen #dag-critical { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    DagScreen #dag-info { height: 1; background: $panel; text-wrap: nowrap; text-overflow: ellipsis; }
    DagScreen #dag-list { height: 1fr; display: none; }
    DagScreen #dag-list Static { width: auto; text-wrap: nowrap; }
    DagScreen.listed #dag-list { display: block; }
    DagScreen.listed DagView { display: none; }
    """

    class CardAction(Message):
        """A card key on the selected card: ``action`` is block, unblock, complete, reopen or release."""

        def __init__(self, action: str, card_id: str) -> None:
            super().__init__()
            self.action = action
            self.card_id = card_id

    def __init__(
        self,
        cards: dict[str, Any],
        edges: list[tuple[str, str]],
        *,
        title: str = "Dependency graph",
        truncated: int = 0,
        select: str | None = None,
        card_keys: bool = False,
    ) -> None:
        super().__init__()
        self.cards = cards
        self.edges = edges
        self.title_text = title
        self.truncated = truncated
        self.compact = False
        self.card_keys = card_keys
        self._prefer = select
        self._generation = 0
        self._scenes: dict[bool, Scene] = {}  # per mode, for the current data
        self.view = DagView(id="dag")

    def compose(self) -> ComposeResult:
        yield Static(id="dag-title")
        yield Static(id="dag-critical")
        yield self.view
        with VerticalScroll(id="dag-list", can_focus=True):
            yield Static(id="dag-list-text")
        yield Static(id="dag-info")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_graph(self.cards, self.edges)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "card":
            return self.card_keys and not self.has_class("listed")
        if action == "compact":
            return not self.has_class("listed")
        return True

    # -- data in ----------------------------------------------------------------------
    def refresh_graph(self, cards: dict[str, Any], edges: list[tuple[str, str]], *, truncated: int | None = None) -> None:
        """Redraw from these cards and edges (``(card, dependency)``), keeping the selection."""
        self.cards = cards
        self.edges = edges
        if truncated is not None:
            self.truncated = truncated
        self._generation += 1
        self._scenes = {}
        total = len(cards) + self.truncated
        self.query_one("#dag-title", Static).update(self._title(total), layout=False)
        if len(cards) > DRAW_LIMIT or self.truncated:
            self._show_list(total)
            return
        self.remove_class("listed")
        self._build(self.compact)

    def _title(self, total: int) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(self.title_text, "bold")
        t.append(f" · {total:,} card{'s' if total != 1 else ''} · dependencies above dependents", "dim")
        return t

    def _show_list(self, total: int) -> None:
        self.add_class("listed")
        note = f"{total:,} cards: more than {DRAW_LIMIT} to draw, so the graph is listed by layer"
        self.query_one("#dag-critical", Static).update(Text(note, "bold yellow"), layout=False)
        self.query_one("#dag-list-text", Static).update(
            layered(self.cards, self.edges, title=self.title_text, truncated=self.truncated)
        )
        self.query_one("#dag-info", Static).update(Text("escape: close", "dim"), layout=False)
        self.query_one("#dag-list").focus()

    def _build(self, compact: bool) -> None:
        scene = self._scenes.get(compact)
        if scene is not None:
            self._apply(scene)
            return
        gen = self._generation
        cards, edges = self.cards, self.edges

        def work() -> None:
            scene = build_scene(cards, edges, compact=compact)
            self.post_message(_Built(scene, gen))

        self.run_worker(work, thread=True, exclusive=True, group="dag-layout")

    @on(_Built)
    def _built(self, msg: _Built) -> None:
        if msg.generation != self._generation:
            return  # data changed meanwhile: a newer build follows
        self._scenes[msg.scene.compact] = msg.scene
        if msg.scene.compact == self.compact:
            self._apply(msg.scene)

    def _apply(self, scene: Scene) -> None:
        self.view.show(scene, prefer=self._prefer)
        self._prefer = None
        self.query_one("#dag-critical", Static).update(critical_line(scene), layout=False)
        self.view.focus()

    # -- what the selection says --------------------------------------------------------
    @on(DagView.Selected)
    def _selected(self, msg: DagView.Selected) -> None:
        scene = self.view.scene
        self.query_one("#dag-info", Static).update(info_line(scene, msg.card_id) if scene else Text(), layout=False)

    # -- keys -------------------------------------------------------------------------
    def action_close(self) -> None:
        self.dismiss(None)

    def action_compact(self) -> None:
        self.compact = not self.compact
        self._prefer = self.view.selected
        self._build(self.compact)

    def action_card(self, action: str) -> None:
        if self.view.selected is not None:
            self.post_message(self.CardAction(action, self.view.selected))


def critical_line(scene: Scene) -> Text:
    """``critical path: 7 cards via M1-04 → M1-05 → …`` (cut to the width by the widget)."""
    chain = scene.analysis.critical
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append("critical path: ", "bold magenta")
    if not chain:
        t.append("none (nothing unfinished)", "dim")
        return t
    t.append(f"{len(chain)} card{'s' if len(chain) != 1 else ''} via ")
    for i, cid in enumerate(chain):
        if i:
            t.append(" → ", "dim")
        t.append(literal(cid), "bold magenta")
    return t


def info_line(scene: Scene, card_id: str | None) -> Text:
    """The selected card: glyph, id, status, title, owner, what it unlocks and the unfinished cards it needs."""
    t = Text(no_wrap=True, overflow="ellipsis")
    if card_id is None:
        t.append("no cards", "dim")
        return t
    n = scene.nodes[card_id]
    colour = STATUS_COLOUR.get(n.status, "bright_red")
    t.append(f"{n.glyph} ", colour)
    t.append(literal(n.id), "bold")
    t.append(f" {n.status or 'missing'}", colour)
    if n.status == "claimed" and n.owner:
        t.append(f" @{literal(n.owner)}", "green")
    t.append("  " + literal(n.title))
    unlocks = scene.analysis.unlocks.get(card_id)
    if unlocks:
        t.append(f" · unlocks {unlocks}", "bold")
    waits = [d for d in scene.up.get(card_id, []) if scene.nodes[d].status != "done"]
    if waits and n.status != "done":
        t.append(" · waits on ", "dim")
        t.append(", ".join(literal(d) for d in waits), "bold red")
    if card_id in scene.analysis.critical:
        t.append(" · on the critical path", "magenta")
    return t
