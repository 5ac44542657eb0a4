"""What the board's forms share (the card form, ``e`` / ``n``; the note, ``N`` / ``B``): a dialog that checks
what was typed, as the repository will check it, before it closes.

:class:`CheckedForm` ends its dialog with an error line and the Save / Cancel buttons (:meth:`ending`). On
save (``ctrl+s``, the button) it calls :meth:`checked`: a value closes the dialog with it; a
:class:`~mosaic_tui.errors.MosaicError` is said on the error line and the dialog stays open to fix it. Cancel
(``escape``, the button) closes it with None, nothing written.
"""

from __future__ import annotations

from typing import Any, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from mosaic_tui.errors import MosaicError

T = TypeVar("T")


class CheckedForm(ModalScreen[T]):
    """A dialog whose :meth:`checked` value it closes with, or whose refusal it says in place."""

    def checked(self) -> Any:  # pragma: no cover - each form says what it checks
        """The value to close with; raises :class:`MosaicError` (said on the error line) when it cannot."""
        raise NotImplementedError

    def ending(self) -> ComposeResult:
        """The error line and the buttons, last in the form's ``compose``."""
        yield Label("", id="error")
        with Horizontal():
            yield Button("Save (ctrl+s)", variant="primary", id="save")
            yield Button("Cancel (esc)", id="cancel")

    def action_save(self) -> None:
        try:
            value = self.checked()
        except MosaicError as exc:
            self.query_one("#error", Label).update(Text(str(exc)))
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#save")
    def _save(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
