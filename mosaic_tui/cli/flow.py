"""How work flows: ``flow [--window 1h|1d|7d]`` (the Flow screen's figures, for scripts with ``--json``)."""

from __future__ import annotations

import click

from mosaic_tui.cli import output as out
from mosaic_tui.cli.group import Open, cli, common, json_mode
from mosaic_tui.repository import STATUSES

WINDOWS = ("1h", "1d", "7d")  # mosaic_tui.repository.watch.flow.WINDOWS (not imported here: the CLI starts without SQLAlchemy)
BARS = " ▁▂▃▄▅▆▇█"


def bars(values: list[int]) -> str:
    """A one-line bar per bucket, scaled to the largest (a space for none)."""
    top = max(values, default=0)
    if not top:
        return "·" * len(values)
    return "".join(BARS[0] if not v else BARS[max(1, round(v / top * 8))] for v in values)


def _p(s) -> list[str]:
    return [out.ago(s.p50), out.ago(s.p90)] if s.count else ["-", "-"]


def _spread(label: str, s, what: str) -> str:
    if not s.count:
        return f"{label:<12}-"
    return f"{label:<12}p50 {out.ago(s.p50)}  p90 {out.ago(s.p90)}  ({s.count} {what})"


def show(f) -> None:
    """The figures for people."""
    win = f.window
    out.say(f"flow over the {win.label}: {win.buckets} buckets of {out.ago(win.step)}, "
            f"{out.when(f.start)} -> {out.when(f.end)} UTC")
    out.say(out.table(["STATUS", "AT START", "NOW", "CHANGE"],
                      [[s, f.cfd[s][0], f.cfd[s][-1], f"{f.cfd[s][-1] - f.cfd[s][0]:+d}"] for s in STATUSES],
                      last_clip=False))
    step = out.ago(win.step)
    out.say(f"completions {sum(f.completions):>6}  {bars(f.completions)}  (per {step}, oldest first)")
    out.say(f"claims      {sum(f.claims):>6}  {bars(f.claims)}")
    out.say(_spread("cycle time", f.cycle, "claim -> done"))
    out.say(_spread("lead time", f.lead, "created -> done"))
    if f.phases:
        out.say()
        out.say(out.table(["PHASE", "DONE", "CYCLE P50", "CYCLE P90", "LEAD P50", "LEAD P90"],
                          [[g.name or "(none)", g.completions, *_p(g.cycle), *_p(g.lead)] for g in f.phases],
                          last_clip=False))
    if f.agents:
        out.say()
        out.say(out.table(["AGENT", "CLAIMS", "DONE", "CYCLE P50", "CYCLE P90", "LEAD P50", "LEAD P90"],
                          [[g.name, g.claims, g.completions, *_p(g.cycle), *_p(g.lead)] for g in f.agents],
                          last_clip=False))


@cli.command("flow", short_help="Cumulative flow, throughput, cycle and lead time over a window.")
@common
@click.option("--window", "window_key", type=click.Choice(WINDOWS), default="1d", show_default=True,
              help="The last hour (60 one-minute buckets), day (48 half hours) or week (56 three-hour buckets).")
def flow_cmd(window_key: str) -> None:
    """How work flowed over the last hour, day or week, from the event log (every program's changes).

    Cards per status at the start and now (and, with --json, at the end of
    every bucket: a cumulative flow diagram), claims and completions per
    bucket, and cycle time (from the claim a completion ended) and lead time
    (from the card's creation), p50 and p90, overall, per phase and per agent.
    """
    from mosaic_tui.repository.watch.flow import flow, flow_json

    with Open() as b:
        f = flow(b, window_key)
    if json_mode():
        out.emit_json(flow_json(f))
        return
    show(f)

