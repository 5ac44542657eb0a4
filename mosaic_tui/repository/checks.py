"""Input checks: every value a caller gives is checked here before any transaction starts.

Each ``check_*`` returns the value (normalised where that is documented) or raises
:class:`~mosaic_tui.errors.InvalidInput` with a one-line message; nothing is written.
"""

from __future__ import annotations

import json
from typing import Any

from mosaic_tui.db.hotsql import STATUSES  # the one list of statuses, re-exported by the repository
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


def check_priority(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).strip())
        except ValueError:
            raise InvalidInput(f"priority must be an integer, not {value!r}") from None
    if not -INT32 <= value <= INT32:
        raise InvalidInput(f"priority {value} is out of range (a 32-bit integer)")
    return value


def check_ttl(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).strip())
        except ValueError:
            raise InvalidInput(f"ttl must be a whole number of seconds, not {value!r}") from None
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
