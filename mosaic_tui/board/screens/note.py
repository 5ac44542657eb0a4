"""A card's thread of notes on the board: drawn in the card detail, written with ``N`` (a note) or
``B`` (a block reason).

:func:`thread` draws the notes, newest last, each with its time, its author
(``system`` for the backlog's own) and its kind when it is not a plain note
(``block``, ``release``, ``complete``), the text escaped (control and escape
sequences shown, never interpreted). :class:`NoteScreen` asks for a text of
several lines; its keys are the key table's (``ctrl+s`` saves, ``escape``
cancels), and the text is checked as the repository will check it (not empty,
at most 16 KiB) before the dialog closes, so a refusal is said in place.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, TextArea

from mosaic_tui.board.keys import NOTE, bindings
from mosaic_tui.board.draw.text import literal, literal_block
from mosaic_tui.board.screens.form import CheckedForm

KIND_STYLE = {"block": "bold red", "release": "magenta", "complete": "bold green", "system": "yellow"}


def thread(notes, total: int) -> Text:
    """The thread as text: ``2026-12-07 10:04  ann  block`` then the text, indented; newest last."""
    t = Text()
    if total > len(notes):
        t.append(f"  {total - len(notes):,} older notes not shown (mosaic-tui notes ID shows them all)\n", "dim")
    for n in notes:
        t.append(f"  {n.at:%Y-%m-%d %H:%M}  ", "dim")
        t.append(literal(n.author) if n.author else "system", "bold" if n.author else "yellow")
        if n.kind != "note" and (n.author or n.kind != "system"):  # "system system" says it once
            t.append(f"  {n.kind}", KIND_STYLE.get(n.kind, ""))
        t.append("\n")
        for line in literal_block(n.body.rstrip("\r\n")).split("\n"):
            t.append(f"    {line}\n")
    if not notes:
        t.append("  no notes (N adds one)\n", "dim")
    return t


class NoteScreen(CheckedForm[str | None]):
    """Ask for a note's text: the text (``ctrl+s``), or None (``escape``)."""

    BINDINGS = bindings(NOTE)
    DEFAULT_CSS = """
    NoteScreen { align: center middle; }
    NoteScreen > Vertical { width: 80; height: auto; max-height: 90%; border: round $accent; background: $surface; padding: 0 1; }
    NoteScreen TextArea { height: 10; }
    NoteScreen #error { color: $error; }
    NoteScreen Horizontal { height: auto; }
    NoteScreen Button { margin-right: 1; }
    """

    def __init__(self, title: str, *, what: str = "note") -> None:
        super().__init__()
        self.heading = title
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self.heading, "bold"))
            yield TextArea("", id="text", soft_wrap=True)
            yield Label(Text("several lines welcome · ctrl+s saves · escape cancels", "dim"))
            yield from self.ending()

    def on_mount(self) -> None:
        self.query_one("#text", TextArea).focus()

    def checked(self) -> str:
        """The text, checked as the repository will check a note (not empty, at most 16 KiB)."""
        from mosaic_tui.repository import check_note

        text = self.query_one("#text", TextArea).text
        check_note(text, self.what)
        return text
