"""The drawn graph in the board (``g``): its card keys write the database, it follows other programs, its keys
come from the key table; and the feed badge's text.

State-changing keys and other programs' changes run on both backends (the ``db_url`` fixture), with the
board's live feed on, as a person runs it.
"""

from __future__ import annotations

import threading
import time

import pytest

from boardkit import SIZE, aio, settle
from mosaic_tui.board.screens import graph as graph_screen
from mosaic_tui.board import keys, make_app, run_board
from mosaic_tui.board.screens.graph import DagScreen
from mosaic_tui.board.draw.dag_view import STATUS_COLOUR, DagView
from fixtures import FixedClock, seed
from mosaic_tui.board.panes.topbar import badge
from mosaic_tui.db.engine import open_database
from mosaic_tui.db.feed import SQLiteFeed
from mosaic_tui.errors import Unavailable
from mosaic_tui.repository import Backlog


async def until(pilot, predicate, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        await pilot.pause(0.05)


async def open_graph(pilot, status: str, card_id: str) -> DagScreen:
    """Select ``card_id`` on the board, press ``g``, wait for the drawing."""
    app = pilot.app
    await settle(pilot)
    col = app.columns[status]
    col.focus()
    await pilot.pause()
    col.cursor = col.find(card_id)[0]
    await settle(pilot)
    await pilot.press("g")
    await until(pilot, lambda: isinstance(app.screen, DagScreen) and app.screen.view.scene is not None, "the graph drawn")
    await settle(pilot)
    return app.screen


def box_text(view: DagView, card_id: str) -> str:
    """The box's first inner row as drawn (the row of the picture, cut to the box)."""
    box = view.scene.lay.nodes[card_id]
    row = "".join(seg.text for seg in view._draw_row(box.y + 1))
    return row[box.x:box.x + box.w]


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


# --------------------------------------------------------------------------- card keys
@aio
async def test_g_then_c_completes_the_selected_node(board):
    """The graph's selection, not the board's: moved off the board's card, c completes the box selected."""
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_graph(pilot, "ready", "M1-03")
        assert screen.view.selected == "M1-03"
        await pilot.press("l")
        target = screen.view.selected
        assert target not in (None, "M1-03") and backlog.get(target).status == "ready"
        await pilot.press("c")
        await settle(pilot)
        assert backlog.get(target).status == "done" and backlog.get("M1-03").status == "ready"
        # the graph redraws at once (the board's own change) and keeps the selection
        await until(pilot, lambda: screen.view.scene.nodes[target].status == "done", "the node redrawn as done")
        assert screen.view.selected == target and "✓" in box_text(screen.view, target)
        assert f"completed {target}" in notes(app) and not any("refused" in n for n in notes(app))
        await pilot.press("escape")
        await settle(pilot)
        assert app.columns["done"].find(target) is not None  # the board moved it too


@aio
@pytest.mark.parametrize("key,card_id,after", [("b", "M2-02", "blocked"), ("u", "M2-04", "ready"),
                                               ("o", "M1-01", "ready"), ("r", "M1-02", "ready")])
async def test_card_keys_act_on_the_graphs_selection(board, key, card_id, after):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_graph(pilot, "ready", "M2-02")
        screen.view.select(card_id)
        await pilot.press(key)
        await settle(pilot)
        card = backlog.get(card_id)
        assert card.status == after and (after == "claimed" or card.claim_owner is None)
        await until(pilot, lambda: screen.view.scene.nodes[card_id].status == after, f"{card_id} drawn {after}")


@aio
async def test_a_refused_key_in_the_graph_says_why_and_writes_nothing(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await open_graph(pilot, "ready", "M2-02")
        events = len(backlog.events())
        await pilot.press("o")  # reopen a ready card
        await settle(pilot)
        assert any("is not done (it is ready)" in n for n in notes(app))
        assert len(backlog.events()) == events and backlog.get("M2-02").status == "ready"
        assert isinstance(app.screen, DagScreen)


@aio
async def test_z_undoes_a_graph_action_as_it_undoes_a_board_one(board):
    """One path of a status change from every screen: a key on the graph is recorded like the board's, so
    back on the board ``z`` undoes it (and ``Z`` redoes it)."""
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_graph(pilot, "claimed", "M1-02")
        assert screen.view.selected == "M1-02"
        await pilot.press("b")  # block the claimed card on the graph
        await settle(pilot)
        assert backlog.get("M1-02").status == "blocked" and "blocked M1-02" in notes(app)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("z")
        await settle(pilot)
        m = backlog.get("M1-02")
        assert (m.status, m.claim_owner) == ("claimed", "agent-7")  # the claim is back, as it was
        assert "undid: block M1-02" in notes(app)
        await pilot.press("Z")
        await settle(pilot)
        assert backlog.get("M1-02").status == "blocked"


@aio
async def test_z_and_Z_on_the_graph_undo_and_redo_there(board):
    """The key table's keys of every screen (``keys.EVERYWHERE``) work on the drawn graph: ``z`` undoes the
    graph's own status change without leaving it (the board's history), the box is redrawn, ``Z`` redoes."""
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_graph(pilot, "claimed", "M1-02")
        await pilot.press("b")
        await settle(pilot)
        assert backlog.get("M1-02").status == "blocked"
        await until(pilot, lambda: screen.view.scene.nodes["M1-02"].status == "blocked", "M1-02 drawn blocked")
        await pilot.press("z")
        await settle(pilot)
        assert app.screen is screen  # still on the graph
        m = backlog.get("M1-02")
        assert (m.status, m.claim_owner) == ("claimed", "agent-7") and "undid: block M1-02" in notes(app)
        await until(pilot, lambda: screen.view.scene.nodes["M1-02"].status == "claimed", "M1-02 drawn claimed again")
        await pilot.press("Z")
        await settle(pilot)
        assert backlog.get("M1-02").status == "blocked" and "redid: block M1-02" in notes(app)
        await until(pilot, lambda: screen.view.scene.nodes["M1-02"].status == "blocked", "M1-02 drawn blocked again")
        await pilot.press("z")  # the one history: the block undone again, then nothing left
        await settle(pilot)
        await pilot.press("z")
        await settle(pilot)
        assert "nothing to undo" in notes(app) and app.screen is screen


def test_the_keys_of_every_screen_are_bound_on_each_with_one_id():
    for where in keys.SCREENS:
        bound = {b.id: b for b in keys.bindings(where)}
        assert {"board.undo", "board.redo"} <= set(bound)
        assert bound["board.undo"].key == "z" and bound["board.redo"].key == "Z"
    assert keys.UNDO in keys.KEYS and keys.UNDO in keys.GRAPH_KEYS  # in each screen's help and palette
    assert not {b.id for b in keys.bindings(keys.COLUMN) + keys.bindings(keys.NOTE)} & {"board.undo", "board.redo"}


@aio
async def test_enter_opens_the_selected_nodes_detail(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_graph(pilot, "ready", "M1-03")
        await pilot.press("k")  # up: a dependency of M1-03
        target = screen.view.selected
        assert target != "M1-03"
        await pilot.press("enter")
        await settle(pilot)
        from mosaic_tui.board.screens.dialogs import DetailScreen

        assert isinstance(app.screen, DetailScreen) and app.screen.card.id == target
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen


# --------------------------------------------------------------------------- other programs
@aio
async def test_another_programs_claim_recolours_its_node_and_a_new_link_redraws(board, db_url):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_graph(pilot, "ready", "M1-03")
        view = screen.view
        assert view.scene.nodes["M2-02"].status == "ready" and "@" not in box_text(view, "M2-02")
        other = Backlog(open_database(db_url))  # another program on the same database
        try:
            assert other.claim("agent-x", 600, "M2-02") is not None
            # no check_for_changes(): the board's change feed brings it
            await until(pilot, lambda: view.scene.nodes["M2-02"].status == "claimed", "the claim drawn")
            assert "◐ M2-02 @agent-x" in box_text(view, "M2-02")
            box = view.scene.lay.nodes["M2-02"]
            seg = next(s for s in view._draw_row(box.y + 1) if "M2-02" in s.text)
            assert seg.style.color.name == STATUS_COLOUR["claimed"]
            assert view.selected == "M1-03"  # the selection stays
            other.link("M2-05", "M2-02")  # M2-05 now depends on M2-02: a new line
            await until(pilot, lambda: "M2-02" in view.scene.up.get("M2-05", []), "the new link drawn")
        finally:
            other.close()


@aio
async def test_a_heartbeat_reads_nothing_and_reads_are_paced(sboard_factory, monkeypatch):
    """A heartbeat changes nothing drawn: no read. Someone else's changes: read again, at most once a second."""
    backlog, clock, url = sboard_factory
    reads = []
    real = graph_screen.read_graph
    monkeypatch.setattr(graph_screen, "read_graph", lambda *a, **k: reads.append(time.monotonic()) or real(*a, **k))
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_graph(pilot, "ready", "M1-03")
        assert len(reads) == 1  # the read for g
        scene = screen.view.scene
        other = Backlog(open_database(url))
        try:
            other.heartbeat("M1-02", "agent-7", ttl=1234)
            assert other.events(card="M1-02")[-1].kind == "heartbeat"
            app.check_for_changes()
            await settle(pilot)
            await pilot.pause(1.2)
            await settle(pilot)
            assert len(reads) == 1 and screen.view.scene is scene
            other.block("M2-02")
            app.check_for_changes()
            await until(pilot, lambda: screen.view.scene.nodes["M2-02"].status == "blocked", "the block drawn")
            other.block("M2-03")
            app.check_for_changes()
            await until(pilot, lambda: screen.view.scene.nodes["M2-03"].status == "blocked", "the second block drawn")
        finally:
            other.close()
        assert len(reads) == 3 and reads[2] - reads[1] >= 0.9  # the second read waited for its second


@pytest.fixture
def sboard_factory(sqlite_url):
    clock = FixedClock()
    backlog = Backlog(open_database(sqlite_url), clock=clock)
    seed(backlog, clock)
    yield backlog, clock, sqlite_url
    backlog.close()


# --------------------------------------------------------------------------- keys
def test_the_graphs_bindings_come_from_the_key_table_and_the_docs_hold_it():
    from pathlib import Path

    assert DagScreen.BINDINGS == keys.bindings(keys.GRAPH) and DagView.BINDINGS == keys.bindings(keys.GRAPH_VIEW)
    bound = {k for b in DagScreen.BINDINGS + DagView.BINDINGS for k in b.key.split(",")}
    assert {"b", "u", "c", "o", "r", "v", "enter", "escape", "q", "g", "h", "j", "k", "l", "up", "down"} <= bound
    ids = [b.id for key in keys.GRAPH_KEYS for b in key.bindings]
    assert len(ids) == len(set(ids))  # a keymap can rebind each one
    docs = (Path(__file__).parent.parent / "docs" / "board.md").read_text()
    assert keys.markdown_table(keys.GRAPH_KEYS) in docs


@aio
async def test_help_and_palette_on_the_graph_are_the_graphs(sboard_factory):
    backlog, clock, _ = sboard_factory
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_graph(pilot, "ready", "M2-02")
        titles = [c.title for c in app.get_system_commands(screen)]
        wanted = [k.palette for k in keys.GRAPH_KEYS if k.palette]
        assert [t for t in titles if t in wanted] == wanted
        assert "New card" not in titles and "Agents" not in titles  # the board's own act on the board
        screen.view.select("M2-05")  # done
        cmd = next(c for c in app.get_system_commands(screen) if c.title == "Reopen card")
        cmd.callback()
        await settle(pilot)
        assert backlog.get("M2-05").status == "ready"
        await pilot.press("question_mark")
        await settle(pilot)
        from mosaic_tui.board.screens.dialogs import HelpScreen

        assert isinstance(app.screen, HelpScreen)
        shown = str(app.screen.query_one("Static").render())
        assert all(k.shown in shown and k.help in shown for k in keys.GRAPH_KEYS)
        assert "critical path" in shown
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen


# --------------------------------------------------------------------------- the feed badge
def test_the_badge_says_the_feeds_label(tmp_path):
    assert badge("polling", "polling (every 1s)").plain == "◌ polling (every 1s)"
    assert badge("live", "live").plain == "● live"
    assert badge("lost", "lost").plain == "✕ feed lost"
    from mosaic_tui.board.panes.topbar import first_label

    b = Backlog.open(str(tmp_path / "x.db"))
    feed = b.feed()
    try:  # the SQLite board's first badge is what its feed will say (the picture does not change when it reports)
        assert isinstance(feed, SQLiteFeed)
        assert first_label(b.db.target) == (feed.status, feed.label) == ("polling", "polling (every 0.02s)")
    finally:
        feed.close()
        b.close()


@aio
async def test_the_top_bar_shows_the_feeds_label(sboard_factory):
    from mosaic_tui.board.app import FeedStatus

    backlog, clock, _ = sboard_factory
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "◌ polling (every 0.02s)" in str(app.topbar.render())
        app.live_feed.stop()  # its own reports are over: what follows is what the test posts
        app.live_feed.join(5)
        app.post_message(FeedStatus("polling", "polling (every 1s)"))  # a Postgres feed behind a pooler
        await settle(pilot)
        assert "◌ polling (every 1s)" in str(app.topbar.render()) and app.feed_status == "polling"
        app.post_message(FeedStatus("live", "live"))
        await settle(pilot)
        assert "● live" in str(app.topbar.render()) and "every" not in str(app.topbar.render())


def test_a_feed_polling_the_replica_reports_its_own_state_and_the_notice_gives_the_lag():
    from mosaic_tui.board.panes.topbar import replica_notice
    from mosaic_tui.db.feed import ChangeFeed
    from mosaic_tui.db.live import LiveFeed

    feed = ChangeFeed()
    feed.status, feed.interval = "polling", 1.0
    assert (feed.state, feed.label) == ("polling", "polling (every 1s)")  # a pooler: the primary, polled
    feed.where = " the replica"
    assert (feed.state, feed.label) == ("replica", "polling the replica (every 1s)")
    feed.status = "lost"
    assert feed.state == "lost"
    said = []
    feed.status, feed.busy = "polling", False
    feed.wait = lambda timeout: live.stop() or False  # one wait, then the thread stops
    live = LiveFeed(lambda: feed, lambda: None, lambda state, label: said.append((state, label)), poll=0.01)
    live._follow(feed)
    assert said == [("replica", "polling the replica (every 1s)")]  # what the board and events --follow hear
    assert badge("replica", "polling the replica (every 1s)").plain == "◌ polling the replica (every 1s)"
    assert "polling the replica (lag 123 ms)" in replica_notice(0.1234)
    assert "(lag 1,500 ms)" in replica_notice(1.5) and "(lag unknown)" in replica_notice(None)
    assert "caught up" not in replica_notice(0.0)


@aio
async def test_falling_back_to_the_replica_is_not_caught_up_and_coming_back_is(sboard_factory):
    """The wording path: lost, then polling the replica (the notice says so, with the lag, never "caught
    up"), then live on the primary again ("caught up", the board having looked)."""
    from mosaic_tui.board.app import FeedStatus

    backlog, clock, _ = sboard_factory
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.live_feed.stop()
        app.live_feed.join(5)
        said: list[str] = []
        app.notify = lambda message, **kw: said.append(str(message))
        for state, label in [("live", "live"), ("lost", "reconnecting"), ("replica", "polling the replica (every 1s)")]:
            app.post_message(FeedStatus(state, label))
            await settle(pilot)
        await until(pilot, lambda: said, "the replica's notice")
        assert said == [replica_notice_unknown()] and "◌ polling the replica (every 1s)" in str(app.topbar.render())
        app.post_message(FeedStatus("replica", "polling the replica (every 2s)"))  # the same state: said once
        app.post_message(FeedStatus("live", "live"))
        await settle(pilot)
        assert said[1:] == ["feed reconnected: caught up"] and app.feed_status == "live"


def replica_notice_unknown() -> str:
    from mosaic_tui.board.panes.topbar import replica_notice

    return replica_notice(None)  # a SQLite board has no replica to measure


def test_run_board_hands_the_listen_and_read_urls_to_the_backlog(monkeypatch, capsys):
    seen = {}

    def fake_open(url=None, **kw):
        seen.update(kw, url=url)
        raise Unavailable("not reached")

    monkeypatch.setattr(Backlog, "open", fake_open)
    assert run_board("postgresql://u@db/x", listen_url="postgresql://u@server/x",
                     read_url="postgresql://u@replica/x") == 5
    assert seen == {"url": "postgresql://u@db/x", "listen_url": "postgresql://u@server/x",
                    "read_url": "postgresql://u@replica/x"}
    assert "not reached" in capsys.readouterr().err


@aio
async def test_the_dependency_pane_follows_the_board_while_the_graph_is_open(sboard_factory):
    """A card that leaves the board's cursor while the graph is on top: back on the board, the dependency pane
    shows the card now selected (the columns' selection is told while another screen has the focus)."""
    backlog, clock, url = sboard_factory
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await open_graph(pilot, "ready", "M2-02")
        other = Backlog(open_database(url))
        try:
            other.claim("agent-x", 600, "M2-02")
        finally:
            other.close()
        app.check_for_changes()
        await until(pilot, lambda: app.screen.view.scene.nodes["M2-02"].status == "claimed", "the claim drawn")
        await pilot.press("escape")
        await settle(pilot)
        now = app.selected_card()
        assert now is not None and now.id != "M2-02"
        await until(pilot, lambda: app.dependencies.card_id == now.id, "the pane on the selected card")


@aio
async def test_g_pressed_again_while_the_graph_is_read_opens_one_graph(board, monkeypatch):
    backlog, clock = board
    slow = graph_screen.read_graph
    reading, gate = threading.Event(), threading.Event()

    def read_slowly(*args):
        reading.set()
        assert gate.wait(60), "the read was never let through"  # held until the second g has been pressed
        return slow(*args)

    monkeypatch.setattr(graph_screen, "read_graph", read_slowly)
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        base = len(app.screen_stack)
        await pilot.press("g")
        await until(pilot, reading.is_set, "the first g reading")
        await pilot.press("g")  # the second g arrives while the first is still reading
        gate.set()
        await until(pilot, lambda: isinstance(app.screen, DagScreen), "the graph open")
        await settle(pilot)
        await pilot.pause(0.5)
        assert len(app.screen_stack) == base + 1 and sum(isinstance(s, DagScreen) for s in app.screen_stack) == 1
        await pilot.press("g")  # g on the graph closes it
        await settle(pilot)
        assert len(app.screen_stack) == base
        await pilot.press("g")  # and it opens again
        await until(pilot, lambda: isinstance(app.screen, DagScreen), "the graph open again")
