"""What the grooming keys do: status changes, reorder, priority, phase, labels, delete and copy, on the
marked cards (or, with no marks, the selected one).

Every change is one call to the repository's grooming operations (``Backlog.bulk``,
``move_many``, ``shift_priority``, ``set_phase``, ``relabel``, ``delete``: one transaction each) in a worker.
Cards whose state refuses are left unchanged; the result is one notice
(``blocked 12 cards; 2 refused: M1-03 is done, …``). The change is recorded for undo
(:mod:`mosaic_tui.board.grooming.undo`), the refresher is told the events were the board's own, and the
board looks at once. The selected card stays selected when it moves (``select_next``).
"""

from __future__ import annotations

from collections.abc import Callable

from mosaic_tui.board.jobs import run_job
from mosaic_tui.board.draw.text import literal


STATUS_CHANGES = frozenset({"block", "unblock", "complete", "reopen", "release", "delete"})


def prompts():
    """The grooming dialogs, imported when first opened."""
    from mosaic_tui.board.grooming import prompts
    return prompts


class GroomKeys:
    """The grooming keys' actions (``b B u c o r``, ``K J + -``, ``P``, ``L``, ``x``, ``y``)."""

    def __init__(self, app) -> None:
        self.app = app
        self.backlog = app.backlog

    # -- what an action acts on --------------------------------------------------------
    def targets(self) -> tuple[list[str], dict[str, str]] | None:
        """The marked cards (ids, and the status each is shown in), else the selected card; None (and a
        word to the person) when there is neither."""
        marks = self.app.marks
        if marks:
            seen = marks.seen(self.app.kanban.columns.values())
            return marks.ids, seen
        card = self.app.kanban.selected_or_say()
        if card is None:
            return None
        return [card.id], {card.id: card.status}

    def apply(self, fn: Callable[[], object], ids: list[str], *, keep: str | None = None) -> None:
        """``fn()`` (a grooming operation returning a :class:`~mosaic_tui.repository.Result`) in a worker;
        then one notice, the change recorded for undo, the events marked as the board's own, a look.
        ``keep``: the selected card, kept under the cursor as the column reorders (unless it left the column)."""
        backlog = self.backlog

        def run():
            result = fn()
            return result, backlog.last_event_id()

        def done(got) -> None:
            result, own = got
            self.app.refresher.own([*ids, *result.unlinked], own)
            self.app.undo_keys.record(result)
            if keep is not None and (keep not in result.done or result.action not in STATUS_CHANGES):
                self.app.kanban.select_next = keep  # the cursor stays on the card (one that changed column: not followed)
            if result.action == "delete":
                self.app.marks.discard(result.done)
            self.say(result, len(ids))
            self.app.refresher.look()

        run_job(self.app, run, then=done, group="action")

    def say(self, result, asked: int) -> None:
        if not result.refused:
            self.app.notify(result.summary(), timeout=3, markup=False)
        elif asked == 1:
            self.app.notify(next(iter(result.refused.values())), title="refused", severity="error", timeout=6, markup=False)
        else:
            self.app.notify(result.summary(), title="some refused", severity="warning", timeout=8, markup=False)

    def _selected_id(self) -> str | None:
        card = self.app.kanban.selected
        return card.id if card is not None else None

    # -- the keys ------------------------------------------------------------------------------
    def status(self, verb: str, card_id: str | None = None) -> None:
        """``b u c o r``: block, unblock, complete, reopen, release -- the one path of a status change from
        every screen (always ``Backlog.bulk``, so always undoable with ``z``). ``card_id``: that card (the
        drawn graph's selected box), else the marked cards, else the board's selected one."""
        got = ([card_id], {}) if card_id is not None else self.targets()
        if got is not None:
            ids, _ = got
            self.apply(lambda: self.backlog.bulk(verb, ids), ids, keep=None if card_id is not None else self._selected_id())

    def block_with_reason(self) -> None:
        """``B``: ask why (several lines), then block the cards with that reason (a block note on each)."""
        got = self.targets()
        if got is None:
            return
        ids, _ = got
        what = literal(ids[0]) if len(ids) == 1 else f"{len(ids)} marked cards"

        def chosen(reason: str | None) -> None:
            if reason is not None:
                from mosaic_tui.repository import person

                self.apply(lambda: self.backlog.bulk("block", ids, reason=reason, author=person()), ids,
                           keep=self._selected_id())

        from mosaic_tui.board.screens.note import NoteScreen

        self.app.push_screen(NoteScreen(f"Block {what}: why?", what="the reason"), chosen)

    def move(self, direction: str) -> None:
        """``K`` / ``J``: one place up / down in claim order within the column (and the scope shown)."""
        got = self.targets()
        if got is not None:
            ids, seen = got
            scope = self.app.refresher.scope
            self.apply(lambda: self.backlog.move_many(ids, direction, seen=seen, **scope.filters), ids,
                       keep=self._selected_id())

    def priority(self, delta: int) -> None:
        """``+`` / ``-``: the priority up or down by one."""
        got = self.targets()
        if got is not None:
            ids, _ = got
            self.apply(lambda: self.backlog.shift_priority(ids, delta), ids, keep=self._selected_id())

    def set_phase(self) -> None:
        """``P``: ask for a phase (existing ones suggested; empty: none), then put the cards in it."""
        got = self.targets()
        if got is None:
            return
        ids, _ = got
        card = self.app.kanban.selected
        current = card.phase if card is not None and len(ids) == 1 else None
        what = literal(ids[0]) if len(ids) == 1 else f"{len(ids)} marked cards"

        def chosen(answer: tuple[str] | None) -> None:
            if answer is not None:
                self.apply(lambda: self.backlog.set_phase(ids, answer[0]), ids, keep=self._selected_id())

        run_job(self.app, self.backlog.phases, group="action", then=lambda phases: self.app.push_screen(
            prompts().AskPhase(f"phase for {what}", current, phases), chosen))

    def relabel(self) -> None:
        """``L``: ask for ``+name -name`` (labels in use suggested; a bad word is refused in the prompt,
        nothing written), then add and remove them on the cards."""
        got = self.targets()
        if got is None:
            return
        ids, _ = got
        what = literal(ids[0]) if len(ids) == 1 else f"{len(ids)} marked cards"

        def chosen(answer: tuple[list[str], list[str]] | None) -> None:
            if answer is not None:
                add, remove = answer
                self.apply(lambda: self.backlog.relabel(ids, add, remove), ids, keep=self._selected_id())

        def ask(found) -> None:
            in_use, current = found
            self.app.push_screen(prompts().AskLabels(f"labels of {what}", in_use, current), chosen)

        def read():
            return self.backlog.all_labels(), (self.backlog.labels(ids[:1])[ids[0]] if len(ids) == 1 else None)

        run_job(self.app, read, group="action", then=ask)

    def delete(self) -> None:
        """``x``: ask first (delete, or delete and unlink the cards that depend on them), then delete."""
        got = self.targets()
        if got is None:
            return
        ids, _ = got

        def chosen(answer: str | None) -> None:
            if answer in ("delete", "unlink"):
                self.apply(lambda: self.backlog.delete(ids, unlink_dependents=answer == "unlink"), ids)

        def ask(found) -> None:
            self.app.push_screen(prompts().ConfirmDelete(ids, found), chosen)

        run_job(self.app, self.backlog.get_many, ids, then=ask, group="action")

    def copy(self) -> None:
        """``y``: the id (marked: every id, one per line) to the clipboard (OSC 52: works over ssh, in tmux)."""
        got = self.targets()
        if got is not None:
            ids, _ = got
            self.app.copy_to_clipboard("\n".join(ids))
            said = literal(ids[0]) if len(ids) == 1 else f"{len(ids)} ids"
            self.app.notify(f"copied {said} to the clipboard", timeout=2, markup=False)
