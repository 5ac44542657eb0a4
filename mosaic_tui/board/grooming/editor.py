"""``E``: edit the selected card as one text document in ``$VISUAL`` / ``$EDITOR``.

The card is read again, written as a document (``mosaic_tui.repository.grooming.document``: title, phase,
priority, dependencies, body, acceptance) to a private temporary file, and the board suspends
while the editor runs (``App.suspend``). On return:

- the file unchanged (quit without saving): nothing happens;
- it does not parse, or names an unknown dependency: the editor opens again with the error on
  its first line; nothing is written until it is right (or left unchanged, which cancels);
- otherwise it is applied in one transaction with the edit form's conflict check: if someone
  changed the card since it was read, nothing is written, and the text is kept in a file whose
  path the notice gives, so no typing is lost.

The change is recorded for undo. ``$VISUAL`` wins over ``$EDITOR``; without either, ``vi``.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import tempfile

from textual.app import SuspendNotSupported

from mosaic_tui.board.jobs import run_job
from mosaic_tui.board.draw.text import literal
from mosaic_tui.errors import Conflict, InvalidInput
from mosaic_tui.repository import DocumentError, parse_card, serialize_card, with_error


def editor_command() -> list[str]:
    return shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")


def _temp(card_id: str, text: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in card_id)[:40]
    fd, path = tempfile.mkstemp(prefix=f"mosaic-{safe}-", suffix=".md")  # 0600
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


def edit_text(app, card_id: str, text: str) -> str | None:
    """Run the editor on ``text`` with the board suspended; the text saved (None: the editor could not run)."""
    path = _temp(card_id, text)
    try:
        with app.suspend():
            code = subprocess.call([*editor_command(), path])
        if code != 0:
            return None
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


class EditorKeys:
    """``E`` on the board."""

    def __init__(self, app) -> None:
        self.app = app

    def edit(self) -> None:
        card = self.app.kanban.selected_or_say()
        if card is None:
            return
        run_job(self.app, self.app.backlog.get, card.id, then=self._open, group="action")

    def _open(self, card) -> None:
        self._round(card, serialize_card(card))

    def _round(self, card, text: str) -> None:
        """Edit until the text parses (or is left unchanged); then apply it in a worker."""
        while True:
            try:
                saved = edit_text(self.app, card.id, text)
            except SuspendNotSupported:
                self.app.notify("cannot open an editor here (the terminal cannot be handed over)", severity="error")
                return
            except OSError as exc:
                self.app.notify(f"cannot run the editor {' '.join(editor_command())}: {exc.strerror or exc}",
                                severity="error", markup=False)
                return
            if saved is None:
                self.app.notify("the editor failed; nothing changed", severity="warning")
                return
            if saved == text:
                self.app.notify(f"{literal(card.id)}: no change", timeout=2, markup=False)
                return
            try:
                parse_card(saved)
            except DocumentError as exc:
                text = with_error(saved, exc)
                continue
            break
        self._apply(card, saved)

    def _apply(self, card, text: str) -> None:
        backlog = self.app.backlog

        def run():
            try:
                result = backlog.apply_document(card.id, text, expected_updated_at=card.updated_at)
            except Conflict as exc:
                return "conflict", str(exc), _temp(card.id, text)
            except InvalidInput as exc:  # e.g. an unknown dependency: back to the editor, with the error
                return "invalid", exc, None
            return "done", result, backlog.last_event_id()

        def done(got) -> None:
            kind, what, extra = got
            if kind == "invalid":
                self._round(card, with_error(text, what))
            elif kind == "conflict":
                self.app.notify(f"{what}; your text is kept in {extra}", title="refused", severity="error",
                                timeout=12, markup=False)
            else:
                self.app.refresher.own([card.id], extra)
                self.app.undo_keys.record(what)
                self.app.kanban.select_next = card.id
                said = "saved" if what.done else "no change"
                self.app.notify(f"{literal(card.id)} {said}", timeout=3, markup=False)
                self.app.refresher.look()

        run_job(self.app, run, then=done, group="action")
