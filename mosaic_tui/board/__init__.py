"""The board: a Textual kanban over the backlog (entry floor).

``run_board(db_url, phase)`` opens the backlog and runs the app; ``make_app``
builds the app around an open :class:`~mosaic_tui.repository.Backlog` (shared
by ``run_board``, the tests and the benchmark). Textual is imported only when
the board is actually built, so importing this package stays cheap.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mosaic_tui.board.app import BoardApp
    from mosaic_tui.repository import Backlog

__all__ = ["make_app", "run_board"]


def make_app(backlog: Backlog, *, phase: str | None = None, clock: Callable[[], datetime] | None = None) -> BoardApp:
    """The board app over ``backlog`` (optionally filtered to ``phase``; ``clock`` drives lease countdowns)."""
    from mosaic_tui.board.app import BoardApp

    return BoardApp(backlog, phase=phase, clock=clock)


def run_board(db_url: str | None, phase: str | None = None, *, listen_url: str | None = None,
              read_url: str | None = None) -> int:
    """Open the backlog at ``db_url`` (else DATABASE_URL, else the embedded default) and run the board.

    ``listen_url``: where the change feed listens on Postgres (the server itself, or a pooler's session
    mode, when ``db_url`` goes through a transaction pooler); else ``MOSAIC_LISTEN_URL``, else ``db_url``.
    ``read_url``: a read replica the board reads from (else ``MOSAIC_READ_URL``, else ``db_url``).

    Returns an exit code: 0 on quit, 5 (Unavailable) when the database cannot
    be reached at start, 2 on bad input (e.g. an unparseable URL).
    """
    from mosaic_tui.errors import MosaicError, Unavailable
    from mosaic_tui.repository import Backlog

    try:
        backlog = Backlog.open(db_url, listen_url=listen_url, read_url=read_url)
        backlog.last_event_id()  # reach the database now: fail plainly before the screen is taken
    except MosaicError as exc:
        print(f"mosaic-tui: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - never a traceback for a database we cannot open
        err = Unavailable(f"cannot open the backlog: {type(exc).__name__}")
        print(f"mosaic-tui: {err}", file=sys.stderr)
        return err.exit_code
    try:
        app = make_app(backlog, phase=phase)
        app.run()
        return app.return_code or 0
    finally:
        backlog.close()
