"""``mosaic-tui serve``: the board in a browser (entry floor).

Each browser tab gets a board process of its own (``mosaic_tui.web.session``)
on the same backlog, driven through textual-serve's page and protocol. The
server (``mosaic_tui.web.server``) imports aiohttp and textual-serve; this
package imports neither, so a CLI that only names ``serve`` stays cheap to
start, and the board process (``python -m mosaic_tui.web.session``) never
loads the web server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mosaic_tui.web.server import Settings

__all__ = ["serve", "settings"]


def settings(
    db: str | None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    no_token: bool = False,
    phase: str | None = None,
    max_sessions: int = 8,
) -> Settings:
    """Check the options and the backlog; the server's settings (raises MosaicError on bad input)."""
    from mosaic_tui.web.server import make_settings

    return make_settings(
        db, host=host, port=port, token=token, no_token=no_token, phase=phase, max_sessions=max_sessions
    )


def serve(settings: Settings) -> int:
    """Serve the board until SIGINT/SIGTERM; returns an exit code."""
    from mosaic_tui.web.server import run

    return run(settings)
