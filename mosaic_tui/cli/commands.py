"""The full CLI: the command group with every command registered on it.

Each import below registers that module's commands on :data:`cli`; a new
command is a new module plus one import line here (``mosaic-tui --help`` lists
commands in the order of these imports).
"""

from mosaic_tui.cli.group import cli, run

# Each import registers that module's commands on `cli`.
from mosaic_tui.cli import board_cmds  # noqa: E402,F401  board, demo
from mosaic_tui.cli import serve_cmd  # noqa: E402,F401  serve
from mosaic_tui.cli import cards  # noqa: E402,F401  create, show, list
from mosaic_tui.cli import agent  # noqa: E402,F401  claim, heartbeat, reclaim
from mosaic_tui.cli import changes  # noqa: E402,F401  link, unlink, block, unblock, complete, release, reopen
from mosaic_tui.cli import notes  # noqa: E402,F401  note, notes, label
from mosaic_tui.cli import bulk  # noqa: E402,F401  delete
from mosaic_tui.cli import events  # noqa: E402,F401  stats, events
from mosaic_tui.cli import flow  # noqa: E402,F401  flow
from mosaic_tui.cli import agents  # noqa: E402,F401  agents
from mosaic_tui.cli import impact  # noqa: E402,F401  impact
from mosaic_tui.cli import storage  # noqa: E402,F401  export, import, migrate, db
from mosaic_tui.cli import mcp_cmd  # noqa: E402,F401  mcp

__all__ = ["cli", "run"]
