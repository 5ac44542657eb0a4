"""Who holds what, who is stuck: ``agents`` (the board's agents view, for scripts with ``--json``)."""

from __future__ import annotations

from mosaic_tui.cli import output as out
from mosaic_tui.cli.group import Open, cli, common, json_mode

HEADERS = ["AGENT", "CARD", "LEASE", "WORKING", "CLAIMS 1H", "DONE 1H", "MEDIAN CYCLE", "LAST EVENT", "TITLE"]


def _row(a, now) -> list:
    card = a.card
    left = a.lease_left_s(now)
    lease = "-" if left is None else (f"STALE {out.ago(-left)}" if left <= 0 else f"{out.ago(left)} left")
    working = a.working_s(now)
    last = "-" if a.last_event_at is None else f"{out.ago((now - a.last_event_at).total_seconds())} ago"
    held = "-" if card is None else card.id + (f" +{len(a.held) - 1}" if len(a.held) > 1 else "")
    return [a.owner, held, lease, "-" if working is None else out.ago(working), a.claims, a.completions,
            "-" if a.median_cycle_s is None else out.ago(a.median_cycle_s), last, card.title if card else ""]


@cli.command("agents", short_help="Who holds what, who is stuck: one row per agent of the last hour.")
@common
def agents_cmd() -> None:
    """One row per owner that holds a claim or acted in the last hour: stale first, then longest-working.

    STALE: the lease has ended and the card is not reclaimed yet (the next
    claim or `reclaim` will). From the backlog and its event log, so other
    programs' agents count too.
    """
    from mosaic_tui.repository.watch.fleet import agent_json, agents

    with Open() as b:
        now = b.now()
        found = agents(b, now=now)  # in the agents view's order
    if json_mode():
        out.emit_json([agent_json(a, now) for a in found])
    elif not found:
        out.say("no agent holds a claim or acted in the last hour")
    else:
        out.say(out.table(HEADERS, [_row(a, now) for a in found]))
