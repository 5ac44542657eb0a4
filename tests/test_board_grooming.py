"""The board's grooming keys (Pilot), and the backlog in the database afterwards, on both backends:
marks, bulk status keys with refusals, reorder, priority, phase, delete, undo / redo, $EDITOR,
copy, the filter's @owner and phase:, readable titles."""

from __future__ import annotations


import pytest

from boardkit import SIZE, aio, settle
from mosaic_tui.board import make_app
from mosaic_tui.board.app import BoardApp
from mosaic_tui.errors import NotFound
from mosaic_tui.repository.query import Term


async def select(pilot, status: str, card_id: str) -> None:
    col = pilot.app.columns[status]
    col.focus()
    await pilot.pause()
    found = col.find(card_id)
    assert found is not None, f"{card_id} not shown in {status}"
    col.cursor = found[0]
    await settle(pilot)
    assert pilot.app.selected_card().id == card_id


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


def status_of(backlog, *ids) -> list[str]:
    return [backlog.get(i).status for i in ids]


def ready_order(backlog) -> list[str]:
    return [c.id for c in backlog.list(status="ready")]


# --------------------------------------------------------------------------- marks and bulk status keys
@aio
async def test_marks_then_b_blocks_all_in_one_notice_with_refusals(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "ready", "M1-03")
        await pilot.press("space")  # marks M1-03, the cursor goes on to M1-04
        assert app.selected_card().id == "M1-04"
        await pilot.press("space")
        await select(pilot, "done", "M1-01")
        await pilot.press("space")
        await settle(pilot)
        assert app.marks.ids == ["M1-03", "M1-04", "M1-01"]
        assert "3 marked" in str(app.stats_footer.render())
        assert " ●M1-03 p3" in app.columns["ready"].render_line(0).text  # the mark in the row (a narrow column now)
        await pilot.press("b")
        await settle(pilot)
        assert status_of(backlog, "M1-03", "M1-04", "M1-01") == ["blocked", "blocked", "done"]
        assert "blocked 2 cards; 1 refused: M1-01 is done" in notes(app)
        assert app.columns["blocked"].count == 3 == backlog.count(status="blocked")
        assert app.marks.ids == ["M1-03", "M1-04", "M1-01"]  # marks stay for the next action
        await pilot.press("escape")
        await settle(pilot)
        assert not app.marks and "marked" not in str(app.stats_footer.render())


@aio
async def test_M_marks_the_column_under_a_phase_filter_and_c_completes_them(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"phase:M2", "enter")
        await settle(pilot)
        assert app.refresher.scope.query == Term("phase", ":", "M2") and app.columns["ready"].count == 2
        await select(pilot, "ready", "M2-02")
        await pilot.press("M")
        await settle(pilot)
        assert sorted(app.marks.ids) == ["M2-02", "M2-03"]
        await pilot.press("c")
        await settle(pilot)
        assert status_of(backlog, "M2-02", "M2-03") == ["done", "done"]
        assert status_of(backlog, "M1-03") == ["ready"]  # outside the filter: untouched
        assert "completed 2 cards" in notes(app)


@aio
async def test_filter_by_owner(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"@agent-7", "enter")
        await settle(pilot)
        assert app.refresher.scope.query == Term("owner", ":", "agent-7")
        claimed = app.columns["claimed"]
        assert claimed.count == 1 and claimed.find("M1-02") is not None and claimed.find("M1-06") is None
        assert app.columns["ready"].count == 0
        assert 'filter: "@agent-7"' in str(app.topbar.render())
        await pilot.press("slash")
        assert app.filter_box.value == "@agent-7"
        app.filter_box.value = ""
        await pilot.press("enter")
        await settle(pilot)
        assert app.refresher.scope.query is None and app.columns["claimed"].count == 3


# --------------------------------------------------------------------------- reorder and priority
@aio
async def test_K_J_move_the_card_and_the_cursor_stays_on_it(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert ready_order(backlog)[:3] == ["M1-03", "M1-04", "M1-05"]
        await select(pilot, "ready", "M1-05")
        await pilot.press("K")  # past M1-04 (p3, older): p4, which passes M1-03 too (same p3)
        await settle(pilot)
        assert backlog.get("M1-05").priority == 4 and ready_order(backlog)[:3] == ["M1-05", "M1-03", "M1-04"]
        assert app.selected_card().id == "M1-05" and app.columns["ready"].cursor == 0
        await pilot.press("J")  # past M1-03 (p3; M1-05 is younger, so p3 is enough) ... and M1-04 too (a tie)
        await settle(pilot)
        assert backlog.get("M1-05").priority == 3 and ready_order(backlog)[:3] == ["M1-03", "M1-04", "M1-05"]
        assert app.selected_card().id == "M1-05" and app.columns["ready"].cursor == 2
        await pilot.press("plus", "plus")
        await settle(pilot)
        assert backlog.get("M1-05").priority == 5 and app.selected_card().id == "M1-05"
        await pilot.press("minus")
        await settle(pilot)
        assert backlog.get("M1-05").priority == 4
        await select(pilot, "ready", ready_order(backlog)[0])
        first = app.selected_card().id
        await pilot.press("K")
        await settle(pilot)
        assert any(f"{first} is already first in ready" in n for n in notes(app))


@aio
async def test_K_on_a_card_claimed_meanwhile_is_refused(board):
    backlog, clock = board
    app = BoardApp(backlog, clock=clock, poll=None)  # no feed: the board has not seen the claim
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "ready", "M2-02")
        assert backlog.claim("agent-5", id="M2-02") is not None
        await pilot.press("K")
        await settle(pilot)
        assert any("M2-02 was claimed by agent-5 meanwhile; not moved" in n for n in notes(app)), notes(app)
        card = backlog.get("M2-02")
        assert card.priority == 1 and card.claim_owner == "agent-5"


# --------------------------------------------------------------------------- phase, delete, copy
@aio
async def test_P_puts_marked_cards_in_a_phase(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "ready", "M1-03")
        await pilot.press("space", "space")
        await pilot.press("P")
        await settle(pilot)
        await pilot.press(*"M9", "enter")
        await settle(pilot)
        assert backlog.get("M1-03").phase == "M9" and backlog.get("M1-04").phase == "M9"
        assert "put 2 cards in phase M9" in notes(app)
        assert backlog.get("M1-05").phase == "M1"


@aio
async def test_x_deletes_after_asking_refuses_a_needed_card_and_z_brings_it_back(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "ready", "M2-02")
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("escape")  # cancelled: nothing happens
        await settle(pilot)
        assert backlog.get("M2-02").status == "ready"
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert any("M2-02 is needed by M2-03" in n for n in notes(app)), notes(app)
        assert backlog.get("M2-02").status == "ready"
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("u")  # delete and unlink its dependents
        await settle(pilot)
        with pytest.raises(NotFound):
            backlog.get("M2-02")
        assert backlog.get("M2-03").depends_on == []
        assert [e.kind for e in backlog.events(card="M2-02")][-1] == "deleted"
        assert app.columns["ready"].find("M2-02") is None
        ready = app.columns["ready"]
        assert "M2-03" not in ready.waits  # no stale waiting mark once its dependency is unlinked
        assert "claimable" in ready._meta(ready.find("M2-03")[1]).plain
        await pilot.press("z")
        await settle(pilot)
        assert backlog.get("M2-02").title == "Import from the fleet" and backlog.get("M2-03").depends_on == ["M2-02"]
        assert "undid: delete M2-02" in notes(app)
        assert app.columns["ready"].find("M2-02") is not None


@aio
async def test_y_copies_ids(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "ready", "M1-03")
        await pilot.press("y")
        assert app.clipboard == "M1-03"
        await pilot.press("space", "space", "y")
        assert app.clipboard == "M1-03\nM1-04"


# --------------------------------------------------------------------------- undo / redo
@aio
async def test_z_Z_undo_and_redo_a_bulk_action(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "claimed", "M1-02")
        await pilot.press("space", "space")  # M1-02 and M2-01
        await pilot.press("b")
        await settle(pilot)
        assert status_of(backlog, "M1-02", "M2-01") == ["blocked", "blocked"]
        await pilot.press("z")
        await settle(pilot)
        m = backlog.get("M1-02")
        assert (m.status, m.claim_owner) == ("claimed", "agent-7")  # the claim is back, as it was
        assert backlog.get("M2-01").claim_owner == "agent-3"
        await pilot.press("Z")
        await settle(pilot)
        assert status_of(backlog, "M1-02", "M2-01") == ["blocked", "blocked"]
        assert "redid: block 2 cards" in notes(app)


@aio
async def test_z_refuses_when_an_agent_changed_the_card_since(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "ready", "M2-02")
        await pilot.press("b")
        await settle(pilot)
        backlog.unblock("M2-02")  # someone else, then an agent takes it
        backlog.claim("agent-5", id="M2-02")
        await settle(pilot)
        await pilot.press("z")
        await settle(pilot)
        assert any("cannot undo block M2-02: M2-02 was unblocked since" in n for n in notes(app)), notes(app)
        assert backlog.get("M2-02").claim_owner == "agent-5"
        await pilot.press("z")
        await settle(pilot)
        assert "nothing to undo" in notes(app)


@aio
async def test_edit_form_and_dependency_keys_are_undoable(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "ready", "M2-02")
        await pilot.press("d")
        await settle(pilot)
        await pilot.press(*"M2-05", "enter")
        await settle(pilot)
        assert backlog.get("M2-02").depends_on == ["M2-05"]
        await pilot.press("z")
        await settle(pilot)
        assert backlog.get("M2-02").depends_on == []


# --------------------------------------------------------------------------- $EDITOR
@aio
async def test_E_edits_in_the_editor_and_a_parse_error_reopens_it(board, monkeypatch):
    backlog, clock = board
    seen: list[str] = []

    def editor(app, card_id, text):
        seen.append(text)
        if len(seen) == 1:
            return text.replace("priority: 1", "priority: high").replace("title: Import from the fleet", "title: Renamed")
        if len(seen) == 2:
            return text.replace("priority: high", "priority: 7")
        raise AssertionError("opened a third time")

    monkeypatch.setattr("mosaic_tui.board.grooming.editor.edit_text", editor)
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "ready", "M2-02")
        await pilot.press("E")
        await settle(pilot)
        assert seen[0].splitlines()[2] == "title: Import from the fleet"
        assert seen[1].startswith("# ERROR: line 6: priority must be an integer, not 'high'")
        card = backlog.get("M2-02")
        assert (card.title, card.priority) == ("Renamed", 7)
        await pilot.press("z")
        await settle(pilot)
        assert backlog.get("M2-02").title == "Import from the fleet"


@aio
async def test_E_unchanged_writes_nothing_and_a_conflict_keeps_the_text(board, monkeypatch, tmp_path):
    backlog, clock = board
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    events = len(backlog.events())
    monkeypatch.setattr("mosaic_tui.board.grooming.editor.edit_text", lambda app, cid, text: text)
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "ready", "M2-02")
        await pilot.press("E")
        await settle(pilot)
        assert "M2-02: no change" in notes(app) and len(backlog.events()) == events

        def meanwhile(app, cid, text):
            backlog.update_card("M2-02", title="changed by someone else")
            return text.replace("title: Import from the fleet", "title: mine")

        monkeypatch.setattr("mosaic_tui.board.grooming.editor.edit_text", meanwhile)
        await pilot.press("E")
        await settle(pilot)
        assert backlog.get("M2-02").title == "changed by someone else"
        kept = [n for n in notes(app) if "your text is kept in" in n]
        assert kept, notes(app)
        path = kept[0].rsplit(" ", 1)[1]
        assert "title: mine" in open(path).read()


# --------------------------------------------------------------------------- readable titles
@aio
async def test_titles_read_at_160_columns_and_backslash_gives_more(board):
    backlog, clock = board
    title = "Migrate the events table to a partitioned layout by month"  # 57 characters
    backlog.create("M3-01", title, priority=9)
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "ready", "M3-01")
        line = app.columns["ready"].render_line(0).text
        assert title[:40] in line, line
        shown = len(line.split("M3-01 p9 ", 1)[1].rstrip("… │"))
        await pilot.press("backslash")
        await settle(pilot)
        assert not app.dependencies.display
        wider = app.columns["ready"].render_line(0).text
        assert title in wider and len(wider.split("M3-01 p9 ", 1)[1].rstrip(" │")) > shown
        await pilot.press("backslash")
        await settle(pilot)
        assert app.dependencies.display


def test_fit_gives_floors_then_the_focused_column_then_the_needs():
    from mosaic_tui.board.panes.columns import STRIP
    from mosaic_tui.board.panes.kanban import fit

    # ready focused (needs 70), claimed floor 30 (owner + lease), an empty strip, done needs 40
    wants = [(17, 70), (30, 45), (STRIP, STRIP), (14, 40)]
    got = fit(112, wants, 0, hard={1})  # 112: the columns' share at 160 cells beside the dependency pane
    assert got == [56, 30, 14, 12]  # the focused one its three shares of six; the others' titles give way a little
    got = fit(200, wants, 0)  # room for every need: the focused column takes what is left over
    assert got[1:] == [45, STRIP, 40] and got[0] == 200 - 45 - STRIP - 40
    got = fit(200, wants, 2)  # an empty strip focused: the left-over goes to the others, not to it
    assert got[2] == STRIP and sum(got) == 200 and got[0] > 70
    got = fit(50, wants, 1)  # floors do not fit: shared in their proportion, the whole width used
    assert sum(got) == 50 and got[1] > got[3]
    # a narrow terminal: the other floors give way (to 10 cells) before the focused column, never the claimed one's
    got = fit(77, [(17, 40), (33, 45), (STRIP, STRIP), (14, 30)], 0, hard={1})
    assert got == [24, 33, 10, 10]
    assert fit(77, [(17, 40), (33, 45), (STRIP, STRIP), (14, 30)], 0)[1] < 33  # (not hard: it gives way too)


@aio
async def test_the_claimed_column_shows_owner_and_lease_whole_when_not_focused(board):
    backlog, clock = board
    from mosaic_tui.board.panes.kanban import SOFT_MIN

    backlog.claim("agent-with-a-long-name-12", ttl=7200, id="M2-02")  # (a claim returns agent-3's expired card)
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "ready", "M1-03")
        claimed = app.columns["claimed"]
        lines = [claimed.render_line(y).text for y in range(2 * claimed.count)]
        for shown in ("@agent-7 · 45m left", "@agent-9 · 15m left", "@agent-with-a-long-name-12 · 2h00m left"):
            assert any(shown in line for line in lines), (shown, lines)
        widths = [c.outer_size.width for c in app.columns.values()]
        assert sum(widths) == app.kanban.content_size.width and widths[0] >= 30  # the focused one takes the rest
        assert min(widths) >= SOFT_MIN


@aio
async def test_empty_columns_narrow_to_a_strip(board):
    backlog, clock = board
    backlog.unblock("M2-04")
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        blocked, claimed = app.columns["blocked"], app.columns["claimed"]
        assert blocked.count == 0 and blocked.has_class("-empty") and blocked.outer_size.width == 17
        assert claimed.outer_size.width > 17
        await select(pilot, "ready", "M2-04")
        await pilot.press("b")
        await settle(pilot)
        assert not blocked.has_class("-empty") and blocked.outer_size.width > 17
