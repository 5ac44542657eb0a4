"""The agent CLI (entry floor): ``mosaic-tui <command> [--db URL] [--json]``.

``main`` (the console script) is :func:`mosaic_tui.cli.oneshot.main`: the
agent's hot verbs with ``--json`` (claim, heartbeat, complete) run there
without click, SQLAlchemy or SQLModel; every other command line goes to the
full CLI, the click group ``cli`` of :mod:`mosaic_tui.cli.group`, whose
commands :mod:`mosaic_tui.cli.commands` registers (a new command is a new
module plus one import line there). ``cli`` and ``run`` (the full CLI,
in-process) are loaded on first use, so that the console script's start-up
does not pay for click.
"""

from mosaic_tui.cli.oneshot import main

__all__ = ["cli", "main", "run"]


def __getattr__(name: str):
    if name in ("cli", "run"):
        from mosaic_tui.cli import commands

        return getattr(commands, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
