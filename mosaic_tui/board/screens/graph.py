"""The full-screen dependency graph (``g``): the drawn DAG, the critical path named on top.

Fed with cards and edges as the repository gives them (``Backlog.list`` /
``get_many`` cards by id, ``Backlog.edges`` pairs ``(card, dependency)``;
:func:`read_graph` reads them for a scope);
:meth:`DagScreen.refresh_graph` redraws from new ones (a live change),
keeping the selection. The layout runs in a thread worker. Above
``DRAW_LIMIT`` cards it shows the layered list instead, and says so.

**Live** (given the board's refresher): it hears the notices like a pane,
and reads the graph again (a :class:`~mosaic_tui.board.jobs.Job`: one read
at a time; at most once a second, every five while the fleet is busy) on a
reload, a change to a card it shows (a heartbeat changes nothing drawn), or
an event that may change edges (``EDGE_KINDS``); what reads the same is not
drawn again.

What it says to the app (messages that bubble up to it):
``DagView.Open(card_id)`` on enter, :class:`DagScreen.CardAction` for the
card keys (``b u c o r``, only when the screen was made with
``card_keys=True``: the app then acts on the card). Its keys come from the
board's one key table (``keys.GRAPH_KEYS``); ``z`` / ``Z`` are the board's
undo and redo (``keys.EVERYWHERE``), the same history.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from mosaic_tui.board import keys
from mosaic_tui.board.changes import EDGE_KINDS, Changes
from mosaic_tui.board.draw.dag_view import GLYPH, STATUS_COLOUR, DagView, Scene, build_scene
from mosaic_tui.board.draw.graph_text import layered
from mosaic_tui.board.jobs import Job
from mosaic_tui.board.screens.board import EverywhereKeys
from mosaic_tui.board.draw.text import literal
from mosaic_tui.board.draw.textview import TextView

DRAW_LIMIT = 300  # more cards than this: the layered list (a drawing that large is not read, and lays out slowly)
READ_LIMIT = 2000  # at most this many cards of the scope are read (the list says how many more there are)
MIN_READ_S = 1.0  # live: at most one read a second...
BUSY_READ_S = 5.0  # ...or every five seconds while the fleet is busy
LEGEND = (f"{GLYPH['ready']} ready  {GLYPH['waiting']} waiting on a dependency  {GLYPH['claimed']} claimed  "
          f"{GLYPH['blocked']} blocked  {GLYPH['done']} done  {GLYPH[None]} no such card\n"
          "Magenta: the critical path, the longest chain of unfinished work.\n"
          "Heavy box: the selection; what it needs and unlocks is lit, the rest dimmed.\n"
          "Lines run down from a dependency to the card that needs it (▼).")


def read_graph(backlog, scope, limit: int = READ_LIMIT) -> tuple[dict[str, Any], list[tuple[str, str]], str, int]:
    """The graph of ``scope`` (phase, filter): ``(cards by id, edges (card, dependency), title, cards not read)``.

    The scope's first ``limit`` cards in claim order, and the cards outside it that they depend on."""
    total = backlog.count(**scope.filters)
    cards = {c.id: c for c in backlog.list(**scope.filters, limit=limit)}
    edges = backlog.edges(list(cards)) if cards else []
    cards.update(backlog.get_many({d for _, d in edges if d not in cards}))
    where = f"phase {literal(scope.phase)}" if scope.phase else "all phases"
    if scope.query is not None:
        where += f', filter "{literal(scope.filter_text())}"'
    return cards, edges, f"Dependency graph · {where}", max(0, total - limit)


def _drawn(cards: dict[str, Any], edges: list[tuple[str, str]], truncated: int) -> tuple:
    """What of the data the screen draws (a new read equal to it draws nothing)."""
    return frozenset((c.id, c.title, c.status, c.claim_owner) for c in cards.values()), frozenset(edges), truncated


class _Built(Message):
    """A scene laid out in the worker, for the data of ``generation``."""

    def __init__(self, scene: Scene, generation: int) -> None:
        super().__init__()
        self.scene = scene
        self.generation = generation


class DagScreen(EverywhereKeys, Screen[None]):
    """The graph of the current phase or filter, drawn; the critical path lit."""

    BINDINGS = keys.bindings(keys.GRAPH)  # b u c o r, v, z Z, ?, escape / q / g: from the board's one key table
    KEY_TABLE = keys.GRAPH_KEYS  # the palette and the help on this screen
    DEFAULT_CSS = """
    DagScreen #dag-title { height: 1; text-style: bold; text-wrap: nowrap; text-overflow: ellipsis; }
    DagScreen #dag-critical { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    DagScreen #dag-info { height: 1; background: $panel; text-wrap: nowrap; text-overflow: ellipsis; }
    DagScreen #dag-list { height: 1fr; display: none; }
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
        refresher=None,
    ) -> None:
        """``select``: the card to start on (else the critical path's first); ``card_keys``: post
        :class:`CardAction` for ``b u c o r``; ``refresher``: follow its notices (live)."""
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
        self._drawn: tuple = ()
        self._ids: frozenset[str] = frozenset()  # the cards drawn (dependencies naming no card too)
        self.view = DagView(id="dag")
        self.refresher = refresher
        self._scope = refresher.scope if refresher is not None else None
        self._job = Job(self, self._read, self._reread, group="dag") if refresher is not None else None
        self._stale = False  # a notice asked for a read not made yet
        self._last_read = time.monotonic()  # the data given counts as a read
        self._later = False

    def compose(self) -> ComposeResult:
        yield Static(id="dag-title")
        yield Static(id="dag-critical")
        yield self.view
        yield TextView(id="dag-list")
        yield Static(id="dag-info")
        yield Footer()

    def on_mount(self) -> None:
        if self.refresher is not None:
            self.refresher.notices.subscribe(self, self.changed)
        self.refresh_graph(self.cards, self.edges)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The card keys only when the app asked for them; nothing on boxes while the list is shown; ``z`` ``Z``
        as on the board (:class:`~mosaic_tui.board.screens.board.EverywhereKeys`)."""
        everywhere = self.everywhere(action)
        if everywhere is not None:
            return everywhere
        if action == "card":
            return self.card_keys and not self.has_class("listed")
        if action in ("compact", "open"):
            return not self.has_class("listed")
        return True

    # -- data in ----------------------------------------------------------------------
    def refresh_graph(self, cards: dict[str, Any], edges: list[tuple[str, str]], *, truncated: int | None = None) -> None:
        """Redraw from these cards and edges (``(card, dependency)``), keeping the selection."""
        self.cards = cards
        self.edges = edges
        if truncated is not None:
            self.truncated = truncated
        self._drawn = _drawn(cards, edges, self.truncated)
        self._ids = frozenset(cards) | {i for edge in edges for i in edge}
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
        self.query_one("#dag-list", TextView).set_text(
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

    # -- live ------------------------------------------------------------------------
    def changed(self, changes: Changes) -> None:
        """A notice: read again when it may change what is drawn."""
        if changes.reload or any(
            ev.kind in EDGE_KINDS or (ev.card_id in self._ids and ev.kind != "heartbeat") for ev in changes.events
        ):
            self._scope = changes.scope
            self._stale = True
            own = len(changes.others) < len(changes.events)  # a key of this board's: show it at once
            self._ask(0.0 if own else BUSY_READ_S if changes.busy else MIN_READ_S)

    def _ask(self, every: float = MIN_READ_S) -> None:
        wait = self._last_read + every - time.monotonic()
        if wait <= 0:
            self._stale = False
            self._last_read = time.monotonic()
            self._job.ask(self._scope)
        elif not self._later:
            self._later = True
            self.set_timer(wait, self._asked_later)

    def _asked_later(self) -> None:
        self._later = False
        if self._stale:
            self._ask()

    def _read(self, scope) -> tuple:
        return read_graph(self.refresher.backlog, scope)

    def _reread(self, got: tuple) -> None:
        cards, edges, _title, truncated = got
        if self.is_attached and _drawn(cards, edges, truncated) != self._drawn:
            self.refresh_graph(cards, edges, truncated=truncated)

    # -- what the selection says --------------------------------------------------------
    @on(DagView.Selected)
    def _selected(self, msg: DagView.Selected) -> None:
        scene = self.view.scene
        self.query_one("#dag-info", Static).update(info_line(scene, msg.card_id) if scene else Text(), layout=False)

    # -- keys -------------------------------------------------------------------------
    def action_close(self) -> None:
        self.dismiss(None)

    def action_compact(self) -> None:
        if not self.check_action("compact", ()):
            return  # from the palette, which does not ask
        self.compact = not self.compact
        self._prefer = self.view.selected
        self._build(self.compact)

    def action_card(self, action: str) -> None:
        if self.view.selected is not None and self.check_action("card", (action,)):
            self.post_message(self.CardAction(action, self.view.selected))

    def action_open(self) -> None:
        """The palette's "Card detail" (enter on the view)."""
        if self.check_action("open", ()):
            self.view.action_open()

    def action_help(self) -> None:
        from mosaic_tui.board.screens.dialogs import HelpScreen

        self.app.push_screen(HelpScreen(self.KEY_TABLE, title="Keys of the drawn graph", notes=LEGEND))


def critical_line(scene: Scene) -> Text:
    """``critical path: 7 cards via M1-04 → M1-05 → …`` (cut to the width by the widget); with several
    phases drawn, each has its own (all lit): ``critical path (M1): 7 cards · M2 3 · M3 5 · via M1-04 → …``."""
    chain = scene.analysis.critical
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append("critical path", "bold magenta")
    if not chain:
        t.append(": ", "bold magenta")
        t.append("none (nothing unfinished)", "dim")
        return t
    others = [(k, len(v)) for k, v in scene.paths.items() if v is not chain and v]
    if others:
        phase = next(k for k, v in scene.paths.items() if v is chain)
        t.append(f" ({literal(phase) if phase is not None else 'no phase'})", "bold magenta")
    t.append(": ", "bold magenta")
    t.append(f"{len(chain)} card{'s' if len(chain) != 1 else ''}")
    for k, n in sorted(others, key=lambda kn: -kn[1]):
        t.append(f" · {literal(k) if k is not None else 'no phase'} {n}", "magenta")
    t.append(" via ")
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
    if card_id in scene.critical_set:
        t.append(" · on the critical path" + (f" of {literal(n.phase)}" if n.phase and len(scene.paths) > 1 else ""),
                 "magenta")
    return t
