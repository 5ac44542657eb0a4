"""How cards read for people: status words, leases, one-line summaries, tables, the ``show`` page."""

from __future__ import annotations

from mosaic_tui.cli import output as out
from mosaic_tui.cli.group import json_mode
from mosaic_tui.errors import exit_code_for


def status_word(card) -> str:
    """The status a person sees: a ready card with unmet dependencies is "waiting"."""
    if card.status == "ready" and getattr(card, "unmet_deps", 0):
        return "waiting"
    return card.status


def lease_text(card) -> str:
    from mosaic_tui.repository import lease_end, utcnow

    end = lease_end(card)
    if end is None:
        return ""
    left = (end - utcnow()).total_seconds()
    return f"lease ends {out.when(end)} UTC ({'in ' + out.ago(left) if left >= 0 else 'ended ' + out.ago(-left) + ' ago'})"


def cards_table(cards) -> str:
    rows = [
        [c.id, status_word(c), c.priority, c.phase or "-", c.claim_owner or "-",
         ",".join(c.depends_on) or "-", c.title]
        for c in cards
    ]
    return out.table(["ID", "STATUS", "PRI", "PHASE", "OWNER", "DEPENDS ON", "TITLE"], rows)


def card_line(verb: str, card) -> str:
    return f"{verb} {out.safe(card.id)}: {out.safe(card.title)} [{status_word(card)}]"


def print_card(card, verb: str, *, line: str | None = None) -> None:
    """The card as JSON (--json), or as one line: ``line`` when given, else the card's starting with ``verb``."""
    from mosaic_tui.repository import card_json

    if json_mode():
        out.emit_json(card_json(card))
    else:
        out.say(card_line(verb, card) if line is None else line)


def show_card(card, waiting_on: list[str], labels: list[str] = (), thread: tuple[list, int] = ([], 0)) -> None:
    rows = [
        ("id", card.id), ("title", card.title), ("status", status_word(card)), ("priority", card.priority),
        ("phase", card.phase or "-"),
        ("depends on", ", ".join(card.depends_on) or "-"),
    ]
    if waiting_on:
        rows.append(("waiting on", ", ".join(waiting_on)))
    if labels:
        rows.append(("labels", " ".join("#" + n for n in labels)))
    if card.status == "claimed":
        rows += [("owner", card.claim_owner), ("claimed at", out.when(card.claimed_at) + " UTC"),
                 ("ttl", f"{card.claim_ttl_seconds}s"), ("lease", lease_text(card))]
    rows += [("attempts", card.attempts), ("idempotency key", card.idempotency_key or "-")]
    if card.acceptance is not None:
        rows.append(("acceptance", out.dump(card.acceptance)))
    rows += [("created", out.when(card.created_at) + " UTC"), ("updated", out.when(card.updated_at) + " UTC")]
    for k, v in rows:
        out.say(f"{k + ':':<17}{out.safe(v)}")
    if card.body:
        out.say("")
        for line in card.body.splitlines():
            out.say("  " + out.safe(line))
    shown, total = thread
    if shown:
        out.say("")
        more = f" (the latest {len(shown)}; `notes {out.safe(card.id)}` shows all)" if total > len(shown) else ""
        out.say(f"notes: {total}{more}")
        for line in note_lines(shown):
            out.say(line)


def note_lines(notes) -> list[str]:
    """A thread for people: a heading per note (when, who, what kind), then its text indented, escaped."""
    from mosaic_tui.textsafe import escape_block

    lines = []
    for n in notes:
        kind = "" if n.kind == "note" else f" [{n.kind}]"
        lines.append(f"- {out.when(n.at)} UTC  {out.safe(n.author or 'system')}{kind}")
        lines += ["    " + line for line in escape_block(n.body.rstrip("\r\n")).split("\n")]
    return lines


def read_text(source: str, what: str) -> str:
    """``source`` itself, or stdin's text when it is ``-``."""
    if source != "-":
        return source
    import sys

    from mosaic_tui.errors import InvalidInput

    try:
        return sys.stdin.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {what} from stdin: {getattr(exc, 'strerror', None) or exc}") from None


def waiting_on(b, card) -> list[str]:
    """The dependencies of ``card`` that are not done (or do not exist)."""
    if not card.depends_on:
        return []
    deps = b.get_many(card.depends_on)
    return [d if d in deps else f"{d} (missing)" for d in card.depends_on if d not in deps or deps[d].status != "done"]


def split_list(values: tuple[str, ...]) -> list[str]:
    """Repeatable, comma-separated option values as one list."""
    return [p.strip() for v in values for p in v.split(",") if p.strip()]


def report(result) -> int:
    """Print a :class:`~mosaic_tui.repository.Result` (JSON ``{"action", "done", "refused"[, "unlinked"]}``
    with --json); the exit code: 0 if every card was done, 4 if any was refused."""
    if json_mode():
        out.emit_json(result.json())
    else:
        done = result.done
        ids = out.safe(", ".join(done))
        out.say(f"{result.past} {len(done)} card{'s' if len(done) != 1 else ''}" + (f": {ids}" if done else ""))
        for user, away in result.unlinked.items():
            out.say(f"unlinked {out.safe(user)} from {out.safe(', '.join(away))}")
        for reason in result.refused.values():
            out.say(f"refused: {out.safe(reason)}")
    return 0 if not result.refused else exit_code_for("conflict")
