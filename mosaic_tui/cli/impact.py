"""What holds up the most work: ``impact`` (the board's keystones and critical paths, for scripts with ``--json``)."""

from __future__ import annotations

import click

from mosaic_tui.cli import output as out
from mosaic_tui.cli.group import Open, cli, common, json_mode


@cli.command("impact", short_help="Keystones (what each card unlocks) and the critical path of each phase.")
@common
@click.option("--phase", default=None, metavar="P", help="Only this phase's keystones and critical path.")
@click.option("--top", type=click.IntRange(0, 100_000), default=10, show_default=True,
              help="How many keystones to list (0: every card that unlocks something).")
def impact_cmd(phase: str | None, top: int) -> None:
    """The unfinished cards that hold up the most work, and the longest chain of unfinished work per phase.

    A keystone's count is how many unfinished cards wait on it, directly or
    through others (a card reached along two paths counts once; across
    phases). A phase's critical path is its longest chain of unfinished cards,
    each waiting on the one before, first to do first. Ready, claimed and
    blocked cards are unfinished; done cards count for nothing.
    """
    from mosaic_tui.repository.watch.impact import impact, impact_json
    from mosaic_tui.repository.checks import check_id

    if phase is not None:
        check_id(phase, "phase")
    with Open() as b:
        found = impact(b)
    doc = impact_json(found, top=top or None, phase=phase)
    if json_mode():
        out.emit_json(doc)
        return
    if not doc["criticalPaths"]:
        out.say("nothing unfinished" + (f" in phase {phase}" if phase else ""))
        return
    out.say(out.table(["PHASE", "CRITICAL PATH", "CARDS"],
                      [[p["phase"] or "(none)", p["length"], " -> ".join(p["cards"])] for p in doc["criticalPaths"]]))
    if doc["keystones"]:
        out.say()
        out.say(out.table(["CARD", "STATUS", "PHASE", "UNLOCKS"],
                          [[k["id"], k["status"], k["phase"] or "(none)", k["unlocks"]] for k in doc["keystones"]],
                          last_clip=False))
