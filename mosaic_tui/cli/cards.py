"""Create and read cards: ``create``, ``show``, ``list``."""

from __future__ import annotations

from typing import Any

import click

from mosaic_tui.cli import output as out
from mosaic_tui.cli.formats import cards_table, print_card, read_text, show_card, split_list, waiting_on
from mosaic_tui.cli.group import Open, cli, common, json_mode


@cli.command(short_help="Create a card.")
@common
@click.argument("card_id", metavar="ID")
@click.argument("title", nargs=-1, required=True)
@click.option("--deps", multiple=True, metavar="A,B", help="Ids this card depends on (comma-separated, repeatable).")
@click.option("--priority", default="0", metavar="N", show_default=True, help="An integer; higher is claimed first.")
@click.option("--phase", metavar="PHASE", help="The phase (e.g. M1).")
@click.option("--body", metavar="TEXT", help="Markdown body.")
@click.option("--body-file", metavar="FILE", help="Read the body from FILE ('-' for stdin).")
@click.option("--acceptance", metavar="JSON", help="Acceptance criteria, any JSON value.")
@click.option("--idempotency-key", metavar="KEY", help="A second create with this key returns the first card unchanged.")
def create(card_id, title, deps, priority, phase, body, body_file, acceptance, idempotency_key) -> None:
    """Create card ID with TITLE (words are joined by one space; quote to keep it verbatim)."""
    import json

    from mosaic_tui.errors import InvalidInput

    if body is not None and body_file is not None:
        raise click.UsageError("give --body or --body-file, not both")
    if body_file == "-":
        body = read_text("-", "the body")
    elif body_file is not None:
        try:
            with open(body_file, encoding="utf-8") as fh:
                body = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read the body from {body_file}: {getattr(exc, 'strerror', None) or exc}") from None
    accept: Any = None
    if acceptance is not None:
        try:
            accept = json.loads(acceptance)
        except ValueError as exc:
            raise InvalidInput(f"--acceptance is not valid JSON: {exc}") from None
    with Open() as b:
        card = b.create(
            card_id, " ".join(title), body=body, phase=phase, priority=priority, depends_on=split_list(deps),
            acceptance=accept, idempotency_key=idempotency_key,
        )
        if card.depends_on and not json_mode():
            card = b.get(card.id)  # SQLite's RETURNING predates the trigger that counts unmet deps
    print_card(card, "created")


@cli.command()
@common
@click.argument("card_id", metavar="ID")
def show(card_id: str) -> None:
    """Show one card, with what it waits on, its lease, its labels and its latest notes.

    --json: the card's keys, and "labels" (sorted), "notes" (the latest 20, oldest first) and "noteCount".
    """
    from mosaic_tui.repository import view_json

    with Open() as b:
        v = b.view(card_id)
        waiting = waiting_on(b, v.card) if v.card.status == "ready" and not json_mode() else []
    if json_mode():
        out.emit_json(view_json(v))
    else:
        show_card(v.card, waiting, v.labels, (v.notes, v.note_count))


@cli.command("list", short_help="List cards in claim order.")
@common
@click.option("--status", multiple=True, metavar="S[,S]", help="ready, claimed, blocked or done (repeatable, or comma-separated).")
@click.option("--phase", metavar="PHASE", help="Only this phase.")
@click.option("--claimable", is_flag=True, help="Only cards that can be claimed now.")
@click.option("--search", metavar="TEXT", help="Only cards whose id or title contains TEXT.")
@click.option("--label", metavar="NAME", help="Only cards labelled NAME.")
@click.option("--where", metavar="QUERY", help="Only cards the query matches, e.g. '#infra status:ready' (docs/query.md).")
@click.option("--view", metavar="NAME", help="Only cards of the saved view NAME (.mosaic/views.toml, or the data dir's).")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="At most N cards.")
def list_(status, phase, claimable, search, label, where, view, limit) -> None:
    """List cards in claim order (priority high first, then oldest first). --json: each card has "labels".

    --where and --view combine with the other options: all must hold."""
    from mosaic_tui.repository import card_json
    from mosaic_tui.repository.views import where_of

    statuses = split_list(status) or None
    node = where_of(where, view)  # before opening the backlog: a bad query or views file reads nothing
    with Open() as b:
        cards = b.list(status=statuses, phase=phase, claimable=claimable, search=search, where=node, limit=limit,
                       label=label)
        labels = b.labels(c.id for c in cards) if json_mode() else {}
    if json_mode():
        out.emit_json([{**card_json(c), "labels": labels[c.id]} for c in cards])
    elif not cards:
        out.say("no cards")
    else:
        out.say(cards_table(cards))
