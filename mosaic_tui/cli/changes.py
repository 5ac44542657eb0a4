"""Changes to a card: the dependency graph (``link``, ``unlink``) and the status changes
(``block``, ``unblock``, ``complete``, ``reopen``)."""

from __future__ import annotations

import click

from mosaic_tui.cli import output as out
from mosaic_tui.cli.formats import print_card
from mosaic_tui.cli.group import Open, cli, common, json_mode


@cli.command()
@common
@click.argument("from_id", metavar="FROM")
@click.argument("to_id", metavar="TO")
def link(from_id, to_id) -> None:
    """Make FROM depend on TO.

    Linking twice is a no-op; a link that would close a cycle is refused (exit 4).
    """
    with Open() as b:
        card = b.link(from_id, to_id)
    if json_mode():
        print_card(card, "")
    else:
        out.say(f"linked {out.safe(from_id)} -> {out.safe(to_id)} ({out.safe(from_id)} depends on {out.safe(to_id)})")


@cli.command()
@common
@click.argument("from_id", metavar="FROM")
@click.argument("to_id", metavar="TO")
def unlink(from_id, to_id) -> None:
    """FROM no longer depends on TO."""
    with Open() as b:
        card = b.unlink(from_id, to_id)
    if json_mode():
        print_card(card, "")
    else:
        out.say(f"unlinked {out.safe(from_id)} -> {out.safe(to_id)}")


# --------------------------------------------------------------------------- status changes
def _transition(name: str, verb: str, helptext: str):
    @cli.command(name, help=helptext)
    @common
    @click.argument("card_id", metavar="ID")
    def cmd(card_id) -> None:
        with Open() as b:
            card = getattr(b, name)(card_id)
        print_card(card, verb)

    return cmd


block = _transition("block", "blocked", "Block card ID (its claim, if any, is cleared).")
unblock = _transition("unblock", "unblocked", "Put blocked card ID back to ready.")


@cli.command()
@common
@click.argument("card_id", metavar="ID")
@click.option("--owner", metavar="OWNER", help="Only if OWNER still holds the claim (a stale worker cannot complete).")
def complete(card_id, owner) -> None:
    """Mark card ID done (its claim is cleared)."""
    with Open() as b:
        card = b.complete(card_id, owner)
    print_card(card, "completed")


reopen = _transition("reopen", "reopened", "Put done card ID back to ready.")
