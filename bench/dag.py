"""Benchmark: the drawn graph's layout, its first draw, and keystones / critical path at 100,000 cards.

Graphs are made like a plan: cards in epics of ~25 (phases of 10 epics); a
card needs 0-3 earlier cards of its epic (the last few, mostly) and now and
then one of the epic before. The same seed gives the same graph.

- **layout** (``mosaic_tui.dag.layout``, as the screen calls it, full and
  compact boxes) at 30 / 300 / 1,000 cards;
- **first draw**: in-process, headless (Pilot): from pushing the graph
  screen with the cards in hand to its first full picture (layout in the
  worker, analysis, drawing); baseline: the same screen listing the same
  cards by layer (the fallback above 300 cards; what ``g`` showed before);
- **key to picture**: the board (in-process, headless, 160x45) over a backlog
  of the plan on SQLite and on Postgres (``--backends``): from pressing ``g``
  to the drawn graph on screen, the database read included (count, cards,
  edges, in a worker; then the layout in another). The first ``g`` of a
  process also imports the screen and ``mosaic_tui.dag``: measured apart, in
  fresh processes that have imported the board. Baseline in the same run, on the same board: ``enter``, the card
  detail (a read of the card, its dependencies and its history, then a
  modal screen). The board runs without its feed thread (nothing changes
  meanwhile; SQLite's feed polls every 20 ms, which would count in the CPU);
- **analysis** at 100,000 cards: keystones (exact ``unlocks N``) and the
  critical path per phase, for a backlog where 70 % of the cards are done and
  for one where none is, and for one chain of 100,000 (the worst case of
  the bitsets).

Baseline in the same run, on the same graph: a plain topological sort
(Kahn's, over the same integer graph), the least any graph pass can cost.
Times are medians of ``--runs``, wall clock and CPU (this process), since the
machine may be shared.

Run: ``python bench/dag.py [--runs 5] [--sizes 30,300,1000] [--big 100000] [--backends sqlite,pg]``
(Postgres: a fresh database on ``MOSAIC_TEST_PG_URL``, dropped after).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from mosaic_tui.dag import critical_paths, from_card_edges, keystones, layout
from mosaic_tui.dag.graph import Digraph


@dataclass(frozen=True)
class Card:
    id: str
    title: str
    status: str
    claim_owner: str | None = None


def plan(n: int, *, done: float, seed: int = 1) -> tuple[dict[str, Card], list[tuple[str, str]], dict[str, str]]:
    """Cards by id, edges ``(card, dependency)`` as the repository gives them, and phase by id."""
    rng = random.Random(seed)
    ids = [f"P{i // 250:03d}-{i % 250:03d}" for i in range(n)]
    cards: dict[str, Card] = {}
    edges: list[tuple[str, str]] = []
    for i, cid in enumerate(ids):
        epic = i // 25
        start = epic * 25
        for _ in range(rng.choice([0, 1, 1, 1, 2, 2, 3])):
            if i > start:
                j = max(start, i - 1 - int(rng.expovariate(0.5)))
                edges.append((cid, ids[j]))
        if start >= 25 and rng.random() < 0.1:
            edges.append((cid, ids[rng.randrange(start - 25, start)]))
        status = "done" if rng.random() < done else rng.choice(["ready", "ready", "ready", "claimed", "blocked"])
        cards[cid] = Card(cid, f"card number {i}", status, "agent-1" if status == "claimed" else None)
    return cards, sorted(set(edges)), {cid: cid[:4] for cid in ids}


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    wall, cpu = [], []
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def ms(t: tuple[float, float]) -> str:
    return f"{t[0] * 1000:9.1f} ms wall {t[1] * 1000:9.1f} ms cpu"


def topo_baseline(ids, drawn) -> Callable[[], object]:
    return lambda: Digraph(ids, drawn).topo()


def bench_layout(sizes: list[int], runs: int) -> None:
    print("layout (dependencies -> dependents), 0 % done")
    for n in sizes:
        cards, edges, _ = plan(n, done=0.0)
        ids, drawn = list(cards), from_card_edges(edges)
        full = timed(lambda: layout(ids, drawn, dict.fromkeys(ids, 22), node_height=4), runs)
        compact = timed(lambda: layout(ids, drawn, {i: len(i) + 4 for i in ids}, node_height=3), runs)
        base = timed(topo_baseline(ids, drawn), runs)
        lay = layout(ids, drawn, dict.fromkeys(ids, 22), node_height=4)
        print(f"  {n:>6,} cards {len(edges):>6,} edges  full {ms(full)} | compact {ms(compact)} | topo sort {ms(base)}"
              f"  ({lay.width}x{lay.height} cells, {lay.crossings} crossings)")


def bench_first_draw(sizes: list[int], runs: int) -> None:
    from textual.app import App

    from mosaic_tui.board.screens import graph as graph_screen
    from mosaic_tui.board.screens.graph import DagScreen

    async def once(cards, edges, listed: bool) -> tuple[float, float]:
        app = App()
        limit = graph_screen.DRAW_LIMIT
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            graph_screen.DRAW_LIMIT = -1 if listed else limit  # listed: the layered list of the same cards
            try:
                w, c = time.perf_counter(), time.process_time()
                screen = DagScreen(cards, edges)
                await app.push_screen(screen)
                while not listed and screen.view.scene is None:  # the layout worker, then its message
                    await app.workers.wait_for_complete()
                    await pilot.pause()
                await pilot.pause()
                return time.perf_counter() - w, time.process_time() - c
            finally:
                graph_screen.DRAW_LIMIT = limit

    def median(pairs: list[tuple[float, float]]) -> tuple[float, float]:
        return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)

    print("first draw of the graph screen (in-process, headless, cards in hand: push -> drawn)")
    for n in sizes:
        if n > 300:
            continue
        cards, edges, _ = plan(n, done=0.3)
        drawn = median([asyncio.run(once(cards, edges, False)) for _ in range(runs)])
        listed = median([asyncio.run(once(cards, edges, True)) for _ in range(runs)])
        print(f"  {n:>6,} cards  drawn graph {ms(drawn)} | the layered list (baseline) {ms(listed)}")


def bench_list(sizes: list[int], runs: int) -> None:
    """The layered list above the draw limit: the Line-API view against a ``Static`` of the same text (what it
    was before), open and ten page-downs, CPU of this process."""
    from textual.app import App
    from textual.containers import VerticalScroll
    from textual.screen import Screen
    from textual.widgets import Static

    from mosaic_tui.board.screens.graph import DagScreen
    from mosaic_tui.board.draw.graph_text import layered

    class StaticList(Screen):  # the baseline: the list as one Static in a scroll container
        def __init__(self, text) -> None:
            super().__init__()
            self.text = text

        def compose(self):
            with VerticalScroll(id="dag-list", can_focus=True):
                yield Static(self.text, classes="nowrap")

        def on_mount(self) -> None:
            self.query_one("#dag-list").focus()

    class ListApp(App):
        CSS = "Static.nowrap { width: auto; text-wrap: nowrap; }"

    async def once(make) -> tuple[float, float]:
        app = ListApp()
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            c = time.process_time()
            await app.push_screen(make())
            for _ in range(3):
                await pilot.pause()
                await app.workers.wait_for_complete()
            opened = time.process_time() - c
            c = time.process_time()
            for _ in range(10):
                await pilot.press("pagedown")
            await pilot.pause()
            return opened, time.process_time() - c

    print("the layered list (> 300 cards): open and 10 x PgDn, CPU; baseline: a Static of the same text")
    for n in sizes:
        if n <= 300:
            continue
        cards, edges, _ = plan(n, done=0.3)
        text = layered(cards, edges, title="bench")
        now = [asyncio.run(once(lambda: DagScreen(cards, edges))) for _ in range(runs)]
        base = [asyncio.run(once(lambda: StaticList(text))) for _ in range(runs)]
        med = lambda xs, i: statistics.median(x[i] for x in xs) * 1000  # noqa: E731
        print(f"  {n:>6,} cards  open {med(now, 0):6.0f} ms (Static {med(base, 0):6.0f} ms) | "
              f"10 x PgDn {med(now, 1):6.0f} ms (Static {med(base, 1):6.0f} ms)")


def load(backlog, cards: dict[str, Card], edges: list[tuple[str, str]], phase: dict[str, str]) -> None:
    """The plan into a backlog: cards in order (dependencies first), then the statuses."""
    deps: dict[str, list[str]] = {}
    for card, dep in edges:
        deps.setdefault(card, []).append(dep)
    for cid, c in cards.items():
        backlog.create(cid, c.title, phase=phase[cid], depends_on=deps.get(cid, []))
    for cid, c in cards.items():
        if c.status == "done":
            backlog.complete(cid)
        elif c.status == "blocked":
            backlog.block(cid)
        elif c.status == "claimed":
            backlog.claim("agent-1", 3600, cid)


def bench_key_to_picture(sizes: list[int], runs: int, backends: list[str]) -> None:
    from _common import fresh_url

    from mosaic_tui.board.app import BoardApp
    from mosaic_tui.repository import Backlog

    async def once(backlog, key: str) -> tuple[float, float]:
        app = BoardApp(backlog, poll=None)  # no feed thread: its polling would count in the CPU time
        async with app.run_test(size=(160, 45)) as pilot:
            for _ in range(3):  # the board drawn, its workers done
                await pilot.pause()
                await app.workers.wait_for_complete()
            base = app.screen
            w, c = time.perf_counter(), time.process_time()
            await pilot.press(key)
            if key == "g":  # the read's worker, the screen, the layout's worker, its message (or the list)
                while app.screen is base or not (app.screen.has_class("listed") or app.screen.view.scene is not None):
                    await pilot.pause(0.001)
            else:
                while app.screen is base:
                    await pilot.pause(0.001)
            await pilot.pause()  # the picture painted
            return time.perf_counter() - w, time.process_time() - c

    def median(pairs: list[tuple[float, float]]) -> tuple[float, float]:
        return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)

    print("key to picture on the board (in-process, headless, 160x45; the database read included)")
    for backend in backends:
        for n in sizes:
            url, drop = fresh_url(backend)
            backlog = Backlog.open(url)
            try:
                cards, edges, _ = plan(n, done=0.3)
                load(backlog, cards, edges, dict.fromkeys(cards, "P"))
                g = median([asyncio.run(once(backlog, "g")) for _ in range(runs)])
                enter = median([asyncio.run(once(backlog, "enter")) for _ in range(runs)])
                shown = "drawn" if n <= 300 else "listed by layer"
                print(f"  {backend:>10} {n:>6,} cards ({shown})  g {ms(g)} | enter, card detail (baseline) {ms(enter)}")
            finally:
                backlog.close()
                drop()
    code = ("import time; import mosaic_tui.board.app, mosaic_tui.board.actions; w, c = time.perf_counter(), time.process_time(); "
            "import mosaic_tui.board.screens.graph; print(time.perf_counter() - w, time.process_time() - c)")
    took = [tuple(map(float, subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
                      .stdout.split())) for _ in range(runs)]
    print(f"  the first g of a process also imports the screen: {ms(median(took))} (fresh processes)")


def bench_analysis(big: int, runs: int) -> None:
    print(f"analysis at {big:,} cards")
    for done in (0.7, 0.0):
        cards, edges, phase = plan(big, done=done)
        ids, drawn = list(cards), from_card_edges(edges)
        statuses = {i: c.status for i, c in cards.items()}
        ks = timed(lambda: keystones(ids, statuses, drawn), runs)
        cp = timed(lambda: critical_paths(ids, statuses, drawn, phase), runs)
        base = timed(topo_baseline(ids, drawn), runs)
        top = max(keystones(ids, statuses, drawn).values(), default=0)
        longest = max(map(len, critical_paths(ids, statuses, drawn, phase).values()), default=0)
        print(f"  {int(done * 100):>3} % done, {len(edges):,} edges: keystones {ms(ks)} | critical paths per phase {ms(cp)}"
              f" | topo sort {ms(base)}  (most unlocked {top:,}; longest chain {longest})")
    ids = [f"c{i:06d}" for i in range(big)]
    drawn = list(zip(ids, ids[1:], strict=False))
    statuses = dict.fromkeys(ids, "ready")
    ks = timed(lambda: keystones(ids, statuses, drawn), max(1, runs // 2))
    base = timed(topo_baseline(ids, drawn), max(1, runs // 2))
    print(f"  one chain of {big:,} (worst case): keystones {ms(ks)} | topo sort {ms(base)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sizes", default="30,300,1000")
    ap.add_argument("--big", type=int, default=100_000)
    ap.add_argument("--backends", default="sqlite,pg", help="for key to picture: sqlite, pg or both")
    ap.add_argument("--only", choices=["layout", "draw", "list", "key", "analysis"], help="one part only")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = ["postgresql" if b == "pg" else b for b in args.backends.split(",") if b]
    if args.only in (None, "layout"):
        bench_layout(sizes, args.runs)
    if args.only in (None, "draw"):
        bench_first_draw(sizes, args.runs)
    if args.only in (None, "list"):
        bench_list(sizes + [2000], args.runs)
    if args.only in (None, "key"):
        bench_key_to_picture(sizes, args.runs, backends)
    if args.only in (None, "analysis"):
        bench_analysis(args.big, args.runs)


if __name__ == "__main__":
    main()
