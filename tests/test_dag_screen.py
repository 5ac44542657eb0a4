"""The drawn graph screen (mosaic_tui.board.screens.graph): pictures, navigation, compact mode, live redraw, fallback."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from textual.app import App

from boardkit import aio
from mosaic_tui.board.screens.graph import DRAW_LIMIT, DagScreen
from mosaic_tui.board.draw.dag_view import DagView
from fixtures import FixedClock, seed
from mosaic_tui.db.engine import open_database
from mosaic_tui.demo import build_plan
from mosaic_tui.repository import Backlog

WIDE = (160, 45)


@dataclass(frozen=True)
class C:
    """What the screen reads of a card (the repository's Card has these too)."""

    id: str
    title: str
    status: str = "ready"
    claim_owner: str | None = None
    phase: str | None = None


def diamond() -> tuple[dict[str, C], list[tuple[str, str]]]:
    cards = {
        "a": C("a", "Schema", "done"),
        "b": C("b", "Claims", "claimed", "agent-7"),
        "c": C("c", "Board"),
        "d": C("d", "Release"),
    }
    return cards, [("b", "a"), ("c", "a"), ("d", "b"), ("d", "c")]  # (card, dependency), as the repository gives


DEMO_STATUS = {"M1-01": "done", "M1-02": "done", "M1-03": "done", "M1-04": "done", "M1-05": "claimed",
               "M1-06": "claimed", "M2-01": "done", "M2-04": "blocked", "M2-02": "claimed"}
DEMO_OWNER = {"M1-05": "agent-1", "M1-06": "agent-2", "M2-02": "agent-3"}


def demo_plan() -> tuple[dict[str, C], list[tuple[str, str]]]:
    plan = build_plan()
    cards = {c["id"]: C(c["id"], c["title"], DEMO_STATUS.get(c["id"], "ready"), DEMO_OWNER.get(c["id"]), c.get("phase")) for c in plan}
    return cards, [(c["id"], d) for c in plan for d in c["depends_on"]]


class DagApp(App):
    def __init__(self, cards, edges, **kw) -> None:
        super().__init__()
        self.screen_args = (cards, edges, kw)
        self.opened: list[str] = []
        self.actions: list[tuple[str, str]] = []

    def on_mount(self) -> None:
        cards, edges, kw = self.screen_args
        self.push_screen(DagScreen(cards, edges, title="Dependency graph · all phases", **kw))

    def on_dag_view_open(self, msg: DagView.Open) -> None:
        self.opened.append(msg.card_id)

    def on_dag_screen_card_action(self, msg: DagScreen.CardAction) -> None:
        self.actions.append((msg.action, msg.card_id))


async def settle(pilot) -> None:
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def presses(*keys: str):
    async def run_before(pilot) -> None:
        await settle(pilot)
        if keys:
            await pilot.press(*keys)
            await settle(pilot)

    return run_before


# --------------------------------------------------------------------------- pictures
def test_diamond_picture(snap_compare):
    assert snap_compare(DagApp(*diamond()), terminal_size=(80, 24), run_before=presses())


def test_demo_plan_picture(snap_compare):
    assert snap_compare(DagApp(*demo_plan()), terminal_size=WIDE, run_before=presses())


def test_demo_plan_compact_picture(snap_compare):
    assert snap_compare(DagApp(*demo_plan()), terminal_size=WIDE, run_before=presses("v", "j", "j"))


# --------------------------------------------------------------------------- behaviour
@aio
async def test_header_names_the_critical_path_and_the_info_line_the_card():
    app = DagApp(*diamond())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        crit = str(screen.query_one("#dag-critical").render())
        assert "critical path: 2 cards via b → d" in crit  # a is done: not unfinished work
        assert screen.view.selected == "b"  # the first card of the critical path
        info = str(screen.query_one("#dag-info").render())
        assert "b claimed @agent-7" in info and "unlocks 1" in info and "on the critical path" in info


@aio
async def test_navigation_moves_along_the_layout():
    app = DagApp(*diamond())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        view = app.screen.view
        seen = []
        for key in ["k", "k", "j", "l", "l", "h", "down", "up", "right"]:
            await pilot.press(key)
            seen.append(view.selected)
        # from b: up to a, stays at the top, down to b (the nearest below), right to c, stays, left to b ...
        assert seen == ["a", "a", "b", "c", "c", "b", "d", "b", "c"]
        assert str(app.screen.query_one("#dag-info").render()).startswith("○ c ready  Board · unlocks 1")


@aio
async def test_selection_lights_its_upstream_and_downstream_and_dims_the_rest():
    cards, edges = diamond()
    app = DagApp(cards, edges)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        view = app.screen.view
        assert view.selected == "b" and (view._up, view._down) == ({"a"}, {"d"})
        lay = view.scene.lay

        def text_style(card_id):
            box = lay.nodes[card_id]
            strip = view._draw_row(box.y + 1)
            seg = next(s for s in strip if card_id in s.text)
            return seg.style

        assert text_style("c").dim and not text_style("b").dim and not text_style("a").dim and not text_style("d").dim
        await pilot.press("l")  # select c: now b is the unrelated one
        assert text_style("b").dim and not text_style("c").dim


@aio
async def test_view_pans_to_keep_the_selection_in_sight():
    app = DagApp(*demo_plan())
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        view = app.screen.view
        for _ in range(12):
            await pilot.press("l")
            await pilot.press("j")
            await pilot.pause()
            box = view.scene.lay.nodes[view.selected]
            sx, sy = view.scroll_offset
            w, h = view.size
            assert sx <= box.x and box.x + box.w <= sx + w, (view.selected, sx, w)
            assert sy <= box.y and box.y + box.h <= sy + h, (view.selected, sy, h)
        assert view.scroll_offset != (0, 0)


@aio
async def test_compact_mode_draws_ids_only_and_keeps_the_selection():
    app = DagApp(*demo_plan())
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        view = app.screen.view
        await pilot.press("j", "l")
        chosen = view.selected
        full = view.scene
        await pilot.press("v")
        await settle(pilot)
        assert view.scene.compact and view.selected == chosen
        assert view.scene.lay.width < full.lay.width and view.scene.lay.height < full.lay.height
        assert all(box.h == 3 for box in view.scene.lay.nodes.values())
        assert view.scene.lines("M3-01") == ["○ M3-01"] or view.scene.lines("M3-01") == ["⧗ M3-01"]
        await pilot.press("v")
        await settle(pilot)
        assert not view.scene.compact and view.selected == chosen and view.scene is full


@aio
async def test_enter_opens_the_card_and_card_keys_reach_the_app_only_when_asked_for():
    app = DagApp(*diamond())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("enter", "c")
        await pilot.pause()
        assert app.opened == ["b"] and app.actions == []
    app = DagApp(*diamond(), card_keys=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("c", "l", "b", "r")
        await pilot.pause()
        assert app.actions == [("complete", "b"), ("block", "c"), ("release", "c")]


@aio
async def test_refresh_graph_redraws_live_and_keeps_the_selection():
    cards, edges = diamond()
    app = DagApp(cards, edges)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("l")
        assert screen.view.selected == "c"
        # b is completed by an agent; a new card e needs d
        cards2 = dict(cards, b=replace(cards["b"], status="done", claim_owner=None), e=C("e", "Announce"))
        screen.refresh_graph(cards2, [*edges, ("e", "d")])
        await settle(pilot)
        assert screen.view.selected == "c"
        assert screen.view.scene.nodes["b"].status == "done" and "e" in screen.view.scene.lay.nodes
        assert "critical path: 3 cards via c → d → e" in str(screen.query_one("#dag-critical").render())
        # the selected card goes away: the selection falls to the critical path's first card
        del cards2["c"]
        screen.refresh_graph(cards2, [("d", "b"), ("e", "d")])
        await settle(pilot)
        assert screen.view.selected == "d"


@aio
async def test_a_dependency_naming_no_card_is_drawn_and_cannot_be_opened():
    cards = {"a": C("a", "Needs a ghost")}
    app = DagApp(cards, [("a", "ghost")])
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        view = app.screen.view
        assert view.scene.nodes["ghost"].status is None and view.scene.nodes["a"].waiting
        await pilot.press("k")
        assert view.selected == "ghost"
        await pilot.press("enter")
        await pilot.pause()
        assert app.opened == []


@aio
async def test_above_the_limit_it_lists_the_layers_and_says_so():
    cards = {f"C{i:04d}": C(f"C{i:04d}", f"card {i}") for i in range(DRAW_LIMIT + 1)}
    edges = [(f"C{i:04d}", f"C{i - 1:04d}") for i in range(1, DRAW_LIMIT + 1)]
    app = DagApp(cards, edges)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert screen.has_class("listed") and screen.view.scene is None
        assert f"more than {DRAW_LIMIT} to draw" in str(screen.query_one("#dag-critical").render())
        shown = screen.query_one("#dag-list")
        assert "layer 300" in shown.plain
        strip = shown.render_line(0)  # drawn line by line: the first line on screen is the list's first
        assert strip.text.rstrip() == shown.plain.splitlines()[0].rstrip()
        assert app.focused is shown
        await pilot.press("end")  # its keys scroll it: the last line is at the bottom
        await settle(pilot)
        seen = [shown.render_line(y).text.rstrip() for y in range(shown.scrollable_content_region.height)]
        assert [ln for ln in seen if ln][-1] == shown.plain.rstrip().splitlines()[-1].rstrip() and shown.scroll_y > 0
        await pilot.press("v")  # no compact mode for the list
        assert not screen.compact
        # fewer cards again (a filter, a live change): drawn
        small = dict(list(cards.items())[:10])
        screen.refresh_graph(small, [e for e in edges if e[0] in small and e[1] in small])
        await settle(pilot)
        assert not screen.has_class("listed") and len(screen.view.scene.lay.nodes) == 10


@pytest.fixture
def seeded(sqlite_url):
    clock = FixedClock()
    backlog = Backlog(open_database(sqlite_url), clock=clock)
    seed(backlog, clock)
    yield backlog
    backlog.close()


@aio
async def test_fed_from_the_repository(seeded):
    cards = {c.id: c for c in seeded.list()}
    app = DagApp(cards, seeded.edges())
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        scene = app.screen.view.scene
        assert set(scene.lay.nodes) == set(cards)
        assert scene.analysis.critical == ["M1-02", "M1-04", "M1-05", "M1-07"]
        assert scene.analysis.unlocks["M1-02"] == 4
        assert scene.lines("M1-02")[0].startswith("◐ M1-02 @agent-7")


@aio
async def test_titles_and_ids_are_drawn_literally():
    cards = {"x\x1b[2J": C("x\x1b[2J", "[bold]Boom[/bold]\x07\u202e", "claimed", "ev\til")}
    app = DagApp(cards, [])
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        view = app.screen.view
        head, title = view.scene.lines("x\x1b[2J")
        assert head.startswith("◐ x\\e[2J @ev\\til") and title.startswith("[bold]Boom[/bol")
        row = "".join(seg.text for seg in view._draw_row(view.scene.lay.nodes["x\x1b[2J"].y + 2))
        assert "\x1b" not in row and "\x07" not in row and "[bold]" in row
        info = str(app.screen.query_one("#dag-info").render())
        assert "\x1b" not in info and "\\e[2J" in info and "\\x07\\u202e" in info


@aio
async def test_each_phase_has_its_critical_path_lit_and_the_longest_is_named():
    app = DagApp(*demo_plan())
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        scene = app.screen.view.scene
        # one chain per phase with unfinished work, each inside its phase, all lit
        assert set(scene.paths) == {"M1", "M2", "M3", "M4"}
        for phase, chain in scene.paths.items():
            assert chain and all(scene.nodes[c].phase == phase and scene.nodes[c].status != "done" for c in chain)
        assert scene.critical_set == set().union(*scene.paths.values())
        longest = max(scene.paths.values(), key=len)
        assert scene.analysis.critical == longest
        crit = str(app.screen.query_one("#dag-critical").render())
        assert crit.startswith(f"critical path (M4): {len(longest)} cards · ")
        for phase in ("M1", "M2", "M3"):
            assert f"{phase} {len(scene.paths[phase])}" in crit
