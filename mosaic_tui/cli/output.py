"""Output for people and for scripts: escaped text, tables, JSON, one-line errors.

Imports nothing heavy (no database, no click): the error path and the claim
path (:mod:`mosaic_tui.cli.oneshot` as well as the full CLI) both use it.
"""

from __future__ import annotations

import json
import os
import sys
import unicodedata
from datetime import UTC, datetime
from typing import Any
from mosaic_tui.db.url import scrub as scrub_url
from mosaic_tui.db.url import secrets
from mosaic_tui.errors import MosaicError, exit_code_for
from mosaic_tui.textsafe import escape


def safe(value: Any) -> str:
    """Any value as text for a terminal: untrusted characters escaped by :func:`mosaic_tui.textsafe.escape`."""
    if value is None:
        return ""
    return escape(str(value))


def width(s: str) -> int:
    w = 0
    for ch in s:
        if unicodedata.combining(ch):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return w


def clip(s: str, room: int) -> str:
    if width(s) <= room:
        return s
    if room <= 1:
        return "…"[:room]
    out, w = [], 0
    for ch in s:
        cw = width(ch)
        if w + cw > room - 1:
            break
        out.append(ch)
        w += cw
    return "".join(out) + "…"


def pad(s: str, n: int) -> str:
    return s + " " * max(0, n - width(s))


def terminal_width() -> int | None:
    """Columns of the terminal stdout writes to, or None when it is not a terminal (no clipping)."""
    try:
        if not sys.stdout.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    import shutil

    return shutil.get_terminal_size((100, 24)).columns


def table(headers: list[str], rows: list[list[Any]], *, last_clip: bool = True) -> str:
    """A plain aligned table; every cell escaped; the last column clipped to the terminal's width."""
    cells = [[safe(c) for c in row] for row in rows]
    widths = [width(h) for h in headers]
    for row in cells:
        for i, c in enumerate(row[:-1]):
            widths[i] = max(widths[i], width(c))
    cols = terminal_width()
    lead = sum(widths[:-1]) + 2 * (len(headers) - 1)
    room = None if cols is None or not last_clip else max(10, cols - lead)
    lines = []
    for row in [headers, *cells]:
        parts = [pad(c, widths[i]) for i, c in enumerate(row[:-1])]
        last = row[-1] if room is None else clip(row[-1], room)
        lines.append("  ".join([*parts, last]).rstrip())
    return "\n".join(lines)


def when(ts: datetime | None) -> str:
    if ts is None:
        return "-"
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def ago(seconds: float) -> str:
    seconds = int(seconds)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{sign}{seconds}s"
    if seconds < 3600:
        return f"{sign}{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{sign}{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{sign}{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def emit_json(obj: Any) -> None:
    sys.stdout.write(dump(obj) + "\n")
    sys.stdout.flush()


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")


# --------------------------------------------------------------------------- errors
def passwords(*candidates: str | None) -> set[str]:
    """The passwords these URLs carry (:func:`mosaic_tui.db.url.secrets`, the one scrubber's)."""
    return secrets(*candidates)


def url_variables() -> tuple[str | None, ...]:
    """The environment's URLs, whose passwords no output may show."""
    return tuple(os.environ.get(v) for v in ("DATABASE_URL", "MOSAIC_LISTEN_URL", "MOSAIC_READ_URL"))


def scrub(message: str, hidden: set[str]) -> str:
    """``message`` on one line, passwords as ``***`` (:func:`mosaic_tui.db.url.scrub`)."""
    return scrub_url(message, hidden)


def error(code: str, message: str, *, as_json: bool, prog: str = "mosaic-tui") -> None:
    """Report one error: one line on stderr (or one JSON object), nothing on stdout."""
    if as_json:
        sys.stderr.write(dump({"error": {"code": code, "message": message}}) + "\n")
    else:
        sys.stderr.write(f"{prog}: error: {safe(message)}\n")
    sys.stderr.flush()


def report(exc: BaseException, secrets: set[str], *, as_json: bool) -> int:
    """A failure that is not click's, reported as the CLI reports every failure (one line, or one JSON
    object, on stderr, passwords scrubbed); its exit code. Nothing a user does shows a traceback."""
    if isinstance(exc, MosaicError):
        code, message, exit_code = exc.code, str(exc), exc.exit_code
    elif isinstance(exc, KeyboardInterrupt):
        code, message, exit_code = "interrupted", "interrupted", exit_code_for("interrupted")
    else:
        if os.environ.get("MOSAIC_DEBUG") == "1":
            import traceback

            traceback.print_exception(exc)
        code, message, exit_code = "internal", f"internal error: {type(exc).__name__}: {exc}", exit_code_for("internal")
    error(code, scrub(message, secrets), as_json=as_json)
    return exit_code


def stdout_gone() -> int:
    """The reader of stdout went away (e.g. ``| head``): stop quietly (exit 0)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 0
