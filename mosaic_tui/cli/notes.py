"""Notes and labels: ``note``, ``notes``, ``label``."""

from __future__ import annotations

import click

from mosaic_tui.cli import output as out
from mosaic_tui.cli.formats import note_lines, read_text
from mosaic_tui.cli.group import Open, cli, common, json_mode


@cli.command(short_help="Add a note to a card.")
@common
@click.argument("card_id", metavar="ID")
@click.argument("text", metavar="TEXT")
@click.option("--owner", metavar="NAME", help="Who writes it (an agent's name). Default: your login name.")
def note(card_id, text, owner) -> None:
    """Append TEXT to card ID's thread of notes ('-' reads TEXT from stdin).

    A note is never empty and at most 16 KiB; notes are never edited or removed (deleting the card removes them).
    """
    from mosaic_tui.repository import note_json, person

    body = read_text(text, "the note")
    with Open() as b:
        n = b.note(card_id, body, author=owner if owner is not None else person())
    if json_mode():
        out.emit_json(note_json(n))
    else:
        out.say(f"noted {out.safe(n.card_id)} (note {n.id})")


@cli.command(short_help="Show a card's notes.")
@common
@click.argument("card_id", metavar="ID")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Only the latest N notes. Default: all.")
def notes(card_id, limit) -> None:
    """Card ID's notes, oldest first (--json: a list of {id, cardId, author, kind, body, at})."""
    from mosaic_tui.repository import note_json

    with Open() as b:
        found = b.notes(card_id, limit=limit)
    if json_mode():
        out.emit_json([note_json(n) for n in found])
    elif not found:
        out.say("no notes")
    else:
        for line in note_lines(found):
            out.say(line)


@cli.command(short_help="Add or remove labels on cards.",
             context_settings={"ignore_unknown_options": True, "allow_interspersed_args": True})
@common
@click.argument("words", metavar="ID... [+NAME|-NAME]...", nargs=-1, required=True, type=click.UNPROCESSED)
def label(words) -> None:
    """Add (+NAME) and remove (-NAME) labels on the cards ID..., one transaction.

    A label is 1-32 characters of a-z 0-9 . _ - starting with a letter or digit. Prints each card's labels
    after (--json: {id: [labels]}). An unknown card, or an invalid label, writes nothing.
    """
    from mosaic_tui.errors import InvalidInput

    ids, add, remove = [], [], []
    for w in words:
        if w.startswith("+"):
            add.append(w[1:])
        elif w.startswith("-"):
            remove.append(w[1:])
        else:
            ids.append(w)
    if not ids:
        raise InvalidInput("no card given: label ID... +name -name")
    with Open() as b:
        labels = b.label(ids, add=add, remove=remove)
    if json_mode():
        out.emit_json(labels)
    else:
        for card_id, names in labels.items():
            out.say(f"{out.safe(card_id)}: {out.safe(' '.join('#' + n for n in names)) or '(no labels)'}")
