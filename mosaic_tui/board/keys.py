"""The one table of the board's keys.

Each row is what the help screen shows (``shown``, ``help``), the bindings
behind it (with ids, so a keymap can rebind them) and, for an action, its
title in the command palette. The board screen's and the columns' ``BINDINGS``, the
help screen, the palette and the table in ``docs/board.md`` are all made
from it (``python -m mosaic_tui.board.keys`` prints the docs' table; a test
checks the docs hold it). A pane or screen with keys of its own adds rows
with its own ``where`` and takes ``BINDINGS = bindings("its-name")``. A row
``where=EVERYWHERE`` (undo, redo) is bound on every screen of ``SCREENS`` and
stands in each one's table; its action is the screens' shared one
(:class:`~mosaic_tui.board.screens.board.EverywhereKeys`). No Textual widgets here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from textual.actions import parse
from textual.binding import Binding

BOARD, COLUMN = "board", "column"  # whose bindings: the board screen's, a card column's (more: one name per pane or screen)
GRAPH, GRAPH_VIEW = "graph", "graph-view"  # the drawn graph's (``g``): its screen's, or its view's
NOTE = "note"  # the note dialog's (``N``, ``B``)
EVERYWHERE = "everywhere"  # keys of every screen in ``SCREENS`` (undo, redo): one binding, one id, one action name
SCREENS = (BOARD, GRAPH)  # the full screens that act on the board's cards: each binds the ``EVERYWHERE`` keys


@dataclass(frozen=True)
class Key:
    shown: str  # the keys as a person reads them
    help: str  # what they do
    bindings: tuple[Binding, ...] = ()
    where: str = BOARD
    palette: str | None = None  # the command palette's title (None: not in the palette)


def _b(keys: str, action: str, label: str = "", *, show: bool = True, id: str | None = None) -> Binding:
    name = parse(action)[1]
    return Binding(keys, action, label, show=show and bool(label), id=id or f"board.{name}")


UNDO = Key("z", "undo the board's last action (refused if others changed it)", (_b("z", "undo", "Undo"),),
           where=EVERYWHERE, palette="Undo")
REDO = Key("Z", "redo what was undone", (_b("Z", "redo", "Redo", show=False),), where=EVERYWHERE, palette="Redo")

KEYS: tuple[Key, ...] = (
    Key("← → / h l", "move between columns",
        (_b("left,h", "column(-1)", "Column ←", show=False), _b("right,l", "column(1)", "Column →", show=False))),
    Key("↑ ↓ / k j", "move between cards (PgUp/PgDn, Home/End)", (
        _b("up,k", "cursor_up", "Up", show=False), _b("down,j", "cursor_down", "Down", show=False),
        _b("pageup", "page_up", "Page up", show=False), _b("pagedown", "page_down", "Page down", show=False),
        _b("home", "first", "First", show=False), _b("end", "last", "Last", show=False),
    ), where=COLUMN),
    Key("enter", "card detail: body, acceptance, dependencies, claim, labels, notes, history",
        (_b("enter", "detail", "Detail"),),
        palette="Card detail"),
    Key("b", "block the card", (_b("b", "status('block')", "Block", id="board.block"),), palette="Block card"),
    Key("B", "block the card with a reason (asks for it; the card's row shows its first line)",
        (_b("B", "block_reason", "Block+why", show=False),), palette="Block card with a reason"),
    Key("u", "unblock the card", (_b("u", "status('unblock')", "Unblock", id="board.unblock"),), palette="Unblock card"),
    Key("c", "complete the card", (_b("c", "status('complete')", "Complete", id="board.complete"),), palette="Complete card"),
    Key("o", "reopen a done card", (_b("o", "status('reopen')", "Reopen", id="board.reopen"),), palette="Reopen card"),
    Key("r", "release the card's claim", (_b("r", "status('release')", "Release", id="board.release"),), palette="Release claim"),
    Key("space", "mark / unmark (marked: b u c o r K J + - P L x y act on all)",
        (_b("space", "mark", "Mark", show=False),), palette="Mark / unmark card"),
    Key("M", "mark every card of the column (under the filter)", (_b("M", "mark_column", "Mark column", show=False),),
        palette="Mark the whole column"),
    Key("escape", "clear the marks", (_b("escape", "clear_marks", "Clear marks", show=False),), palette="Clear marks"),
    Key("K", "move the card one place up in claim order (by priority)",
        (_b("K", "move('up')", "Move up", show=False),), palette="Move card up"),
    Key("J", "move the card one place down in claim order", (_b("J", "move('down')", "Move down", show=False),),
        palette="Move card down"),
    Key("+", "raise the priority by one", (_b("plus", "priority(1)", "Priority +1", show=False),), palette="Raise priority"),
    Key("-", "lower the priority by one", (_b("minus", "priority(-1)", "Priority -1", show=False),), palette="Lower priority"),
    Key("P", "put the card in a phase (empty: none)", (_b("P", "set_phase", "Set phase", show=False),), palette="Set phase"),
    Key("L", "add / remove labels, e.g. +infra -docs (labels in use suggested)",
        (_b("L", "relabel", "Labels", show=False),), palette="Add / remove labels"),
    Key("x", "delete the card (asks first; can unlink its dependents)", (_b("x", "delete", "Delete", show=False),),
        palette="Delete card"),
    UNDO,
    REDO,
    Key("E", "edit the card as text in $VISUAL / $EDITOR", (_b("E", "editor", "Editor", show=False),),
        palette="Edit in $EDITOR"),
    Key("N", "add a note to the card's thread (several lines; ctrl+s saves, escape cancels)",
        (_b("N", "note", "Note", show=False),), palette="Add a note"),
    Key("ctrl+s", "in a note (N, B): save it", (_b("ctrl+s", "save", "Save", id="note.save"),), where=NOTE),
    Key("escape", "in a note (N, B): cancel, nothing written", (_b("escape", "cancel", "Cancel", id="note.cancel"),),
        where=NOTE),
    Key("y", "copy the card's id (marked: every id) to the clipboard",
        (_b("y", "copy_ids", "Copy id", show=False),), palette="Copy id"),
    Key("n", "new card", (_b("n", "new", "New"),), palette="New card"),
    Key("e", "edit title, body, phase, priority", (_b("e", "edit", "Edit"),), palette="Edit card"),
    Key("d", "add a dependency (pick a card by fuzzy search)", (_b("d", "link", "Dep+"),), palette="Add dependency"),
    Key("D", "remove a dependency", (_b("D", "unlink", "Dep−"),), palette="Remove dependency"),
    Key("/", "filter by a query, e.g. #infra @agent-1 -#docs age>2h",
        (_b("slash", "filter", "Filter"),), palette="Filter"),
    Key("v", "saved views, with their counts (enter or 1-9 shows one)", (_b("v", "views", "Views", show=False),),
        palette="Saved views"),
    Key("1-9", "show the first nine saved views", tuple(_b(str(n), f"view({n})", "", show=False, id=f"board.view{n}")
                                                      for n in range(1, 10))),
    Key("p", "choose a phase", (_b("p", "phase", "Phase"),), palette="Choose phase"),
    Key("\\", "show / hide the dependency pane (more room for titles)",
        (_b("backslash", "toggle('graphpane')", "Deps pane", show=False),), palette="Show / hide dependency pane"),
    Key("s", "sort the ready column by impact (what each card unlocks, most first) / back to claim order",
        (_b("s", "sort_impact", "Sort", show=False),), palette="Sort ready by impact"),
    Key("g", "full-screen graph of the phase / filter", (_b("g", "graph", "Graph"),), palette="Full-screen graph"),
    Key("a", "agents: who holds what, stale first (enter: their card)",
        (_b("a", "toggle('agents')", "Agents", show=False),), palette="Agents"),
    Key("f", "flow: cumulative flow, throughput, cycle and lead time (1 2 3: hour, day, week)",
        (_b("f", "flow", "Flow", show=False),), palette="Flow"),
    Key("t", "activity: every event, newest first, live (o: this agent, c: this card, H: heartbeats)",
        (_b("t", "activity", "Activity", show=False),), palette="Activity timeline"),
    Key("ctrl+p", "command palette: every action"),
    Key("?", "this help", (_b("question_mark", "help", "Help"),), palette="Help"),
    Key("q", "quit", (_b("q", "quit", "Quit"),)),
)


def _g(keys: str, action: str, label: str = "", *, show: bool = True) -> Binding:
    """A binding of the graph's, its id ``graph.<action>`` (``graph.left``, ``graph.complete``: the argument if any)."""
    _, name, args = parse(action)
    return _b(keys, action, label, show=show, id=f"graph.{args[0] if args else name}")


GRAPH_KEYS: tuple[Key, ...] = (  # the drawn graph (``g``): its own table, below the board's
    Key("← → / h l", "move between the boxes of a layer",
        (_g("left,h", "move('left')", "Left", show=False), _g("right,l", "move('right')", "Right", show=False)),
        where=GRAPH_VIEW),
    Key("↑ ↓ / k j", "move to the nearest box of the layer above / below",
        (_g("up,k", "move('up')", "Up", show=False), _g("down,j", "move('down')", "Down", show=False)), where=GRAPH_VIEW),
    Key("enter", "card detail of the selected box", (_g("enter", "open", "Detail"),), where=GRAPH_VIEW,
        palette="Card detail"),
    Key("b", "block the selected card", (_g("b", "card('block')", "Block"),), where=GRAPH, palette="Block card"),
    Key("u", "unblock the selected card", (_g("u", "card('unblock')", "Unblock"),), where=GRAPH, palette="Unblock card"),
    Key("c", "complete the selected card", (_g("c", "card('complete')", "Complete"),), where=GRAPH,
        palette="Complete card"),
    Key("o", "reopen the selected card", (_g("o", "card('reopen')", "Reopen"),), where=GRAPH, palette="Reopen card"),
    Key("r", "release the selected card's claim", (_g("r", "card('release')", "Release"),), where=GRAPH,
        palette="Release claim"),
    Key("v", "compact boxes (ids only) / full boxes", (_g("v", "compact", "Compact"),), where=GRAPH,
        palette="Compact graph"),
    UNDO,  # the board's own rows: the same bindings and ids, the same history
    REDO,
    Key("?", "these keys", (_g("question_mark", "help", "Help"),), where=GRAPH, palette="Help"),
    Key("esc / q / g", "back to the board", (_g("escape,q,g", "close", "Close"),), where=GRAPH, palette="Close graph"),
)


def bindings(where: str) -> list[Binding]:
    """The bindings of ``where`` (``BOARD``: the board screen's; ``COLUMN``: a card column's; ``GRAPH`` /
    ``GRAPH_VIEW``: the drawn graph's screen and view; ``NOTE``: the note dialog's), in its table's order;
    a screen of ``SCREENS`` also gets the ``EVERYWHERE`` rows of its table."""
    table = GRAPH_KEYS if where in (GRAPH, GRAPH_VIEW) else KEYS
    wanted = (where, EVERYWHERE) if where in SCREENS else (where,)
    return [b for key in table if key.where in wanted for b in key.bindings]


def palette(app, table: tuple[Key, ...] = KEYS) -> Iterator[tuple[str, str, Any]]:
    """(title, help, callback) for each action of ``table`` in the palette, the callback bound to ``app``
    (the screen that owns the table's actions: the board screen, the graph screen)."""
    for key in table:
        if key.palette and key.bindings:
            _, name, args = parse(key.bindings[0].action)
            yield key.palette, f"{key.help[:1].upper()}{key.help[1:]} ({key.shown})", partial(getattr(app, f"action_{name}"), *args)


def markdown_table(table: tuple[Key, ...] = KEYS) -> str:
    """A table of ``docs/board.md`` (the board's; ``GRAPH_KEYS``: the drawn graph's)."""
    rows = ["| key | action |", "|---|---|"]
    rows += [f"| `{key.shown}` | {key.help} |" for key in table]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
    print("\nThe drawn graph (`g`):\n")
    print(markdown_table(GRAPH_KEYS), end="")
