"""A card as one text document, for ``$VISUAL`` / ``$EDITOR`` (pure functions, no database).

::

    # Card M1-03 (ready). Edit, save and quit. Lines starting with # up here are ignored.
    title: Agent CLI
    phase: M1
    priority: 3
    depends on: M1-01, M1-02
    --- body (markdown) ---
    The body, any number of lines, headings (#) included.
    --- acceptance (JSON, empty for none) ---
    {"tests": ["cli"]}

The fields above the body line are ``key: value`` lines (``depends on`` takes ids separated by
commas or spaces; an empty ``phase`` clears it, an empty ``priority`` is 0). Everything between the
body line and the *last* acceptance line is the body (trailing blank lines dropped; empty: none).
:func:`parse_card` raises :class:`DocumentError` (an :class:`~mosaic_tui.errors.InvalidInput`)
naming the line; :func:`with_error` puts that error at the top of the text for another try.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mosaic_tui.db.models import Card
from mosaic_tui.errors import InvalidInput
from mosaic_tui.repository.checks import check_id, check_phase, check_priority, check_title

BODY_LINE = "--- body (markdown) ---"
ACCEPTANCE_LINE = "--- acceptance (JSON, empty for none) ---"
ERROR_PREFIX = "# ERROR: "
_BODY = re.compile(r"^---\s*body\b.*---\s*$", re.IGNORECASE)
_ACCEPTANCE = re.compile(r"^---\s*acceptance\b.*---\s*$", re.IGNORECASE)
_KEYS = {
    "title": "title", "phase": "phase", "priority": "priority",
    "depends on": "depends_on", "depends_on": "depends_on", "dependencies": "depends_on", "deps": "depends_on",
}


class DocumentError(InvalidInput):
    """A card document that does not parse: ``line`` (1-based, or None) and what is wrong."""

    def __init__(self, detail: str, line: int | None = None):
        self.line = line
        self.detail = detail
        super().__init__(f"line {line}: {detail}" if line is not None else detail)


def serialize_card(card: Card) -> str:
    """The document of ``card`` (parse it back with :func:`parse_card`)."""
    acceptance = "" if card.acceptance is None else json.dumps(card.acceptance, indent=2, ensure_ascii=False)
    lines = [
        f"# Card {card.id} ({card.status}). Edit, save and quit; quit without saving to cancel.",
        "# Lines starting with # up here are ignored; an empty phase means none.",
        f"title: {card.title}",
        f"phase: {card.phase or ''}",
        f"priority: {card.priority}",
        f"depends on: {', '.join(card.depends_on or [])}",
        BODY_LINE,
        *([card.body] if card.body else []),
        ACCEPTANCE_LINE,
        *([acceptance] if acceptance else []),
    ]
    return "\n".join(lines) + "\n"


def parse_card(text: str) -> dict[str, Any]:
    """The fields of a card document: ``title``, ``phase``, ``priority``, ``depends_on``, ``body``
    and (when its line is there) ``acceptance``. Raises :class:`DocumentError`."""
    if not isinstance(text, str):
        raise DocumentError("the document is not text")
    if "\x00" in text:
        raise DocumentError("the document contains a NUL character")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    body_at = next((n for n, line in enumerate(lines) if _BODY.match(line.strip())), None)
    if body_at is None:
        raise DocumentError(f"the line {BODY_LINE!r} is missing (it separates the fields from the body)")
    accept_at = next((n for n in range(len(lines) - 1, body_at, -1) if _ACCEPTANCE.match(lines[n].strip())), None)
    fields: dict[str, Any] = {}
    seen: dict[str, int] = {}
    for n, raw in enumerate(lines[:body_at], start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        name = _KEYS.get(" ".join(key.lower().split()))
        if not sep or name is None:
            raise DocumentError(f"expected 'field: value' with a field of title, phase, priority, depends on; got {line[:40]!r}", n)
        if name in seen:
            raise DocumentError(f"{key.strip()} is given twice (also on line {seen[name]})", n)
        seen[name] = n
        fields[name] = _field(name, value.strip(), n)
    if "title" not in fields:
        raise DocumentError("the title line is missing ('title: ...')")
    fields.setdefault("phase", None)
    fields.setdefault("priority", 0)
    fields.setdefault("depends_on", [])
    end = len(lines) if accept_at is None else accept_at
    body = "\n".join(lines[body_at + 1:end]).rstrip()
    fields["body"] = body if body.strip() else None
    if accept_at is not None:
        raw = "\n".join(lines[accept_at + 1:]).strip()
        if not raw:
            fields["acceptance"] = None
        else:
            try:
                fields["acceptance"] = json.loads(raw)
            except ValueError as exc:
                lineno = getattr(exc, "lineno", 1)
                skipped = len(lines[accept_at + 1:]) - len("\n".join(lines[accept_at + 1:]).lstrip().split("\n"))
                raise DocumentError(f"acceptance is not valid JSON: {getattr(exc, 'msg', exc)}",
                                    accept_at + 1 + skipped + lineno) from None
    return fields


def _field(name: str, value: str, line: int) -> Any:
    try:
        if name == "title":
            return check_title(value)
        if name == "phase":
            return check_phase(value)
        if name == "priority":
            return check_priority(value) if value else 0
        return [check_id(d, "dependency id") for d in re.split(r"[,\s]+", value) if d]
    except InvalidInput as exc:
        raise DocumentError(str(exc), line) from None


def with_error(text: str, error: InvalidInput) -> str:
    """``text`` with ``error`` as a comment on its first line (earlier error lines removed), for the
    editor to reopen; a line number in the error is shifted to match the new text."""
    lines = text.split("\n")
    removed = 0
    while lines and lines[0].startswith(ERROR_PREFIX):
        lines.pop(0)
        removed += 1
    if isinstance(error, DocumentError) and error.line is not None:
        message = f"line {error.line - removed + 1}: {error.detail}"
    else:
        message = str(error)
    return "\n".join([f"{ERROR_PREFIX}{message} (fix it and save again; quit without saving to cancel)", *lines])
