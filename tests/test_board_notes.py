"""The board's notes and labels (Pilot): ``N`` adds a note, ``B`` blocks with a reason, the rows show
labels and a block reason, the detail and the timeline show the notes; both backends."""

from __future__ import annotations

from boardkit import SIZE, aio, settle
from test_board import select

from mosaic_tui.board import make_app
from mosaic_tui.board.screens.note import NoteScreen
from mosaic_tui.repository import MAX_NOTE_BYTES


def row_text(app, status: str, card_id: str) -> str:
    col = app.columns[status]
    row = col.find(card_id)[0]
    return col._meta(col.card_at(row)).plain


@aio
async def test_N_adds_a_note_of_several_lines_by_the_person(board, monkeypatch):
    monkeypatch.setenv("USER", "ann")
    monkeypatch.setenv("LOGNAME", "ann")
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "ready", "M1-03")
        await pilot.press("N")
        await settle(pilot)
        assert isinstance(app.screen, NoteScreen)
        await pilot.press(*"tried it", "enter", *"it \\e fails")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, NoteScreen)
    notes = backlog.notes("M1-03")
    assert [(n.author, n.kind, n.body) for n in notes] == [("ann", "note", "tried it\nit \\e fails")]
    assert notes[0].at == clock()


@aio
async def test_N_refuses_an_empty_or_too_long_note_in_place_and_escape_writes_nothing(board):
    backlog, clock = board
    events = len(backlog.events())
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "ready", "M1-03")
        await pilot.press("N")
        await settle(pilot)
        await pilot.press("space", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, NoteScreen)
        assert "must not be empty" in str(app.screen.query_one("#error").render())
        app.screen.query_one("#text").text = "x" * (MAX_NOTE_BYTES + 1)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, NoteScreen) and "16 KiB" in str(app.screen.query_one("#error").render())
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, NoteScreen)
    assert backlog.notes("M1-03") == [] and len(backlog.events()) == events


@aio
async def test_B_blocks_with_a_reason_and_the_row_shows_its_first_line_and_labels(board):
    backlog, clock = board
    backlog.label(["M2-02"], add=["infra", "fleet"])
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert row_text(app, "ready", "M2-02").endswith("#fleet #infra")
        await select(pilot, "ready", "M2-02")
        await pilot.press("B")
        await settle(pilot)
        await pilot.press(*"waits on the fleet team", "enter", *"(second line)")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert backlog.get("M2-02").status == "blocked"
        text = row_text(app, "blocked", "M2-02")
        assert text.startswith("    blocked: waits on the fleet team") and "second line" not in text
        assert text.endswith("#fleet #infra")
        # another program's note and label reach the board live
        backlog.label(["M1-03"], add=["cli"])
        app.refresher.look()
        await settle(pilot)
        assert row_text(app, "ready", "M1-03").endswith("#cli")
    assert [(n.kind, n.body) for n in backlog.notes("M2-02")] == [("block", "waits on the fleet team\n(second line)")]


@aio
async def test_the_detail_shows_the_thread_and_the_timeline_shows_notes_as_they_come(board):
    backlog, clock = board
    backlog.note("M1-03", "first\n\x1b[31mred\x1b[0m", author="agent-1")
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "ready", "M1-03")
        await pilot.press("enter")
        await settle(pilot)
        assert [n.body for n in app.screen.thread[0]] == ["first\n\x1b[31mred\x1b[0m"] and app.screen.thread[1] == 1
        await pilot.press("escape", "t")
        await settle(pilot)
        backlog.block("M1-04", reason="blocked on review", author="ann")
        app.refresher.look()
        await settle(pilot)
        lines = [a for a in app.screen.events.lines if a.event.kind == "noted"]
        assert [a.note for a in lines] == [("block", "blocked on review"), ("note", "first\n\x1b[31mred\x1b[0m")]
        from mosaic_tui.board.screens.timeline import line

        shown = line(lines[1]).plain
        assert "first" in shown and "\x1b" not in shown and line(lines[0]).plain.endswith("block: blocked on review")
