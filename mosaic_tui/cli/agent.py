"""The agent's claim verbs: ``claim``, ``heartbeat``, ``reclaim`` (``complete --owner`` is in changes)."""

from __future__ import annotations

import click

from mosaic_tui.cli import output as out
from mosaic_tui.cli.formats import lease_text, print_card, waiting_on
from mosaic_tui.cli.group import Open, cli, common, json_mode


@cli.command(short_help="Take the next claimable card.")
@common
@click.option("--owner", required=True, metavar="OWNER", help="Who claims (an agent's name).")
@click.option("--ttl", default="900", show_default=True, metavar="SECONDS", help="Lease length in seconds.")
@click.option("--id", "card_id", metavar="ID", help="Claim this card (only if it is claimable).")
def claim(owner, ttl, card_id) -> None:
    """Take the first claimable card (or card --id) for OWNER. Nothing claimable: null with --json, exit 0."""
    from mosaic_tui.repository import card_json

    with Open() as b:
        card = b.claim(owner, ttl, card_id)
        why = None
        if card is None and not json_mode():
            why = _why_not(b, card_id)
    if json_mode():
        out.emit_json(None if card is None else card_json(card))
    elif card is None:
        out.say(why)
    else:
        out.say(f"claimed {out.safe(card.id)}: {out.safe(card.title)} for {out.safe(owner)} "
                f"(attempt {card.attempts}; {lease_text(card)})")


def _why_not(b, card_id: str | None) -> str:
    if card_id is None:
        waiting = b.count(status="ready") - b.count(claimable=True)
        extra = f" ({waiting} ready cards wait on dependencies)" if waiting > 0 else ""
        return f"nothing to claim{extra}"
    card = b.get(card_id)
    sid = out.safe(card_id)
    if card.status == "claimed":
        return f"{sid} is not claimable: claimed by {out.safe(card.claim_owner)} ({lease_text(card)})"
    if card.status == "ready":
        waiting = waiting_on(b, card)
        if waiting:
            return f"{sid} is not claimable: waiting on {out.safe(', '.join(waiting))}"
        return f"{sid} is not claimable right now (someone else took it first)"
    return f"{sid} is not claimable: it is {card.status}"


@cli.command()
@common
@click.argument("card_id", metavar="ID")
@click.option("--owner", required=True, metavar="OWNER", help="The owner holding the claim.")
@click.option("--ttl", default="900", show_default=True, metavar="SECONDS", help="The lease now ends SECONDS from now.")
def heartbeat(card_id, owner, ttl) -> None:
    """Extend OWNER's lease on card ID to now + ttl."""
    with Open() as b:
        card = b.heartbeat(card_id, owner, ttl)
    print_card(card, "heartbeat", line=f"heartbeat {out.safe(card.id)}: {lease_text(card)}")


@cli.command(short_help="Release claims whose lease has ended.")
@common
@click.option("--id", "card_id", metavar="ID", help="Release this claim whether or not its lease has ended.")
def reclaim(card_id) -> None:
    """Put every claim whose lease has ended back to ready (or release claim --id)."""
    with Open() as b:
        ids = b.reclaim(card_id)
    if json_mode():
        out.emit_json({"reclaimed": ids})
    elif ids:
        out.say(f"reclaimed {len(ids)}: {out.safe(', '.join(ids))}")
    else:
        out.say("nothing to reclaim")
