"""Marked cards: the selection the grooming keys act on (space, ``M``, escape).

:class:`Marks` is the set of marked card ids, each with the status it was seen in (kept up to
date from the columns when an action asks, see :meth:`Marks.seen`); the columns draw a mark
(``●``) in a marked card's row, the stats footer counts them. :class:`MarkKeys` is what the keys
do: ``space`` marks / unmarks the selected card, ``M`` marks every card of the focused column
under the current scope (read in a worker: the column may hold more than its loaded pages),
``escape`` clears. Marks stay after an action, so several can follow on the same cards; a card
deleted by the board is unmarked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from mosaic_tui.board.jobs import run_job

MARK = "●"


class Marks:
    """Marked card ids (in the order marked) and the status each was seen in."""

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}
        self._listeners: list[Callable[[Iterable[str]], None]] = []

    def __contains__(self, card_id: object) -> bool:
        return card_id in self._seen

    def __len__(self) -> int:
        return len(self._seen)

    def __bool__(self) -> bool:
        return bool(self._seen)

    @property
    def ids(self) -> list[str]:
        return list(self._seen)

    def listen(self, fn: Callable[[Iterable[str]], None]) -> None:
        """``fn(ids)`` after every change, with the ids whose mark changed (to redraw their rows)."""
        self._listeners.append(fn)

    def _told(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        for fn in self._listeners:
            fn(ids)

    def toggle(self, card_id: str, status: str) -> bool:
        """Mark or unmark one card; True when it is marked now."""
        if card_id in self._seen:
            del self._seen[card_id]
            self._told([card_id])
            return False
        self._seen[card_id] = status
        self._told([card_id])
        return True

    def add(self, cards: Iterable[tuple[str, str]]) -> int:
        """Mark ``(id, status)`` pairs; how many were not marked before."""
        new = [(i, s) for i, s in cards if i not in self._seen]
        self._seen.update(new)
        self._told(i for i, _ in new)
        return len(new)

    def discard(self, ids: Iterable[str]) -> None:
        gone = [i for i in ids if self._seen.pop(i, None) is not None]
        if gone:
            self._told(gone)

    def clear(self) -> int:
        n, ids = len(self._seen), list(self._seen)
        self._seen.clear()
        if ids:
            self._told(ids)
        return n

    def seen(self, columns) -> dict[str, str]:
        """Each marked card's status as the board shows it now (the column holding it), else as marked."""
        out = dict(self._seen)
        for col in columns:
            for card_id in out:
                if card_id in col.index:
                    out[card_id] = col.status
        self._seen.update(out)
        return out


class MarkKeys:
    """``space``, ``M`` and ``escape`` on the board."""

    def __init__(self, app, marks: Marks) -> None:
        self.app = app
        self.marks = marks

    def toggle(self) -> None:
        card = self.app.kanban.selected_or_say()
        if card is None:
            return
        self.marks.toggle(card.id, card.status)
        col = self.app.kanban.focused_column()
        if col is not None:
            col.action_cursor_down()  # on to the next card, as file managers do

    def mark_column(self) -> None:
        col = self.app.kanban.focused_column()
        if col is None:
            return
        status, scope = col.status, self.app.refresher.scope
        read = self.app.backlog.list

        def ids() -> list[tuple[str, str]]:
            return [(c.id, c.status) for c in read(status=status, **scope.filters)]

        def done(cards: list[tuple[str, str]]) -> None:
            added = self.marks.add(cards)
            self.app.notify(f"marked {added} more card{'s' if added != 1 else ''} in {status} ({len(self.marks)} marked)",
                            timeout=3, markup=False)

        run_job(self.app, ids, then=done, group="action")

    def clear(self) -> None:
        n = self.marks.clear()
        if n:
            self.app.notify(f"cleared {n} mark{'s' if n != 1 else ''}", timeout=2)
