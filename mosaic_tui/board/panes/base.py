"""What the board's panes have in common: how they hear changes, load and draw, and the two things
they may say to the app.

A pane is a widget in a module of its own. On mount it subscribes to the
refresher's notices (``refresher.notices.subscribe(self, self.changed)``);
``changed(changes)`` decides, on the interface thread, whether the notice
concerns it; if so it asks its :class:`~mosaic_tui.board.jobs.Job` to read
(in a worker, one read at a time) and draws the result on the interface
thread. A failed read goes to the app's one error path by itself. Adding a
pane is its module and one line in ``BoardApp.compose``.
"""

from __future__ import annotations

from textual.message import Message


class Drawn(Message):
    """A pane has drawn its first full picture (the app notes the board's first paint)."""

    def __init__(self, pane) -> None:
        super().__init__()
        self.pane = pane


class ShowCard(Message):
    """Select this card on the board (the kanban puts its cursor there)."""

    def __init__(self, card_id: str) -> None:
        super().__init__()
        self.card_id = card_id
