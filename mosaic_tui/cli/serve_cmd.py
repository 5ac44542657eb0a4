"""``serve``: the board in a browser (the server itself is :mod:`mosaic_tui.web`, imported only here)."""

from __future__ import annotations

import os

import click

from mosaic_tui.cli.group import cli, common, state


@cli.command(short_help="Serve the board in a browser (a board per tab).")
@common
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on; off loopback a token is required.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port (0: any free one).")
@click.option("--token", metavar="TOKEN",
              help="The token the page and websocket need. Default: $MOSAIC_WEB_TOKEN, else a new one, printed once.")
@click.option("--no-token", is_flag=True, help="On loopback only: no token (anyone on this machine can open the board).")
@click.option("--phase", metavar="PHASE", help="Show only cards of this phase.")
@click.option("--max-sessions", type=click.IntRange(1, 256), default=8, show_default=True, help="Boards (tabs) open at once.")
def serve(host, port, token, no_token, phase, max_sessions) -> int:
    """Serve the board in a browser: each tab gets a board process of its own on this backlog.

    Listens on 127.0.0.1 unless --host says otherwise, and asks for a token
    (printed once in the address to open). See docs/web.md.
    """
    from mosaic_tui import web  # aiohttp and textual-serve load only here

    st = state()
    st.note(os.environ.get("DATABASE_URL"))
    if st.read_url:  # each tab's board is a child process: it reads its replica from the environment
        os.environ["MOSAIC_READ_URL"] = st.read_url
    settings = web.settings(st.db, host=host, port=port, token=token, no_token=no_token,
                            phase=phase or st.phase, max_sessions=max_sessions)
    return web.serve(settings)
