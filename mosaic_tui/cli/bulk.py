"""Deleting cards: ``delete ID... [--unlink-dependents]`` (its report, shared with the multi-id
``block``, ``unblock``, ``complete``, ``reopen`` of ``changes``, is ``formats.report``).

A bulk command is one transaction. Cards whose state refuses are left unchanged and listed;
the exit code is 0 when every card was done, 4 (conflict) when any was refused.
"""

from __future__ import annotations

import click

from mosaic_tui.cli.formats import report
from mosaic_tui.cli.group import Open, cli, common


@cli.command(short_help="Delete cards (one transaction).")
@common
@click.argument("card_ids", metavar="ID...", nargs=-1, required=True)
@click.option("--unlink-dependents", is_flag=True,
              help="Also remove each card from the dependencies of cards that depend on it (else such a card is refused).")
def delete(card_ids, unlink_dependents) -> int:
    """Delete cards ID..., in one transaction; the event log keeps a `deleted` event for each.

    A claimed card is refused (release it first), and so is a card other cards depend on, unless
    --unlink-dependents. Exit 0 if all were deleted, 4 if any was refused (the others are deleted).
    """
    with Open() as b:
        result = b.delete(card_ids, unlink_dependents=unlink_dependents)
    return report(result)
