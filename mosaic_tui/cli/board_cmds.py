"""Commands for people: ``board`` (the Textual board) and ``demo`` (a simulated fleet on a demo backlog)."""

from __future__ import annotations

import sys

import click

from mosaic_tui.cli.group import Open, cli, common, listen_option, open_board, state


@cli.command(short_help="Open the board.")
@common
@listen_option
@click.option("--phase", metavar="PHASE", help="Show only cards of this phase.")
def board(phase: str | None) -> int:
    """Open the board (the same as running mosaic-tui with no command)."""
    return open_board(phase or state().phase)


@cli.command(short_help="Watch a simulated fleet work a demo backlog.")
@common
@click.argument("path", required=False, metavar="[PATH]")
@click.option("--agents", type=click.IntRange(1, 16), default=3, show_default=True, help="Simulated agents (processes).")
@click.option("--pace", type=click.FloatRange(0.05, 10), default=1.0, show_default=True,
              help="Time scale of the fleet: 0.5 works twice as fast.")
@click.option("--no-board", is_flag=True, help="Run the fleet without the board (prints stats at the end).")
@click.option("--seconds", type=click.FloatRange(0.5), default=20.0, show_default=True, metavar="S",
              help="With --no-board: how long the fleet runs.")
def demo(path, agents, pace, no_board, seconds) -> int:
    """Open the board on a fresh demo backlog while a small simulated fleet works it.

    The backlog is a new file (PATH, or a temporary one), never your real
    backlog: a plan of several phases with a dependency DAG, priorities,
    bodies and acceptance criteria. The agents are separate processes taking
    work through the same claim path as real agents: they claim, heartbeat,
    complete, sometimes block a card or let a lease run out. Quitting the board
    stops the fleet.
    """
    import json
    import time

    from mosaic_tui import demo as demo_mod
    from mosaic_tui.repository import Backlog

    if state().db:  # --db is accepted everywhere, but the demo never touches a real backlog
        raise click.UsageError("the demo never opens an existing backlog: give a PATH for a new file (or none)")
    where = demo_mod.demo_location(path)
    backlog = Backlog.open(str(where))
    try:
        demo_mod.seed(backlog)
    finally:
        backlog.close()
    fleet = demo_mod.start_fleet(str(where), agents, pace)
    try:
        if no_board:
            sys.stderr.write(f"demo backlog: {where} ({agents} agents for {seconds:g} s)\n")
            time.sleep(seconds)
            with Open.at(str(where)) as b:
                sys.stdout.write(json.dumps({"path": str(where), **b.stats()}) + "\n")
            return 0
        from mosaic_tui.board import run_board

        return run_board(str(where)) or 0
    finally:
        demo_mod.stop_fleet(fleet)
