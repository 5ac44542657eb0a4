"""What the keys do to cards: the actions and their dialogs.

Every write goes through the repository in a worker (:func:`run_job`); the
repository decides, and a refusal reaches the person through the one error
path (``refused: ...``), an outage as the disconnected banner. After a write
the board looks for changes at once, and the refresher is told which events
were the board's own (they are not announced as someone else's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

from mosaic_tui.board.jobs import run_job
from mosaic_tui.board.draw.text import literal


def dialogs():
    """The dialogs, imported when first opened (Markdown and TextArea cost a first paint ~50 ms)."""
    from mosaic_tui.board.screens import dialogs

    return dialogs


class CardActions:
    """The board's dialogs on the selected card (detail, edit, dependencies), new cards, the phase, the
    whole graph. Status changes are the grooming path's (:meth:`GroomKeys.status`), from every screen."""

    def __init__(self, app) -> None:
        self.app = app
        self.backlog = app.backlog
        self._opening = False  # a dialog's read is in flight: the same key pressed again opens nothing more

    # -- helpers -----------------------------------------------------------------------
    def write(self, note: str, fn: Callable[[], Any], card_ids: Iterable[str], focus: str | None = None) -> None:
        """``fn()`` in a worker; then say ``note``, mark the board's own events, look for changes. A
        grooming result (``update_card``'s) is recorded for undo (``z``)."""
        card_ids = list(card_ids)

        def run() -> tuple[Any, int]:
            return fn(), self.backlog.last_event_id()

        def done(got: tuple[Any, int]) -> None:
            result, own = got
            self.app.undo_keys.record(result)
            self.app.refresher.own(card_ids, own)
            if focus is not None:
                self.app.kanban.select_next = focus
            self.app.notify(note, timeout=3, markup=False)
            self.app.refresher.look()

        run_job(self.app, run, then=done, group="action")

    def _deps(self, card_id: str, *, add: str | None = None, drop: str | None = None):
        """Add or remove one dependency as an undoable edit (``update_card``): the card's dependencies as
        they are now, plus or minus one (linking twice changes nothing; a cycle is refused)."""
        card = self.backlog.get(card_id)
        deps = list(card.depends_on)
        if add is not None and add not in deps:
            deps.append(add)
        if drop is not None:
            deps = [d for d in deps if d != drop]
        return self.backlog.update_card(card_id, expected_updated_at=card.updated_at, depends_on=deps)

    def read_then(self, read: Callable[..., Any], *args: Any, then: Callable[[Any], None]) -> None:
        """Read for a dialog in a worker, then open it; while one is being read, another key that opens a
        dialog does nothing (``g g`` pressed fast opens one graph)."""
        if self._opening:
            return
        self._opening = True

        def opened(got: Any) -> None:
            self._opening = False
            then(got)

        def failed() -> None:
            self._opening = False

        run_job(self.app, read, *args, then=opened, failed=failed, group="action")

    # -- dialogs ----------------------------------------------------------------------------
    def new(self) -> None:
        def made(v: dict | None) -> None:
            if v is not None:
                self.write(f"{v['id']} created", lambda: self.backlog.create(
                    v["id"], v["title"], body=v["body"], phase=v["phase"], priority=v["priority"]), [v["id"]], focus=v["id"])

        self.app.push_screen(dialogs().CardForm(None, phase=self.app.refresher.scope.phase), made)

    def edit(self) -> None:
        card = self.app.kanban.selected_or_say()
        if card is None:
            return
        seen = card.updated_at

        def edited(v: dict | None) -> None:
            if v is not None:
                self.write(f"{card.id} saved", lambda: self.backlog.update_card(
                    card.id, expected_updated_at=seen, title=v["title"], body=v["body"], phase=v["phase"],
                    priority=v["priority"]), [card.id], focus=card.id)

        self.app.push_screen(dialogs().CardForm(card), edited)

    def link(self) -> None:
        card = self.app.kanban.selected_or_say()
        if card is None:
            return

        def picked(dep: str | None) -> None:
            if dep:
                self.write(f"{card.id} now depends on {dep}", lambda: self._deps(card.id, add=dep), [card.id])

        self.app.push_screen(dialogs().PickCardScreen(self.backlog, f"{literal(card.id)} depends on…", exclude={card.id, *card.depends_on}), picked)

    def unlink(self) -> None:
        card = self.app.kanban.selected_or_say()
        if card is None:
            return
        if not card.depends_on:
            self.app.notify(f"{card.id} has no dependencies to remove", severity="warning", markup=False)
            return

        def picked(dep: str | None) -> None:
            if dep:
                self.write(f"{card.id} no longer depends on {dep}", lambda: self._deps(card.id, drop=dep), [card.id])

        def ask(found: dict) -> None:
            choices = [found.get(d) or SimpleNamespace(id=d, title="(no such card)", status="missing") for d in card.depends_on]
            self.app.push_screen(dialogs().PickCardScreen(self.backlog, f"remove a dependency of {literal(card.id)}", choices=choices), picked)

        self.read_then(self.backlog.get_many, card.depends_on, then=ask)

    def detail(self, card_id: str | None = None) -> None:
        """The detail of ``card_id`` (the drawn graph's selection), else of the board's selected card."""
        if card_id is None:
            card = self.app.kanban.selected_or_say()
            if card is None:
                return
            card_id = card.id
        b = self.backlog

        def read(card_id: str):
            v = b.view(card_id)  # the card, its labels and latest notes (what `show` shows)
            return v, b.get_many(v.card.depends_on), b.events(card=card_id)

        def show(got) -> None:
            v, deps, events = got
            self.app.push_screen(dialogs().DetailScreen(v.card, deps, events, self.app.clock(), self.app.keystones.current,
                                                        thread=(v.notes, v.note_count), labels=v.labels))

        self.read_then(read, card_id, then=show)

    def note(self) -> None:
        """``N``: a note on the selected card (several lines), by the person at the board."""
        card = self.app.kanban.selected_or_say()
        if card is None:
            return
        from mosaic_tui.board.screens.note import NoteScreen
        from mosaic_tui.repository import person

        def written(text: str | None) -> None:
            if text is not None:
                self.write(f"note added to {card.id}", lambda: self.backlog.note(card.id, text, author=person()),
                           [card.id])

        self.app.push_screen(NoteScreen(f"Note on {literal(card.id)}  {literal(card.title)}"), written)

    def phase(self) -> None:
        def chosen(v: tuple | None) -> None:
            if v is not None:
                self.app.set_scope(replace(self.app.refresher.scope, phase=v[0]))

        self.read_then(self.backlog.phases, then=lambda phases: self.app.push_screen(
            dialogs().PhaseScreen(phases, self.app.refresher.scope.phase), chosen))

    def graph(self) -> None:
        """The drawn graph of the scope, on the selected card, live, the card keys acting on its selection
        (the screen is imported when first opened, as the dialogs are)."""
        from mosaic_tui.board.screens import graph as graph_screen
        selected = self.app.kanban.selected
        refresher = self.app.refresher

        def show(got) -> None:
            cards, edges, title, truncated = got
            self.app.push_screen(graph_screen.DagScreen(
                cards, edges, title=title, truncated=truncated, select=selected.id if selected else None,
                card_keys=True, refresher=refresher))

        self.read_then(graph_screen.read_graph, self.backlog, refresher.scope, then=show)
