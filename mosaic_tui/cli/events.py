"""What happened: ``stats`` and ``events`` (``--follow``: live, until Ctrl-C)."""

from __future__ import annotations

import sys
from typing import Any

import click

from mosaic_tui.cli import output as out
from mosaic_tui.cli.group import Open, cli, common, json_mode, listen_option
from mosaic_tui.db.backoff import Backoff
from mosaic_tui.errors import Unavailable


@cli.command(short_help="Counts, claimable cards, oldest ready, ended leases.")
@common
def stats() -> None:
    """Counts per status, claimable cards, the oldest ready card's age, ended leases."""
    with Open() as b:
        s = b.stats()
    if json_mode():
        out.emit_json(s)
        return
    c = s["counts"]
    out.say(out.table(["READY", "CLAIMED", "BLOCKED", "DONE", "TOTAL"],
                      [[c["ready"], c["claimed"], c["blocked"], c["done"], s["total"]]], last_clip=False))
    age = s["oldestReadyAgeSeconds"]
    out.say(f"claimable: {s['claimable']}   oldest ready: {'-' if age is None else out.ago(age)}   "
            f"ended leases: {s['expiredClaimCount']}")


def _event_row(ev) -> list[Any]:
    # A note or a label is not a status move: no arrow.
    change = "-" if ev.old_status is None and ev.new_status is None else f"{ev.old_status or '-'} -> {ev.new_status or '-'}"
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
    with Open() as b:
        if not follow:
            evs = b.events(card=card_id, since=since, limit=limit)
            if json_mode():
                out.emit_json([event_json(e) for e in evs])
            elif not evs:
                out.say("no events")
            else:
                out.say(out.table(_EVENT_HEADERS, [_event_row(e) for e in evs], last_clip=False))
            return
        _follow(b, card_id, since)


def _follow(b, card_id: str | None, since: int | None) -> None:
    from mosaic_tui.repository import event_json

    as_json = json_mode()

    def emit(evs) -> None:
        for e in evs:
            if as_json:
                sys.stdout.write(out.dump(event_json(e)) + "\n")
            else:
                sys.stdout.write("  ".join(out.safe(c) for c in _event_row(e)) + "\n")
        if evs:
            sys.stdout.flush()

    # The same live feed as the board's (mosaic_tui.db.live.LiveFeed): a thread that waits on the change
    # feed, with its backstop and pace, and wakes this loop; the loop reads what the cursor has not seen.
    import threading

    from mosaic_tui.db.live import LiveFeed

    cursor = b.cursor(after=since)
    wake = threading.Event()
    said = ["live" if b.backend == "postgresql" else "polling"]  # what goes without saying
    try:
        feed = b.feed()  # here, before the first read: a feed that can only poll says so first
    except Exception:  # noqa: BLE001 - no feed: the live feed's backstop polls instead
        feed = None

    def open_feed():
        if feed is None:
            raise RuntimeError("no change feed")
        return feed

    def status(state: str, _label: str) -> None:
        if state != said[0]:
            said[0] = state
            _feed_note(state, feed, as_json)

    if feed is not None:
        status(feed.status, feed.label)
    live = LiveFeed(open_feed, wake.set, status, poll=0.2)
    live.start()
    away = False  # the database is unreachable (a restart, a failover): read again after each pause
    backoff = Backoff(0.1, 2.0)
    try:
        while True:
            wake.clear()
            try:
                evs = cursor.fetch(card=card_id)
            except Unavailable as exc:  # ride it: the cursor has not moved, so nothing is missed or repeated
                if not away:
                    away = True
                    _reading_note(f"unreachable: {exc}; reconnecting", as_json)
                wake.wait(backoff.pause())
                continue
            if away:
                away = False
                backoff.reset()
                _reading_note("reconnected: caught up from the event log", as_json)
            emit(evs)
            wake.wait(1.0)
    except KeyboardInterrupt:
        return
    finally:
        live.stop()
        live.join(2.0)


def _reading_note(message: str, as_json: bool) -> None:
    """Say on stderr that the events cannot be read now, or can again (one line each time)."""
    line = out.dump({"reading": {"message": message}}) if as_json else f"mosaic-tui: events: {message}"
    sys.stderr.write(out.scrub(line, set()) + "\n")
    sys.stderr.flush()


def _feed_note(state: str, feed, as_json: bool) -> None:
    """Say on stderr how new events arrive when it is not the usual way (polling, lost, live again)."""
    why = {
        "polling": "notifications do not reach this connection (a transaction pooler?); for live events "
                   "set --listen-url or MOSAIC_LISTEN_URL to the server or a pooler's session mode",
        "lost": "the connection to the database is lost; reconnecting (with backoff)",
        "live": "notified of each change again",
        "replica": "the primary does not answer; reading the replica's event log meanwhile (it may lag behind "
                   "the primary: its changes arrive as it replays them)",
    }.get(state, "")
    interval = getattr(feed, "interval", None) if state in ("polling", "replica") else None
    label = getattr(feed, "label", state) if state != "lost" else state
    if as_json:
        line = out.dump({"feed": {"status": state, "interval": interval, "message": why}})
    else:
        line = f"mosaic-tui: events: {label}: {why}"
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
