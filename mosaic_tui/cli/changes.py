"""Changes to a card: the dependency graph (``link``, ``unlink``) and the status changes
(``block``, ``unblock``, ``complete``, ``release``, ``reopen``), with their reasons."""

from __future__ import annotations

import click

from mosaic_tui.cli import output as out
from mosaic_tui.cli.formats import print_card, read_text, report
from mosaic_tui.cli.group import Open, cli, common


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
    print_card(card, "", line=f"linked {out.safe(from_id)} -> {out.safe(to_id)} ({out.safe(from_id)} depends on "
                              f"{out.safe(to_id)})")


@cli.command()
@common
@click.argument("from_id", metavar="FROM")
@click.argument("to_id", metavar="TO")
def unlink(from_id, to_id) -> None:
    """FROM no longer depends on TO."""
    with Open() as b:
        card = b.unlink(from_id, to_id)
    print_card(card, "", line=f"unlinked {out.safe(from_id)} -> {out.safe(to_id)}")


# --------------------------------------------------------------------------- status changes
# One ID: the card (--json) or one line, and a refusal is an error (exit 4), as always. Several
# IDs: one transaction; formats.report (done and refused), exit 0 / 4. A reason (--reason, --summary)
# is a note on every card changed, in the same transaction.
def _change(name: str, verb: str, card_ids: tuple[str, ...], owner: str | None = None, reason: str | None = None) -> int:
    from mosaic_tui.repository import person

    author = (owner or person()) if reason is not None else None
    with Open() as b:
        if len(card_ids) == 1:
            if name == "complete":
                card = b.complete(card_ids[0], owner, summary=reason, author=author)
            elif name == "block":
                card = b.block(card_ids[0], reason=reason, author=author)
            elif name == "release":
                card = b.release(card_ids[0], owner, reason=reason, author=author)
            else:
                card = getattr(b, name)(card_ids[0])
        else:
            return report(b.bulk(name, card_ids, owner=owner, reason=reason, author=author))
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
_READ = " ('-' reads it from stdin; at most 16 KiB)"


@cli.command(help="Block cards ID... (a claim, if any, is cleared)." + _SEVERAL, short_help="Block cards.")
@common
@click.argument("card_ids", metavar="ID...", nargs=-1, required=True)
@click.option("--reason", metavar="TEXT", help="Why: a block note on each card blocked" + _READ + ".")
def block(card_ids, reason) -> int:
    return _change("block", "blocked", card_ids, reason=None if reason is None else read_text(reason, "the reason"))


unblock = _transition("unblock", "unblocked", "Put blocked cards ID... back to ready.")


@cli.command(help="Mark cards ID... done (their claims are cleared)." + _SEVERAL, short_help="Mark cards done.")
@common
@click.argument("card_ids", metavar="ID...", nargs=-1, required=True)
@click.option("--owner", metavar="OWNER", help="Only while OWNER still holds the claim (a stale worker cannot complete).")
@click.option("--summary", metavar="TEXT", help="What was done: a complete note by OWNER (else your login)" + _READ + ".")
def complete(card_ids, owner, summary) -> int:
    return _change("complete", "completed", card_ids, owner,
                   None if summary is None else read_text(summary, "the summary"))


@cli.command(help="Give back the claims of cards ID... (they go back to ready)." + _SEVERAL,
             short_help="Release claimed cards.")
@common
@click.argument("card_ids", metavar="ID...", nargs=-1, required=True)
@click.option("--owner", metavar="OWNER", help="Only while OWNER still holds the claim (an agent giving up its card).")
@click.option("--reason", metavar="TEXT", help="Why: a release note by OWNER (else your login)" + _READ + ".")
def release(card_ids, owner, reason) -> int:
    return _change("release", "released", card_ids, owner, None if reason is None else read_text(reason, "the reason"))


reopen = _transition("reopen", "reopened", "Put done cards ID... back to ready.")
