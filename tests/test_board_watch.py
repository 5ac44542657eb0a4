"""The fleet views from the board itself: `f` (Flow), `t` (Activity) and the needs-attention badge, on both backends."""

from __future__ import annotations



from boardkit import SIZE, aio, settle
from mosaic_tui.board import make_app
from mosaic_tui.board.panes.attention import AttentionBadge
from mosaic_tui.board.screens.flow import FlowScreen
from mosaic_tui.board.screens.timeline import TimelineScreen
from mosaic_tui.repository import Backlog


@aio
async def test_the_badge_counts_the_stale_claim_the_board_opens_on(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        badge = app.query_one(AttentionBadge)
        # the fixture's M2-01 (agent-3) has an ended lease: counted, not told (it was so before the board opened)
        assert badge.attention.stale == 1 and badge.has_class("shown") and "⚠ 1 stale" in str(badge.render())
        assert [q.card_id for q in badge.attention.claims] == ["M2-01"]
        assert not any("lease" in n.message for n in app._notifications)


@aio
async def test_f_opens_flow_its_keys_switch_the_window_escape_goes_back(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, FlowScreen) and screen.figures.window.key == "1d"
        assert {s: v[-1] for s, v in screen.figures.cfd.items()} == backlog.stats()["counts"]
        await pilot.press("1")
        await settle(pilot)
        assert screen.figures.window.key == "1h"
        await pilot.press("b")  # a card key does nothing on the Flow screen
        await settle(pilot)
        assert app.screen is screen and backlog.stats()["counts"]["blocked"] == 1
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, FlowScreen)


@aio
async def test_t_opens_the_activity_and_another_programs_change_arrives(board, db_url):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TimelineScreen) and screen.loaded
        assert len(screen.events.lines) == len([e for e in backlog.events() if e.kind != "heartbeat"])
        other = Backlog.open(db_url)
        other.complete("M1-06")
        other.close()
        app.check_for_changes()  # what the change feed does when another program commits
        await settle(pilot)
        top = screen.events.lines[0]
        assert (top.event.card_id, top.event.kind, top.title) == ("M1-06", "completed", "Stats footer")
        await pilot.press("t")
        await settle(pilot)
        assert not isinstance(app.screen, TimelineScreen)


@aio
async def test_a_recount_does_not_make_the_agents_pane_wait_for_the_next_claim(board, db_url):
    """The pane reads at most once a second for events; a recount's read (no events) is outside that pacing,
    so another program's claim right after a recount is drawn at once, not a second later."""
    from mosaic_tui.board.changes import Changes

    backlog, clock = board
    url = db_url
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        pane = app.query_one("#agents")
        assert pane.display and "agent-x" not in [a.owner for a in pane.agents]
        pane._last_read -= 5  # the last read for events was seconds ago
        app.refresher.notices.publish(Changes(app.refresher.generation, app.refresher.scope, recount=True))
        await settle(pilot)
        other = Backlog.open(url)
        card = other.claim("agent-x", ttl=600)
        other.close()
        app.check_for_changes()
        await settle(pilot)  # no timer runs here: a read paced a second later would not have happened yet
        held = {a.owner: [h.id for h in a.held] for a in pane.agents}
        assert held.get("agent-x") == [card.id]


@aio
async def test_the_footer_is_in_step_with_the_columns_after_a_bulk_block_and_another_programs_change(board, monkeypatch):
    """The footer's figures come with the notice the columns draw from (``claimable`` and ``expired`` read
    right after it, in a worker of the footer's own), not at the next recount: after a bulk block
    ``claimable`` already says what the ready column shows."""
    import mosaic_tui.board.refresher as refresher_module

    monkeypatch.setattr(refresher_module, "RECOUNT_S", 3600.0)  # no recount comes to the rescue during the test
    monkeypatch.setattr(refresher_module, "RECOUNT_BUSY_S", 3600.0)
    backlog, clock = board
    backlog.create("M9-01", "Another claimable card", phase="M2")
    claimable = [c.id for c in backlog.list(status="ready") if c.unmet_deps == 0]
    assert len(claimable) >= 2
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = app.stats["claimable"]
        col = app.columns["ready"]
        col.focus()
        for card_id in claimable[:2]:
            col.cursor = col.find(card_id)[0]
            await pilot.pause()
            await pilot.press("space")
        await pilot.press("b")
        await settle(pilot)
        truth = backlog.stats(recent=False)
        assert app.stats["claimable"] == truth["claimable"] == before - 2 and app.stats["expiredClaimCount"] == 1
        assert app.stats["counts"] == truth["counts"] and app.stats["counts"]["ready"] == col.count
        assert f"claimable {truth['claimable']}" in str(app.stats_footer.render())
        # another program unblocks one of them: the next look brings columns and footer together
        other = Backlog.open(backlog.db.target.raw)
        other.unblock(claimable[0])
        other.close()
        app.check_for_changes()
        await settle(pilot)
        truth = backlog.stats(recent=False)
        assert app.stats["claimable"] == truth["claimable"] == before - 1 and app.stats["counts"]["ready"] == col.count
