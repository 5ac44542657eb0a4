"""The backlog's operations (the repository floor).

One class, :class:`Backlog`, identical code on SQLite and Postgres: every
method is one transaction on a :class:`~mosaic_tui.db.engine.Database`.
Imports neither textual, rich nor click. The modules:

* :mod:`~mosaic_tui.repository.backlog` -- the :class:`Backlog` class, the list of operations;
* :mod:`~mosaic_tui.repository.cursor` -- :class:`EventCursor`, events after the last one seen;
* :mod:`~mosaic_tui.repository.checks` -- ``check_*``: input validation before any transaction;
* :mod:`~mosaic_tui.repository.shapes` -- cards and events from rows, their JSON, UTC helpers;
* :mod:`~mosaic_tui.repository.statements` -- table handles and the hot path's prepared statements.

Everything callers use is importable from ``mosaic_tui.repository`` itself.
"""

from mosaic_tui.repository.backlog import DEFAULT_TTL, Backlog
from mosaic_tui.repository.checks import (
    MAX_ID_LEN,
    MAX_TEXT_LEN,
    check_acceptance,
    check_id,
    check_owner,
    check_priority,
    check_status,
    check_text,
    check_title,
    check_ttl,
)
from mosaic_tui.repository.cursor import EventCursor
from mosaic_tui.repository.shapes import card_json, event_json, lease_end, utcnow
from mosaic_tui.repository.statements import EV, B, E

__all__ = [
    "B", "DEFAULT_TTL", "E", "EV", "MAX_ID_LEN", "MAX_TEXT_LEN", "Backlog", "EventCursor",
    "card_json", "check_acceptance", "check_id", "check_owner", "check_priority", "check_status",
    "check_text", "check_title", "check_ttl", "event_json", "lease_end", "utcnow",
]
