"""The backlog's operations (the repository floor).

One class, :class:`Backlog`, identical code on SQLite and Postgres: every
method is one transaction on a :class:`~mosaic_tui.db.engine.Database`.
Imports neither textual, rich nor click. The modules:

* :mod:`~mosaic_tui.repository.backlog` -- the :class:`Backlog` class, the list of operations;
* :mod:`~mosaic_tui.repository.verbs` -- the agent's hot verbs (claim, heartbeat, complete, the status
  changes) and a card's JSON, shared by the Backlog and the CLI's one-shot path; no SQLAlchemy;
* :mod:`~mosaic_tui.repository.cursor` -- :class:`EventCursor`, events after the last one seen;
* :mod:`~mosaic_tui.repository.checks` -- ``check_*``: input validation before any transaction;
* :mod:`~mosaic_tui.repository.rows` -- cards and events from rows, their JSON, UTC helpers;
* :mod:`~mosaic_tui.repository.tables` -- table handles and the event cursor's prepared read.
* :mod:`~mosaic_tui.repository.rules` -- the status changes' rules (single and bulk);
* :mod:`~mosaic_tui.repository.grooming.bulk` -- bulk actions, reorder, delete, the conflict-checked edit;
* :mod:`~mosaic_tui.repository.grooming.undo` -- :class:`Change`, :class:`Result`, undo on the event log, :class:`History`;
* :mod:`~mosaic_tui.repository.grooming.document` -- a card as one text document for ``$EDITOR``;
* :mod:`~mosaic_tui.repository.notes` -- notes (a thread per card) and labels.

Everything callers use is importable from ``mosaic_tui.repository`` itself. The
names are loaded when first used (PEP 562), so that importing
``mosaic_tui.repository.verbs`` -- the CLI's cold start -- loads neither
SQLAlchemy nor SQLModel.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_WHERE = {
    "Backlog": "backlog",
    "DEFAULT_TTL": "verbs",
    "card_json": "verbs",
    "utcnow": "verbs",
    "EventCursor": "cursor",
    "event_json": "rows",
    "lease_end": "rows",
    "B": "tables",
    "E": "tables",
    "EV": "tables",
    "NoteRecord": "notes",
    "LATEST_NOTES": "notes",
    "note_json": "notes",
    "person": "notes",
    "view_json": "notes",
    "Change": "grooming.undo",
    "History": "grooming.undo",
    "Result": "grooming.undo",
    "DocumentError": "grooming.document",
    "parse_card": "grooming.document",
    "serialize_card": "grooming.document",
    "with_error": "grooming.document",
    **{name: "checks" for name in (
        "EDITABLE", "MAX_ID_LEN", "MAX_NOTE_BYTES", "MAX_TEXT_LEN", "STATUSES", "check_acceptance", "check_dependencies",
        "check_edit", "check_id", "check_label", "check_note", "check_owner", "check_phase", "check_priority",
        "check_status", "check_text", "check_title", "check_ttl",
    )},
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


if TYPE_CHECKING:  # for type checkers and editors: the same names, imported eagerly
    from mosaic_tui.repository.backlog import Backlog
    from mosaic_tui.repository.checks import (
        EDITABLE,
        MAX_ID_LEN,
        MAX_NOTE_BYTES,
        MAX_TEXT_LEN,
        STATUSES,
        check_acceptance,
        check_dependencies,
        check_edit,
        check_id,
        check_label,
        check_note,
        check_owner,
        check_phase,
        check_priority,
        check_status,
        check_text,
        check_title,
        check_ttl,
    )
    from mosaic_tui.repository.cursor import EventCursor
    from mosaic_tui.repository.verbs import DEFAULT_TTL, card_json, utcnow
    from mosaic_tui.repository.rows import event_json, lease_end
    from mosaic_tui.repository.grooming.document import DocumentError, parse_card, serialize_card, with_error
    from mosaic_tui.repository.notes import LATEST_NOTES, NoteRecord, note_json, person, view_json
    from mosaic_tui.repository.tables import EV, B, E
    from mosaic_tui.repository.grooming.undo import Change, History, Result
