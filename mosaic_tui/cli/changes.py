"""Changes to a card: the dependency graph (``link``, ``unlink``) and the status changes
(``block``, ``unblock``, ``complete``, ``reopen``)."""

from __future__ import annotations

import click

from mosaic_tui.cli import output as out
from mosaic_tui.cli.formats import print_card, report
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
# One ID: the card (--json) or one line, and a refusal is an error (exit 4), as always. Several
# IDs: one transaction; formats.report (done and refused), exit 0 / 4.
def _change(name: str, verb: str, card_ids: tuple[str, ...], owner: str | None = None) -> int:
    with Open() as b:
        if len(card_ids) == 1:
            card = b.complete(card_ids[0], owner) if name == "complete" else getattr(b, name)(card_ids[0])
        else:
            return report(b.bulk(name, card_ids, owner=owner))
    print_card(card, verb)
    return 0


def _transition(name: str, verb: str, helptext: str):
    @cli.command(name, help=helptext + _SEVERAL, short_help=helptext.replace(" ID...", ""))
    @common
    @click.argument("card_ids", metavar="ID...", nargs=-1, required=True)
    def cmd(card_ids) -> int:
        return _change(name, verb, card_ids)

    return cmd


_SEVERAL = (
    " Several IDs: one transaction; cards whose status refuses are left unchanged and listed"
    " (--json: {\"action\", \"done\": [ids], \"refused\": {id: reason}}); exit 4 if any was refused."
)
block = _transition("block", "blocked", "Block cards ID... (a claim, if any, is cleared).")
unblock = _transition("unblock", "unblocked", "Put blocked cards ID... back to ready.")


@cli.command(help="Mark cards ID... done (their claims are cleared)." + _SEVERAL, short_help="Mark cards done.")
@common
@click.argument("card_ids", metavar="ID...", nargs=-1, required=True)
@click.option("--owner", metavar="OWNER", help="Only while OWNER still holds the claim (a stale worker cannot complete).")
def complete(card_ids, owner) -> int:
    return _change("complete", "completed", card_ids, owner)


reopen = _transition("reopen", "reopened", "Put done cards ID... back to ready.")
