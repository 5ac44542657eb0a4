"""``mosaic-tui mcp``: the backlog as MCP tools over stdio (the server is :mod:`mosaic_tui.mcp.server`)."""

from __future__ import annotations

import click

from mosaic_tui.cli.group import cli, common, state


@cli.command("mcp", short_help="Serve the backlog as MCP tools over stdio (for agents).")
@common
@click.option("--owner", metavar="OWNER", help="The default owner of claims. Default: $MOSAIC_AGENT.")
def mcp_(owner: str | None) -> int:
    """Serve the backlog as MCP tools (claim, heartbeat, complete, ...) over stdio, until the client closes it.

    Started by an MCP client (see README, "Use it from an MCP client"); the tools are listed in docs/mcp.md.
    """
    import os

    from mosaic_tui.mcp.server import serve  # the MCP SDK is loaded by this command only

    st = state()
    if st.read_url:  # the read tools read the replica: the server opens its backlog with the environment's
        os.environ["MOSAIC_READ_URL"] = st.read_url
    return serve(st.db, owner)
