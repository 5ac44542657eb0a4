"""Input checks: every value a caller gives is checked here before any transaction starts.

Each ``check_*`` returns the value (normalised where that is documented) or raises
:class:`~mosaic_tui.errors.InvalidInput` with a one-line message; nothing is written.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mosaic_tui.db.verbs_sql import STATUSES  # the one list of statuses, re-exported by the repository
from mosaic_tui.errors import InvalidInput

MAX_ID_LEN = 200
MAX_TEXT_LEN = 4_000_000
INT32 = 2**31 - 1


def has_control(s: str) -> bool:
    """Does ``s`` hold a C0 control character or DEL (refused in ids, owners, phases)?"""
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in s)


def check_id(value: Any, what: str = "card id") -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{what} must not be empty")
    if value != value.strip():
        raise InvalidInput(f"{what} {value.strip()!r} must not start or end with spaces")
    if has_control(value):
        raise InvalidInput(f"{what} {value!r} contains control characters")
    if len(value) > MAX_ID_LEN:
        raise InvalidInput(f"{what} is longer than {MAX_ID_LEN} characters")
    return value


def check_owner(value: Any) -> str:
    return check_id(value, "owner")


def check_title(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("title must not be empty")
    if "\x00" in value:
        raise InvalidInput("title contains a NUL character")
    if "\n" in value or "\r" in value:
        raise InvalidInput("title must be one line")
    if len(value) > 10_000:
        raise InvalidInput("title is longer than 10000 characters")
    return value


def check_text(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text")
    if "\x00" in value:
        raise InvalidInput(f"{what} contains a NUL character")
    if len(value) > MAX_TEXT_LEN:
        raise InvalidInput(f"{what} is longer than {MAX_TEXT_LEN} characters")
    return value


def check_phase(value: Any) -> str | None:
    """A card's phase, as every path sets it (create, the CLI and MCP, the board's form, ``P``, ``$EDITOR``):
    text without control characters, the spaces around it trimmed; None, empty or only spaces: no phase."""
    phase = check_text(value, "phase")
    if phase is None or not phase.strip():
        return None
    if has_control(phase):
        raise InvalidInput("phase must be text without control characters")
    return phase.strip()


#: What an edit may change: every path's edit (``Backlog.edit``, the board's form, ``$EDITOR``, dependencies).
EDITABLE = ("title", "body", "phase", "priority", "acceptance", "depends_on")


def check_edit(card_id: Any, changes: dict[str, Any]) -> tuple[dict[str, Any], list[str] | None]:
    """The one set of rules of an edit: ``(values, dependencies)`` checked, before any transaction.

    ``values``: the fields of :data:`EDITABLE` given, normalised as their checks say; ``dependencies``: the
    ids given for ``depends_on`` (duplicates dropped; None when not given, an empty list clears them)."""
    check_id(card_id)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise InvalidInput(f"cannot edit {', '.join(sorted(unknown))} (only {', '.join(EDITABLE)})")
    values: dict[str, Any] = {}
    if "title" in changes:
        values["title"] = check_title(changes["title"])
    if "body" in changes:
        values["body"] = check_text(changes["body"], "body")
    if "phase" in changes:
        values["phase"] = check_phase(changes["phase"])
    if "priority" in changes:
        values["priority"] = check_priority(changes["priority"])
    if "acceptance" in changes:
        values["acceptance"] = check_acceptance(changes["acceptance"])
    deps = None
    if "depends_on" in changes:
        deps = check_dependencies(card_id, changes["depends_on"] or [])
    return values, deps


def check_dependencies(card_id: str, ids: Any) -> list[str]:
    """A card's dependencies: ids, duplicates dropped, never the card itself."""
    if isinstance(ids, str):
        raise InvalidInput("dependencies must be a list of card ids, not one string")
    deps = list(dict.fromkeys(check_id(d, "dependency id") for d in ids))
    if card_id in deps:
        raise InvalidInput(f"card {card_id!r} cannot depend on itself")
    return deps


def _integer(value: Any, refusal: str) -> int:
    """``value`` as an integer (an int, or its text, spaces around it ignored; never a bool); else
    :class:`InvalidInput` with ``refusal`` and the value (``priority must be an integer, not 'high'``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).strip())
        except ValueError:
            raise InvalidInput(f"{refusal}, not {value!r}") from None
    return value


def check_priority(value: Any) -> int:
    value = _integer(value, "priority must be an integer")
    if not -INT32 <= value <= INT32:
        raise InvalidInput(f"priority {value} is out of range (a 32-bit integer)")
    return value


def check_ttl(value: Any) -> int:
    value = _integer(value, "ttl must be a whole number of seconds")
    if value <= 0:
        raise InvalidInput(f"ttl must be more than 0 seconds, not {value}")
    if value > INT32:
        raise InvalidInput(f"ttl {value} is out of range")
    return value


def check_acceptance(value: Any) -> Any:
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidInput(f"acceptance is not valid JSON: {exc}") from None
    if "\\u0000" in encoded:
        raise InvalidInput("acceptance contains a NUL character")
    return value


def check_status(value: Any) -> str:
    if value not in STATUSES:
        raise InvalidInput(f"unknown status {value!r} (one of: {', '.join(STATUSES)})")
    return value


#: A note's text is at most this many bytes (UTF-8): 16 KiB.
MAX_NOTE_BYTES = 16 * 1024
NOTE_KINDS = ("note", "block", "release", "complete", "system")
LABEL_RULE = "[a-z0-9][a-z0-9._-]{0,31}"
_LABEL = re.compile(LABEL_RULE)


def check_note(value: Any, what: str = "note") -> str:
    """A note's text: not empty (nor only spaces), no NUL, at most :data:`MAX_NOTE_BYTES` bytes. Line breaks,
    tabs and other controls are kept as written (they are shown escaped, never interpreted)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{what} must not be empty")
    if "\x00" in value:
        raise InvalidInput(f"{what} contains a NUL character")
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > MAX_NOTE_BYTES:
        raise InvalidInput(f"{what} is {size} bytes; the limit is 16 KiB ({MAX_NOTE_BYTES} bytes)")
    return value


def check_note_kind(value: Any) -> str:
    if value not in NOTE_KINDS:
        raise InvalidInput(f"unknown note kind {value!r} (one of: {', '.join(NOTE_KINDS)})")
    return value


def check_label(value: Any) -> str:
    """A label's name: ``[a-z0-9][a-z0-9._-]{0,31}`` (a refusal names it and the rule)."""
    if not isinstance(value, str) or not _LABEL.fullmatch(value):
        shown = value if isinstance(value, str) else str(value)
        raise InvalidInput(f"invalid label {shown!r}: a label is 1-32 of a-z 0-9 . _ - starting with a letter or digit")
    return value
