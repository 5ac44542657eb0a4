"""The grooming dialogs: confirm a delete (``x``), ask for a phase (``P``), for labels (``L``)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList, Suggester
from textual.widgets import Button, Input, Label, Static

from mosaic_tui.board.draw.text import literal
from mosaic_tui.errors import InvalidInput
from mosaic_tui.repository.labeling import label_terms

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


class LabelSuggester(Suggester):
    """Completes the word being typed (``+in`` -> ``+infra``): ``+`` from the labels in use, ``-`` from
    the card's own labels (several cards: the labels in use)."""

    def __init__(self, in_use: list[str], current: list[str] | None) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.in_use = in_use
        self.current = current if current is not None else in_use

    async def get_suggestion(self, value: str) -> str | None:
        word = value.rsplit(" ", 1)[-1]
        if not word or word[0] not in "+-":
            return None
        typed = word[1:]
        names = self.in_use if word[0] == "+" else self.current
        for name in names:
            if name.startswith(typed) and name != typed:
                return value + name[len(typed):]
        return None


class AskLabels(ModalScreen[tuple[list[str], list[str]] | None]):
    """Labels to add and remove, ``+infra -docs``: ``(add, remove)``, checked (a bad word is said on the
    dialog's error line, which stays open), or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    AskLabels { align: center middle; }
    AskLabels > Vertical { width: 68; height: auto; border: round $accent; background: $surface; padding: 0 1; }
    AskLabels #error { color: $error; height: auto; }
    """

    def __init__(self, prompt: str, in_use: list[tuple[str, int]], current: list[str] | None) -> None:
        super().__init__()
        self.prompt = prompt
        self.in_use = in_use
        self.current = current

    def compose(self) -> ComposeResult:
        known = ", ".join(f"{literal(name)} ({n})" for name, n in self.in_use[:12]) or "none yet"
        if len(self.in_use) > 12:
            known += f", and {len(self.in_use) - 12} more"
        with Vertical():
            yield Label(Text(self.prompt, "bold"))
            if self.current is not None:
                yield Static(Text("now: " + (" ".join(f"#{literal(n)}" for n in self.current) or "no labels")))
            yield Input(placeholder="+name adds, -name removes, e.g. +infra -docs", id="labels",
                        suggester=LabelSuggester([name for name, _ in self.in_use], self.current))
            yield Static("", id="error")
            yield Static(Text(f"labels in use: {known}\nenter applies (z undoes it) · → takes the suggestion\n"
                              "escape cancels", "dim"))

    def on_mount(self) -> None:
        self.query_one("#labels", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        try:
            answer = label_terms(event.value)
        except InvalidInput as exc:
            self.query_one("#error", Static).update(Text(literal(exc.message)))
            return
        self.dismiss(answer)

    def action_cancel(self) -> None:
        self.dismiss(None)
