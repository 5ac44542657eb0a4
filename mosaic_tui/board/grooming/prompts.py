"""The grooming dialogs: confirm a delete (``x``), ask for a phase (``P``)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Static

from mosaic_tui.board.draw.text import literal

SHOWN = 8  # cards named in the delete dialog


class ConfirmDelete(ModalScreen[str | None]):
    """Delete these cards? ``delete``, ``unlink`` (delete and unlink their dependents), or None."""

    BINDINGS = [
        Binding("escape,n", "answer(None)", "Cancel"),
        Binding("y", "answer('delete')", "Delete"),
        Binding("u", "answer('unlink')", "Delete + unlink"),
    ]
    DEFAULT_CSS = """
    ConfirmDelete { align: center middle; }
    ConfirmDelete > Vertical { width: 76; height: auto; border: round $error; background: $surface; padding: 0 1; }
    ConfirmDelete Horizontal { height: auto; margin-top: 1; }
    ConfirmDelete Button { margin-right: 1; }
    """

    def __init__(self, ids: list[str], cards: dict) -> None:
        super().__init__()
        self.ids = ids
        self.cards = cards

    def compose(self) -> ComposeResult:
        head = Text()
        head.append(f"Delete {'this card' if len(self.ids) == 1 else f'{len(self.ids)} cards'}?\n", "bold")
        for card_id in self.ids[:SHOWN]:
            card = self.cards.get(card_id)
            head.append(f"  {literal(card_id)} ", "bold")
            head.append(literal(card.title) if card is not None else "(no such card)", "dim")
            head.append("\n")
        if len(self.ids) > SHOWN:
            head.append(f"  and {len(self.ids) - SHOWN} more\n", "dim")
        head.append("\nA claimed card is refused, and so is a card others depend on, unless you unlink them.\n"
                    "The event log keeps a 'deleted' event; z undoes it.", "dim")
        with Vertical():
            yield Static(head)
            with Horizontal():
                yield Button("Delete (y)", id="delete", variant="error")
                yield Button("Delete and unlink dependents (u)", id="unlink", variant="warning")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()  # enter on a stray key cancels

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id if event.button.id in ("delete", "unlink") else None)

    def action_answer(self, answer: str | None) -> None:
        self.dismiss(answer)


class AskPhase(ModalScreen[tuple[str] | None]):
    """A phase for the cards: ``(text,)`` (empty: no phase), or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    AskPhase { align: center middle; }
    AskPhase > Vertical { width: 60; height: auto; border: round $accent; background: $surface; padding: 0 1; }
    """

    def __init__(self, prompt: str, current: str | None, phases: list[str]) -> None:
        super().__init__()
        self.prompt = prompt
        self.current = current
        self.phases = phases

    def compose(self) -> ComposeResult:
        known = ", ".join(literal(p) for p in self.phases[:12]) or "none yet"
        with Vertical():
            yield Label(Text(self.prompt, "bold"))
            yield Input(value=self.current or "", placeholder="phase (empty: none)", id="phase",
                        suggester=SuggestFromList(self.phases, case_sensitive=False))
            yield Static(Text(f"phases in use: {known}\nenter applies · empty clears the phase · escape cancels", "dim"))

    def on_mount(self) -> None:
        self.query_one("#phase", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss((event.value.strip(),))

    def action_cancel(self) -> None:
        self.dismiss(None)
