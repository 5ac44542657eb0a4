"""The agent CLI (entry floor): ``mosaic-tui <command> [--db URL] [--json]``.

Cold start matters (an agent runs one process per command), so this module
imports click and nothing else heavy at the top: the repository (SQLAlchemy,
SQLModel, the driver) is imported inside the commands, Alembic only if the
schema needs migrating, Textual only by the board. Every failure is reported
as one line (or one JSON object with ``--json``) and an exit code from
``EXIT_CODES``; nothing a user does prints a traceback.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

from mosaic_tui.cli import output as out

if TYPE_CHECKING:
    from mosaic_tui.repository import Backlog

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_UNAVAILABLE = 0, 1, 2, 3, 4, 5
EXIT_CODES = {
    0: "ok (also: nothing to claim, which prints null with --json)",
    1: "unexpected internal error",
    2: "bad usage or bad input; nothing was written",
    3: "not found (no such card, no such edge)",
    4: "conflict (cycle, not the owner, duplicate id, wrong status, non-empty target)",
    5: "database unreachable, or not a backlog; JSON code busy: the server is full, retried for --wait seconds",
}

MAIN_HELP = """A backlog of record for fleets of AI coding agents.

With no command, opens the board. Every command takes --db URL (a
postgresql:// URL, sqlite:///path or a file path; default: $DATABASE_URL, else
the embedded SQLite backlog under $MOSAIC_HOME), --json (stdout is exactly
one JSON document; errors become {"error": {"code", "message"}} on stderr) and
--wait SECONDS (how long to retry a full Postgres server: "too many clients").

\b
An agent's loop:
  while card=$(mosaic-tui claim --owner "$ME" --json) && [ "$card" != null ]; do
    id=$(jq -r .id <<<"$card")
    ...work, running: mosaic-tui heartbeat "$id" --owner "$ME"
    mosaic-tui complete "$id" --owner "$ME"
  done
"""

EXIT_EPILOG = "\b\nExit codes:\n" + "\n".join(f"  {k}  {v}" for k, v in EXIT_CODES.items())


class State:
    """Options that may come before or after the command name."""

    def __init__(self) -> None:
        self.db: str | None = None
        self.json = False
        self.phase: str | None = None
        self.wait: float | None = None
        self.listen_url: str | None = None
        self.secrets: set[str] = set()

    def note(self, url: str | None) -> None:
        self.secrets |= out.passwords(url)


def _state() -> State:
    return click.get_current_context().ensure_object(State)


def _set_db(ctx: click.Context, _param, value):
    if value is not None:
        st = ctx.ensure_object(State)
        st.db = value
        st.note(value)
    return value


def _set_json(ctx: click.Context, _param, value):
    if value:
        ctx.ensure_object(State).json = True
    return value


def _set_wait(ctx: click.Context, _param, value):
    if value is not None:
        ctx.ensure_object(State).wait = value
    return value


def _set_listen_url(ctx: click.Context, _param, value):
    if value is not None:
        st = ctx.ensure_object(State)
        st.listen_url = value
        st.note(value)
    return value


_db_option = click.option(
    "--db", "db", metavar="URL", expose_value=False, callback=_set_db,
    help="The backlog: postgresql://..., sqlite:///path or a file path. Default: $DATABASE_URL, else embedded.",
)
_json_option = click.option(
    "--json", "as_json", is_flag=True, expose_value=False, callback=_set_json,
    help="Print exactly one JSON document on stdout (errors: one JSON object on stderr).",
)


_wait_option = click.option(
    "--wait", type=click.FloatRange(0, 3600), metavar="SECONDS", expose_value=False, callback=_set_wait,
    help="While the Postgres server is full (too many clients), retry connecting for SECONDS "
         "(default 5; 0: fail at once with code busy).",
)
listen_option = click.option(
    "--listen-url", metavar="URL", expose_value=False, callback=_set_listen_url,
    help="Where the change feed LISTENs (the server itself or a pooler's session mode) when --db "
         "goes through a transaction pooler. Default: $MOSAIC_LISTEN_URL, else --db.",
)


def common(f):
    """--db, --json and --wait, on every command."""
    return _db_option(_json_option(_wait_option(f)))


class Ordered(click.Group):
    def list_commands(self, ctx):
        return list(self.commands)


def _backlog() -> Backlog:
    from mosaic_tui.repository import Backlog

    st = _state()
    st.note(os.environ.get("DATABASE_URL"))
    st.note(os.environ.get("MOSAIC_LISTEN_URL"))
    return Backlog.open(st.db, wait=st.wait, listen_url=st.listen_url)


class _Open:
    """``with _Open() as b:`` opens the backlog and always disposes of its engine."""

    def __init__(self, url: str | None = None):
        self.url = url

    @classmethod
    def at(cls, url: str) -> _Open:
        return cls(url)

    def __enter__(self) -> Backlog:
        if self.url is not None:
            from mosaic_tui.repository import Backlog

            self.b = Backlog.open(self.url, wait=_state().wait)
        else:
            self.b = _backlog()
        return self.b

    def __exit__(self, *exc):
        self.b.close()


def _json() -> bool:
    return _state().json


# --------------------------------------------------------------------------- human formats
def _status(card) -> str:
    if card.status == "ready" and getattr(card, "unmet_deps", 0):
        return "waiting"
    return card.status


def _lease(card) -> str:
    from mosaic_tui.repository import lease_end, utcnow

    end = lease_end(card)
    if end is None:
        return ""
    left = (end - utcnow()).total_seconds()
    return f"lease ends {out.when(end)} UTC ({'in ' + out.ago(left) if left >= 0 else 'ended ' + out.ago(-left) + ' ago'})"


def _cards_table(cards) -> str:
    rows = [
        [c.id, _status(c), c.priority, c.phase or "-", c.claim_owner or "-",
         ",".join(c.depends_on) or "-", c.title]
        for c in cards
    ]
    return out.table(["ID", "STATUS", "PRI", "PHASE", "OWNER", "DEPENDS ON", "TITLE"], rows)


def _card_line(verb: str, card) -> str:
    return f"{verb} {out.safe(card.id)}: {out.safe(card.title)} [{_status(card)}]"


def _print_card(card, verb: str) -> None:
    from mosaic_tui.repository import card_json

    if _json():
        out.emit_json(card_json(card))
    else:
        out.say(_card_line(verb, card))


def _show(card, waiting_on: list[str]) -> None:
    rows = [
        ("id", card.id), ("title", card.title), ("status", _status(card)), ("priority", card.priority),
        ("phase", card.phase or "-"),
        ("depends on", ", ".join(card.depends_on) or "-"),
    ]
    if waiting_on:
        rows.append(("waiting on", ", ".join(waiting_on)))
    if card.status == "claimed":
        rows += [("owner", card.claim_owner), ("claimed at", out.when(card.claimed_at) + " UTC"),
                 ("ttl", f"{card.claim_ttl_seconds}s"), ("lease", _lease(card))]
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


def _waiting_on(b, card) -> list[str]:
    if not card.depends_on:
        return []
    deps = b.get_many(card.depends_on)
    return [d if d in deps else f"{d} (missing)" for d in card.depends_on if d not in deps or deps[d].status != "done"]


def _split(values: tuple[str, ...]) -> list[str]:
    return [p.strip() for v in values for p in v.split(",") if p.strip()]


# --------------------------------------------------------------------------- the group
@click.group(
    cls=Ordered, invoke_without_command=True, help=MAIN_HELP, epilog=EXIT_EPILOG,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@common
@listen_option
@click.option("--phase", metavar="PHASE", help="With no command: open the board filtered to PHASE.")
@click.version_option(package_name="mosaic-tui", prog_name="mosaic-tui")
@click.pass_context
def cli(ctx: click.Context, phase: str | None) -> int | None:
    ctx.ensure_object(State).phase = phase
    if ctx.invoked_subcommand is None:
        return _open_board(phase)
    return None


def _open_board(phase: str | None) -> int:
    st = _state()
    try:
        from mosaic_tui.board import run_board
    except ImportError as exc:
        if exc.name != "mosaic_tui.board":
            raise
        ctx = click.get_current_context().find_root()
        sys.stdout.write(
            "The board is not available in this build; use the commands:\n\n" + ctx.get_help() + "\n"
        )
        return 0
    if st.listen_url:  # the board opens its backlog itself: it reads the listen URL from there
        os.environ["MOSAIC_LISTEN_URL"] = st.listen_url
    return run_board(st.db, phase=phase) or 0


@cli.command(short_help="Open the board.")
@common
@listen_option
@click.option("--phase", metavar="PHASE", help="Show only cards of this phase.")
def board(phase: str | None) -> int:
    """Open the board (the same as running mosaic-tui with no command)."""
    return _open_board(phase or _state().phase)


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

    if _state().db:  # --db is accepted everywhere, but the demo never touches a real backlog
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
            with _Open.at(str(where)) as b:
                sys.stdout.write(json.dumps({"path": str(where), **b.stats()}) + "\n")
            return 0
        from mosaic_tui.board import run_board

        return run_board(str(where)) or 0
    finally:
        demo_mod.stop_fleet(fleet)


# --------------------------------------------------------------------------- create / read
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
    if body_file is not None:
        try:
            if body_file == "-":
                body = sys.stdin.read()
            else:
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
    with _Open() as b:
        card = b.create(
            card_id, " ".join(title), body=body, phase=phase, priority=priority, depends_on=_split(deps),
            acceptance=accept, idempotency_key=idempotency_key,
        )
        if card.depends_on and not _json():
            card = b.get(card.id)  # SQLite's RETURNING predates the trigger that counts unmet deps
    _print_card(card, "created")


@cli.command()
@common
@click.argument("card_id", metavar="ID")
def show(card_id: str) -> None:
    """Show one card, with what it waits on and its lease."""
    from mosaic_tui.repository import card_json

    with _Open() as b:
        card = b.get(card_id)
        waiting = _waiting_on(b, card) if card.status == "ready" else []
    if _json():
        out.emit_json(card_json(card))
    else:
        _show(card, waiting)


@cli.command("list", short_help="List cards in claim order.")
@common
@click.option("--status", multiple=True, metavar="S[,S]", help="ready, claimed, blocked or done (repeatable, or comma-separated).")
@click.option("--phase", metavar="PHASE", help="Only this phase.")
@click.option("--claimable", is_flag=True, help="Only cards that can be claimed now.")
@click.option("--search", metavar="TEXT", help="Only cards whose id or title contains TEXT.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="At most N cards.")
def list_(status, phase, claimable, search, limit) -> None:
    """List cards in claim order (priority high first, then oldest first)."""
    from mosaic_tui.repository import card_json

    statuses = _split(status) or None
    with _Open() as b:
        cards = b.list(status=statuses, phase=phase, claimable=claimable, search=search, limit=limit)
    if _json():
        out.emit_json([card_json(c) for c in cards])
    elif not cards:
        out.say("no cards")
    else:
        out.say(_cards_table(cards))


# --------------------------------------------------------------------------- claims
@cli.command(short_help="Take the next claimable card.")
@common
@click.option("--owner", required=True, metavar="OWNER", help="Who claims (an agent's name).")
@click.option("--ttl", default="900", show_default=True, metavar="SECONDS", help="Lease length in seconds.")
@click.option("--id", "card_id", metavar="ID", help="Claim this card (only if it is claimable).")
def claim(owner, ttl, card_id) -> None:
    """Take the first claimable card (or card --id) for OWNER. Nothing claimable: null with --json, exit 0."""
    from mosaic_tui.repository import card_json

    with _Open() as b:
        card = b.claim(owner, ttl, card_id)
        why = None
        if card is None and not _json():
            why = _why_not(b, card_id)
    if _json():
        out.emit_json(None if card is None else card_json(card))
    elif card is None:
        out.say(why)
    else:
        out.say(f"claimed {out.safe(card.id)}: {out.safe(card.title)} for {out.safe(owner)} "
                f"(attempt {card.attempts}; {_lease(card)})")


def _why_not(b, card_id: str | None) -> str:
    if card_id is None:
        waiting = b.count(status="ready") - b.count(claimable=True)
        extra = f" ({waiting} ready cards wait on dependencies)" if waiting > 0 else ""
        return f"nothing to claim{extra}"
    card = b.get(card_id)
    sid = out.safe(card_id)
    if card.status == "claimed":
        return f"{sid} is not claimable: claimed by {out.safe(card.claim_owner)} ({_lease(card)})"
    if card.status == "ready":
        waiting = _waiting_on(b, card)
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
    from mosaic_tui.repository import card_json

    with _Open() as b:
        card = b.heartbeat(card_id, owner, ttl)
    if _json():
        out.emit_json(card_json(card))
    else:
        out.say(f"heartbeat {out.safe(card.id)}: {_lease(card)}")


@cli.command(short_help="Release claims whose lease has ended.")
@common
@click.option("--id", "card_id", metavar="ID", help="Release this claim whether or not its lease has ended.")
def reclaim(card_id) -> None:
    """Put every claim whose lease has ended back to ready (or release claim --id)."""
    with _Open() as b:
        ids = b.reclaim(card_id)
    if _json():
        out.emit_json({"reclaimed": ids})
    elif ids:
        out.say(f"reclaimed {len(ids)}: {out.safe(', '.join(ids))}")
    else:
        out.say("nothing to reclaim")


# --------------------------------------------------------------------------- the graph
@cli.command()
@common
@click.argument("from_id", metavar="FROM")
@click.argument("to_id", metavar="TO")
def link(from_id, to_id) -> None:
    """Make FROM depend on TO.

    Linking twice is a no-op; a link that would close a cycle is refused (exit 4).
    """
    with _Open() as b:
        card = b.link(from_id, to_id)
    if _json():
        _print_card(card, "")
    else:
        out.say(f"linked {out.safe(from_id)} -> {out.safe(to_id)} ({out.safe(from_id)} depends on {out.safe(to_id)})")


@cli.command()
@common
@click.argument("from_id", metavar="FROM")
@click.argument("to_id", metavar="TO")
def unlink(from_id, to_id) -> None:
    """FROM no longer depends on TO."""
    with _Open() as b:
        card = b.unlink(from_id, to_id)
    if _json():
        _print_card(card, "")
    else:
        out.say(f"unlinked {out.safe(from_id)} -> {out.safe(to_id)}")


# --------------------------------------------------------------------------- status changes
def _transition(name: str, verb: str, helptext: str):
    @cli.command(name, help=helptext)
    @common
    @click.argument("card_id", metavar="ID")
    def cmd(card_id) -> None:
        with _Open() as b:
            card = getattr(b, name)(card_id)
        _print_card(card, verb)

    return cmd


block = _transition("block", "blocked", "Block card ID (its claim, if any, is cleared).")
unblock = _transition("unblock", "unblocked", "Put blocked card ID back to ready.")


@cli.command()
@common
@click.argument("card_id", metavar="ID")
@click.option("--owner", metavar="OWNER", help="Only if OWNER still holds the claim (a stale worker cannot complete).")
def complete(card_id, owner) -> None:
    """Mark card ID done (its claim is cleared)."""
    with _Open() as b:
        card = b.complete(card_id, owner)
    _print_card(card, "completed")


reopen = _transition("reopen", "reopened", "Put done card ID back to ready.")


# --------------------------------------------------------------------------- stats / events
@cli.command(short_help="Counts, claimable cards, oldest ready, ended leases.")
@common
def stats() -> None:
    """Counts per status, claimable cards, the oldest ready card's age, ended leases."""
    with _Open() as b:
        s = b.stats()
    if _json():
        out.emit_json(s)
        return
    c = s["counts"]
    out.say(out.table(["READY", "CLAIMED", "BLOCKED", "DONE", "TOTAL"],
                      [[c["ready"], c["claimed"], c["blocked"], c["done"], s["total"]]], last_clip=False))
    age = s["oldestReadyAgeSeconds"]
    out.say(f"claimable: {s['claimable']}   oldest ready: {'-' if age is None else out.ago(age)}   "
            f"ended leases: {s['expiredClaimCount']}")


def _event_row(ev) -> list[Any]:
    change = f"{ev.old_status or '-'} -> {ev.new_status or '-'}"
    return [ev.id, out.when(ev.at), ev.card_id, ev.kind, change, ev.owner or "-"]


_EVENT_HEADERS = ["ID", "AT (UTC)", "CARD", "KIND", "STATUS", "OWNER"]


@cli.command(short_help="The change history (--follow: live).")
@common
@listen_option
@click.option("--card", "card_id", metavar="ID", help="Only the events of card ID.")
@click.option("--since", type=click.IntRange(min=0), metavar="EVENT_ID", help="Only events after EVENT_ID.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="At most N events (not with --follow).")
@click.option("--follow", "-f", is_flag=True,
              help="Keep printing new events until Ctrl-C (JSON Lines with --json). Without --since, starts now.")
def events(card_id, since, limit, follow) -> None:
    """The change history: who changed which card, when, from what status to what."""
    from mosaic_tui.repository import check_id, event_json

    if card_id is not None:
        check_id(card_id)
    with _Open() as b:
        if not follow:
            evs = b.events(card=card_id, since=since, limit=limit)
            if _json():
                out.emit_json([event_json(e) for e in evs])
            elif not evs:
                out.say("no events")
            else:
                out.say(out.table(_EVENT_HEADERS, [_event_row(e) for e in evs], last_clip=False))
            return
        _follow(b, card_id, since)


def _follow(b, card_id: str | None, since: int | None) -> None:
    import time

    from mosaic_tui.repository import event_json

    as_json = _json()

    def emit(evs) -> None:
        for e in evs:
            if as_json:
                sys.stdout.write(out.dump(event_json(e)) + "\n")
            else:
                sys.stdout.write("  ".join(out.safe(c) for c in _event_row(e)) + "\n")
        if evs:
            sys.stdout.flush()

    cursor = b.cursor(after=since)
    try:
        feed = b.feed()
    except Exception:  # noqa: BLE001 - no feed: poll instead
        feed = None
    said = "live" if b.backend == "postgresql" else "polling"  # what goes without saying
    try:
        while True:
            emit(cursor.fetch(card=card_id))
            if feed is not None:
                if feed.status != said:
                    said = feed.status
                    _feed_note(feed, as_json)
                feed.wait(1.0)
            else:
                time.sleep(0.2)
    except KeyboardInterrupt:
        return
    finally:
        if feed is not None:
            feed.close()


def _feed_note(feed, as_json: bool) -> None:
    """Say on stderr how new events arrive when it is not the usual way (polling, lost, live again)."""
    why = {
        "polling": "notifications do not reach this connection (a transaction pooler?); for live events "
                   "set --listen-url or MOSAIC_LISTEN_URL to the server or a pooler's session mode",
        "lost": "the connection to the database is lost; reconnecting",
        "live": "notified of each change again",
    }.get(feed.status, "")
    if as_json:
        line = out.dump({"feed": {"status": feed.status, "interval": feed.interval, "message": why}})
    else:
        line = f"mosaic-tui: events: {feed.label}: {why}"
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------- transfer
@cli.command("export", short_help="Write the whole backlog as JSON Lines.")
@common
@click.argument("file", required=False, metavar="[FILE]")
def export_(file: str | None) -> None:
    """Write the whole backlog (every card, every event) as JSON Lines to FILE or stdout."""
    from mosaic_tui import transfer
    from mosaic_tui.errors import InvalidInput

    with _Open() as b:
        if file is None or file == "-":
            transfer.write_export(b, sys.stdout)
            return
        tmp = f"{file}.tmp-{os.getpid()}"  # written whole, then renamed: never a half export under FILE
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with open(fd, "w", encoding="utf-8") as fh:
                counts = transfer.write_export(b, fh)
            os.replace(tmp, file)
        except BaseException as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            if isinstance(exc, OSError):
                raise InvalidInput(f"cannot write {file}: {exc.strerror or exc}") from None
            raise
    if _json():
        out.emit_json({"exported": {**counts, "file": file}})
    else:
        out.say(f"exported {counts['cards']} cards and {counts['events']} events to {out.safe(file)}")


@cli.command("import", short_help="Read an export back in (all or nothing).")
@common
@click.argument("file", metavar="FILE")
@click.option("--on-existing", type=click.Choice(["skip", "replace", "fail"]), default="skip", show_default=True,
              help="A card whose id exists already and differs: keep the backlog's (skip), overwrite it "
                   "(replace) or refuse the whole import (fail). Identical cards are always skipped.")
def import_(file: str, on_existing: str) -> None:
    """Read an export (FILE, or - for stdin) into the backlog, in one transaction: all or nothing."""
    from mosaic_tui import transfer
    from mosaic_tui.errors import InvalidInput

    try:
        if file == "-":
            bundle = transfer.parse_lines(sys.stdin)
        else:
            with open(file, encoding="utf-8") as fh:
                bundle = transfer.parse_lines(fh)
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{file} is not UTF-8 text") from None
    with _Open() as b:
        result = transfer.import_bundle(b, bundle, on_existing=on_existing)
    if _json():
        out.emit_json({"imported": result.as_json()})
        return
    parts = [f"imported {len(result.inserted)} cards", f"{result.events} events"]
    if result.replaced:
        parts.append(f"replaced {len(result.replaced)}")
    if result.unchanged:
        parts.append(f"{len(result.unchanged)} already there")
    if result.kept:
        parts.append(f"kept {len(result.kept)} existing that differ: {out.safe(', '.join(result.kept[:10]))}")
    out.say(", ".join(parts))


@cli.command(short_help="Copy the backlog into another database, verified.")
@common
@click.option("--to", "to_url", required=True, metavar="URL", help="The target database (e.g. a Postgres server).")
@click.option("--merge", is_flag=True, help="Allow a non-empty target: add what it lacks, refuse cards that differ.")
@click.option("--replace", is_flag=True, help="With --merge: overwrite target cards that differ.")
def migrate(to_url: str, merge: bool, replace: bool) -> None:
    """Copy this backlog (--db) into another database and verify the copy before reporting success.

    Cards and events are written in one transaction of the target; every card is
    read back and compared (counts and a SHA-256 checksum per card) before it
    commits, so a failed migrate leaves the target unchanged.
    """
    from mosaic_tui import transfer
    from mosaic_tui.repository import Backlog

    if replace and not merge:
        raise click.UsageError("--replace only makes sense with --merge")
    _state().note(to_url)
    with _Open() as src:
        target = Backlog.open(to_url, wait=_state().wait)
        try:
            result = transfer.migrate(src, target, merge=merge, replace=replace)
        finally:
            target.close()
    if _json():
        out.emit_json({"migrated": result})
    else:
        out.say(f"migrated {result['inserted']} cards and {result['events']} events "
                f"from {out.safe(result['source'])} to {out.safe(result['target'])}; "
                f"verified {result['cards']} cards by checksum"
                + (f" ({result['unchanged']} were there already)" if result["unchanged"] else ""))


@cli.command(short_help="Which backlog: backend, URL, file, schema version.")
@common
def db() -> None:
    """Which backlog: backend, URL (password hidden), file, schema version."""
    with _Open() as b:
        target = b.db.target
        version = b.schema_version()
    info = {
        "backend": target.backend, "url": target.display(), "source": target.source,
        "path": str(target.path) if target.path else None, "schemaVersion": version,
    }
    if _json():
        out.emit_json(info)
        return
    out.say(f"backend:        {info['backend']}")
    out.say(f"url:            {out.safe(info['url'])}  (from {info['source']})")
    if info["path"]:
        out.say(f"file:           {out.safe(info['path'])}")
    out.say(f"schema version: {version}")


# --------------------------------------------------------------------------- entry point
def _wants_json(argv: list[str]) -> bool:
    for a in argv:
        if a == "--":
            return False
        if a == "--json":
            return True
    return False


def main(argv: list[str] | None = None) -> None:
    """The console script: run one command, turn every failure into one line and an exit code."""
    sys.exit(run(sys.argv[1:] if argv is None else list(argv)))


def run(argv: list[str]) -> int:
    from mosaic_tui.errors import MosaicError

    state = State()
    secrets = out.passwords(*argv, os.environ.get("DATABASE_URL"), os.environ.get("MOSAIC_LISTEN_URL"))

    def fail(code: str, message: str, exit_code: int) -> int:
        out.error(code, out.scrub(message, secrets | state.secrets), as_json=state.json or _wants_json(argv))
        return exit_code

    try:
        rv = cli.main(args=argv, prog_name="mosaic-tui", standalone_mode=False, obj=state)
        return rv if isinstance(rv, int) else 0
    except click.exceptions.NoArgsIsHelpError as exc:  # pragma: no cover - not used by our commands
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        return EXIT_USAGE
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "mosaic-tui"
        return fail("usage", f"{exc.format_message()} (see: {where} --help)", EXIT_USAGE)
    except click.ClickException as exc:
        return fail("usage", exc.format_message(), exc.exit_code or EXIT_USAGE)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        return fail("interrupted", "interrupted", 130)
    except MosaicError as exc:
        return fail(exc.code, str(exc), exc.exit_code)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 0
    except Exception as exc:  # noqa: BLE001 - never a traceback
        if os.environ.get("MOSAIC_DEBUG") == "1":
            import traceback

            traceback.print_exc()
        return fail("internal", f"internal error: {type(exc).__name__}: {exc}", EXIT_INTERNAL)
