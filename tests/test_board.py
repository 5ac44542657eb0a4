"""The board, driven by its keys (Textual's Pilot): every key, and the backlog's state afterwards.

State-changing keys run on both backends (the ``db_url`` fixture); the
repository is built with a fixed clock and the fixed demo data.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from boardkit import SIZE, aio, settle
from mosaic_tui.board import make_app, run_board
from mosaic_tui.errors import Unavailable
from mosaic_tui.repository import Backlog


async def select(pilot, status: str, card_id: str) -> None:
    app = pilot.app
    col = app.columns[status]
    col.focus()
    await pilot.pause()
    found = col.find(card_id)
    assert found is not None, f"{card_id} not shown in {status}"
    col.cursor = found[0]
    await settle(pilot)
    assert app.selected_card().id == card_id


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


def event_count(backlog) -> int:
    return len(backlog.events())


# --------------------------------------------------------------------------- status keys
CASES = [
    # key, column, card, expected status afterwards
    ("b", "ready", "M2-02", "blocked"),
    ("b", "claimed", "M1-02", "blocked"),
    ("u", "blocked", "M2-04", "ready"),
    ("c", "ready", "M1-03", "done"),
    ("c", "claimed", "M1-06", "done"),
    ("o", "done", "M1-01", "ready"),
    ("r", "claimed", "M1-02", "ready"),
]


@aio
@pytest.mark.parametrize("key,status,card_id,after", CASES)
async def test_status_keys_change_the_backlog(board, key, status, card_id, after):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, status, card_id)
        await pilot.press(key)
        await settle(pilot)
        card = backlog.get(card_id)
        assert card.status == after
        if after != "claimed":
            assert card.claim_owner is None and card.claimed_at is None
        # the board moved it: shown in its new column, counted there
        assert app.columns[after].find(card_id) is not None
        assert app.columns[after].count == backlog.count(status=after)
        assert app.columns[status].count == backlog.count(status=status)
        assert not any("refused" in n for n in notes(app))


REFUSALS = [
    ("b", "done", "M1-01", "M1-01 is done"),
    ("u", "ready", "M2-02", "is not blocked (it is ready)"),
    ("c", "done", "M1-01", "is already done"),
    ("o", "ready", "M2-02", "is not done (it is ready)"),
    ("r", "ready", "M2-02", "is not claimed (it is ready)"),
]


@aio
@pytest.mark.parametrize("key,status,card_id,reason", REFUSALS)
async def test_refused_keys_say_why_and_change_nothing(sboard, key, status, card_id, reason):
    backlog, clock = sboard
    before = backlog.get(card_id)
    events = event_count(backlog)
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, status, card_id)
        await pilot.press(key)
        await settle(pilot)
        assert any(reason in n for n in notes(app)), notes(app)
    after = backlog.get(card_id)
    assert after.status == before.status and after.updated_at == before.updated_at
    assert event_count(backlog) == events


@aio
async def test_a_key_on_an_empty_column_says_so(sqlite_url):
    backlog = Backlog.open(sqlite_url)
    app = make_app(backlog)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        assert any("no card selected in ready" in n for n in notes(app))
    assert backlog.count() == 0


# --------------------------------------------------------------------------- n / e
@aio
async def test_n_creates_a_card(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock, phase="M2")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()
        form = app.screen
        form.query_one("#id").value = "M2-09"
        form.query_one("#title").value = "[bold]Made[/] on the board"
        form.query_one("#priority").value = "7"
        form.query_one("#body").text = "line one\nline two"
        await pilot.press("ctrl+s")
        await settle(pilot)
        card = backlog.get("M2-09")
        assert (card.title, card.priority, card.phase, card.body) == ("[bold]Made[/] on the board", 7, "M2", "line one\nline two")
        assert app.columns["ready"].find("M2-09") is not None


@aio
async def test_n_with_a_bad_priority_writes_nothing(sboard):
    backlog, clock = sboard
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()
        app.screen.query_one("#id").value = "X-1"
        app.screen.query_one("#title").value = "t"
        app.screen.query_one("#priority").value = "high"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "priority must be an integer" in str(app.screen.query_one("#error").render())
        await pilot.press("escape")
        await settle(pilot)
    assert backlog.count() == 12


@aio
async def test_n_with_a_taken_id_is_refused(sboard):
    backlog, clock = sboard
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()
        app.screen.query_one("#id").value = "M1-01"
        app.screen.query_one("#title").value = "again"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert any("already exists" in n for n in notes(app))
    assert backlog.get("M1-01").title == "Schema and migrations"


@aio
async def test_e_edits_title_body_phase_priority(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "ready", "M2-02")
        await pilot.press("e")
        await pilot.pause()
        f = app.screen
        f.query_one("#title").value = "Live feed, for real"
        f.query_one("#phase").value = "M3"
        f.query_one("#priority").value = "9"
        f.query_one("#body").text = "**now**"
        await pilot.press("ctrl+s")
        await settle(pilot)
    card = backlog.get("M2-02")
    assert (card.title, card.phase, card.priority, card.body) == ("Live feed, for real", "M3", 9, "**now**")


@aio
async def test_e_does_not_overwrite_a_change_made_meanwhile(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "ready", "M2-02")
        await pilot.press("e")
        await pilot.pause()
        clock.advance(5)
        backlog.edit("M2-02", title="changed by another program")
        app.screen.query_one("#title").value = "mine"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert any("was changed by someone else" in n for n in notes(app))
    assert backlog.get("M2-02").title == "changed by another program"


# --------------------------------------------------------------------------- d / D
@aio
async def test_d_adds_a_dependency_picked_by_fuzzy_search(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "claimed", "M2-01")
        await pilot.press("d")
        await settle(pilot)
        await pilot.press(*"imprt flt")  # fuzzy: "Import from the fleet"
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
    card = backlog.get("M2-01")
    assert card.depends_on == ["M2-02"]
    assert card.unmet_deps == 1


@aio
async def test_d_refuses_a_cycle(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "ready", "M2-02")
        await pilot.press("d")
        await settle(pilot)
        await pilot.press(*"M2-03")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert any("a cycle" in n for n in notes(app)), notes(app)
    assert backlog.get("M2-02").depends_on == []


@aio
async def test_D_removes_a_dependency(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "ready", "M1-07")
        await pilot.press("D")
        await settle(pilot)
        await pilot.press(*"M1-05")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
    assert backlog.get("M1-07").depends_on == ["M1-03"]


@aio
async def test_D_without_dependencies_says_so(sboard):
    backlog, clock = sboard
    events = event_count(backlog)
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "ready", "M2-02")
        await pilot.press("D")
        await settle(pilot)
        assert any("has no dependencies" in n for n in notes(app))
    assert event_count(backlog) == events


# --------------------------------------------------------------------------- reading keys
@aio
async def test_moving_keys(sboard):
    backlog, clock = sboard
    events = event_count(backlog)
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.selected_card().id == "M1-03"
        await pilot.press("j")
        await settle(pilot)
        assert app.selected_card().id == "M1-04"
        await pilot.press("down")
        await settle(pilot)
        assert app.selected_card().id == "M1-05"
        await pilot.press("k")
        await settle(pilot)
        assert app.selected_card().id == "M1-04"
        await pilot.press("up")
        await settle(pilot)
        assert app.selected_card().id == "M1-03"
        await pilot.press("l")
        await settle(pilot)
        assert app.focused_column().status == "claimed"
        await pilot.press("right")
        await settle(pilot)
        assert app.focused_column().status == "blocked"
        await pilot.press("h")
        await settle(pilot)
        assert app.focused_column().status == "claimed"
        await pilot.press("left")
        await settle(pilot)
        assert app.focused_column().status == "ready"
        await pilot.press("end")
        await settle(pilot)
        assert app.selected_card().id == backlog.list(status="ready")[-1].id
        # the graph pane follows the selection
        assert app.dependencies.card_id == app.selected_card().id
    assert event_count(backlog) == events


@aio
async def test_enter_opens_the_detail(sboard):
    backlog, clock = sboard
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "claimed", "M1-02")
        await pilot.press("enter")
        await settle(pilot)
        from mosaic_tui.board.screens.dialogs import DetailScreen

        assert isinstance(app.screen, DetailScreen)
        assert app.screen.card.id == "M1-02"
        assert [e.kind for e in app.screen.events] == ["created", "claimed"]
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, DetailScreen)


@aio
async def test_question_mark_opens_help_and_card_keys_do_nothing_there(sboard):
    backlog, clock = sboard
    events = event_count(backlog)
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        from mosaic_tui.board.screens.dialogs import HelpScreen

        assert isinstance(app.screen, HelpScreen)
        await pilot.press("c")  # not through the help screen
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, HelpScreen)
    assert event_count(backlog) == events


@aio
async def test_slash_filters_by_text(sboard):
    backlog, clock = sboard
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await pilot.press(*"board")
        await pilot.press("enter")
        await settle(pilot)
        assert app.search == "board"
        assert app.columns["ready"].count == 1
        assert app.selected_card().id == "M1-04"
        assert app.columns["done"].count == 0
        await pilot.press("slash")
        app.query_one("#filter").value = ""
        await pilot.press("enter")
        await settle(pilot)
        assert app.search is None and app.columns["ready"].count == backlog.count(status="ready") == 6
    assert backlog.count() == 12


@aio
async def test_p_chooses_a_phase(sboard):
    backlog, clock = sboard
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("down", "down", "enter")  # all, M1, M2
        await settle(pilot)
        assert app.phase == "M2"
        assert app.columns["ready"].count == backlog.count(status="ready", phase="M2") == 2
        assert app.columns["claimed"].count == 1


@aio
async def test_g_opens_the_full_screen_graph(sboard):
    backlog, clock = sboard
    app = make_app(backlog, clock=clock, phase="M1")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "ready", "M1-07")
        await pilot.press("g")
        await settle(pilot)
        from mosaic_tui.board.screens.graph import DagScreen

        assert isinstance(app.screen, DagScreen)
        scene = app.screen.view.scene
        assert "M1-01" in scene.nodes and "M2-01" not in scene.nodes  # the phase's cards
        lay = scene.lay  # dependencies above their dependents
        assert lay.nodes["M1-02"].y < lay.nodes["M1-04"].y < lay.nodes["M1-05"].y < lay.nodes["M1-07"].y
        assert app.screen.view.selected == "M1-07"  # it starts on the board's selected card
        assert "phase M1" in str(app.screen.query_one("#dag-title").render())
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, DagScreen)


@aio
async def test_q_quits(sboard):
    backlog, clock = sboard
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


@aio
async def test_every_action_is_in_the_command_palette(sboard):
    backlog, clock = sboard
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for t in ["Card detail", "Block card", "Unblock card", "Complete card", "Reopen card", "Release claim", "New card",
                  "Edit card", "Add dependency", "Remove dependency", "Filter", "Choose phase", "Full-screen graph", "Help"]:
            assert t in titles
        # and they act: complete through the palette's callback
        await select(pilot, "ready", "M2-02")
        cmd = next(c for c in app.get_system_commands(app.screen) if c.title == "Complete card")
        cmd.callback()
        await settle(pilot)
    assert backlog.get("M2-02").status == "done"


# --------------------------------------------------------------------------- other programs
@aio
async def test_a_change_by_another_program_is_shown_and_reported(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "claimed", "M1-06")
        other = Backlog.open(backlog.db.target.raw)
        other.complete("M1-06")
        other.close()
        app.check_for_changes()
        await settle(pilot)
        assert any("M1-06 was completed by another program" in n for n in notes(app)), notes(app)
        assert app.columns["done"].find("M1-06") is not None
        assert app.columns["claimed"].count == backlog.count(status="claimed") == 2


@aio
async def test_a_heartbeat_redraws_only_its_row(sboard):
    backlog, clock = sboard
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        col = app.columns["claimed"]
        calls = []
        original = col.set_data
        col.set_data = lambda *a, **k: (calls.append(a), original(*a, **k))
        backlog.heartbeat("M1-06", "agent-9", ttl=7200)
        app.check_for_changes()
        await settle(pilot)
        assert calls == []  # no column reload: the card was replaced in place
        assert col.find("M1-06")[1].claim_ttl_seconds == backlog.get("M1-06").claim_ttl_seconds


@aio
async def test_many_changes_fall_back_to_a_full_reload(sboard):
    from mosaic_tui.board.app import BoardApp
    from mosaic_tui.board.refresher import MAX_INCREMENTAL

    backlog, clock = sboard
    many = MAX_INCREMENTAL + 10
    app = BoardApp(backlog, clock=clock, poll=None)  # no timer: the check below sees them all at once
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        gen = app.generation
        with backlog.db.engine.begin() as conn:
            from sqlalchemy import text

            conn.execute(text("INSERT INTO backlog (id, title) VALUES (:id, :t)"),
                         [{"id": f"Z-{i:04d}", "t": f"bulk {i}"} for i in range(many)])
        app.check_for_changes()
        await settle(pilot)
        assert app.generation == gen + 1
        assert app.columns["ready"].count == 6 + many


@aio
async def test_large_column_loads_pages_as_it_scrolls(sqlite_url):
    backlog = Backlog.open(sqlite_url)
    with backlog.db.write() as conn:
        from mosaic_tui.db.models import Card

        now = backlog.clock()
        conn.execute(Card.__table__.insert(), [
            dict(id=f"C{i:05d}", title=f"card {i}", priority=0, status="ready", depends_on=[], attempts=0,
                 created_at=now, updated_at=now) for i in range(1000)
        ])
    app = make_app(backlog)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        col = app.columns["ready"]
        assert col.count == 1000
        assert set(col.pages) == {0}  # only what is shown was loaded
        await pilot.press("end")
        await settle(pilot)
        assert app.selected_card().id == "C00999"
        assert 0 not in col.pages  # far pages are dropped


# --------------------------------------------------------------------------- the database away
@aio
async def test_disconnected_banner_and_catch_up(sboard, monkeypatch):
    backlog, clock = sboard
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        real_run = backlog.db.run

        def down(*a, **k):
            raise Unavailable("database unreachable (test): connection refused")

        monkeypatch.setattr(backlog.db, "run", down)
        app.check_for_changes()
        await settle(pilot)
        assert app.disconnected and app.query_one("#topbar").has_class("disconnected")
        assert "DISCONNECTED" in str(app.query_one("#topbar").render())
        monkeypatch.setattr(backlog.db, "run", real_run)
        backlog.complete("M2-02")  # happened while we were away
        app.check_for_changes()
        await settle(pilot)
        assert not app.disconnected and not app.query_one("#topbar").has_class("disconnected")
        assert app.columns["done"].find("M2-02") is not None


def test_run_board_unreachable_database_exits_5(capsys):
    code = run_board("postgresql://nobody:s3cret@127.0.0.1:1/nothing")
    err = capsys.readouterr().err
    assert code == 5
    assert err.count("\n") == 1 and "unreachable" in err and "s3cret" not in err


def test_run_board_bad_url_exits_2(capsys):
    code = run_board("mysql://x@y/z")
    assert code == 2
    assert capsys.readouterr().err.startswith("mosaic-tui: ")


def test_the_repository_does_not_import_textual():
    code = "import sys, mosaic_tui.repository, mosaic_tui.db.engine; print(sorted(m for m in ('textual','click','rich') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_importing_the_board_package_is_cheap():
    code = "import sys, mosaic_tui.board; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_literal_shows_control_characters():
    from mosaic_tui.board.draw.text import literal

    assert literal("a\x1b[31mred\x07\tb\u202e") == "a\\e[31mred\\x07\\tb\\u202e"
    assert literal("[bold]x[/bold]") == "[bold]x[/bold]"


@aio
async def test_an_unexpected_error_is_one_line_not_a_crash(sboard, monkeypatch):
    backlog, clock = sboard
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "ready", "M2-02")

        def broken(*a, **k):
            raise RuntimeError("boom\nsecond line")

        monkeypatch.setattr(backlog, "bulk", broken)  # the status keys go through the grooming bulk call
        await pilot.press("b")
        await settle(pilot)
        assert any(n == "unexpected error: RuntimeError: boom second line" for n in notes(app)), notes(app)
        assert app.is_running
    assert backlog.get("M2-02").status == "ready"


@aio
async def test_a_click_selects_a_card(sboard):
    backlog, clock = sboard
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        col = app.columns["claimed"]
        await pilot.click(col, offset=(5, 1 + 2 * 1))  # border line, then the second card's first line
        await settle(pilot)
        assert app.focused is col and app.selected_card().id == backlog.list(status="claimed")[1].id


@aio
async def test_a_change_to_a_card_not_loaded_still_moves_the_counts(sqlite_url):
    backlog = Backlog.open(sqlite_url)
    with backlog.db.write() as conn:
        from mosaic_tui.db.models import Card

        now = backlog.clock()
        conn.execute(Card.__table__.insert(), [
            dict(id=f"C{i:05d}", title=f"card {i}", priority=0, status="ready", depends_on=[], attempts=0,
                 created_at=now, updated_at=now) for i in range(300)
        ])
    app = make_app(backlog)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.columns["ready"].find("C00299") is None  # far below the screen: not loaded
        backlog.complete("C00299")
        app.check_for_changes()
        await settle(pilot)
        assert app.columns["ready"].count == 299
        assert app.columns["done"].count == 1 and app.columns["done"].find("C00299") is not None


# --------------------------------------------------------------------------- one error path
def _unreachable_engine(backlog):
    """An engine of the backlog's own backend on a database that cannot be reached (a real driver error)."""
    from sqlalchemy import create_engine

    if backlog.backend == "sqlite":
        return create_engine("sqlite:////nonexistent-mosaic-dir/backlog.db")
    return create_engine("postgresql+psycopg://postgres@127.0.0.1:1/nothing", connect_args={"connect_timeout": 3})


@aio
@pytest.mark.parametrize("key,card_id", [("D", "M1-07"), ("p", None)])
async def test_an_outage_while_a_dialog_opens_shows_the_banner_not_a_refusal(board, monkeypatch, key, card_id):
    """D reads the card's dependencies and p the phases before their dialog opens: the database gone
    then is the disconnected banner (it used to be a 'refused' notice, and no banner)."""
    from mosaic_tui.board.app import BoardApp

    backlog, clock = board
    app = BoardApp(backlog, clock=clock, poll=None)  # no feed, no backstop: only the key reads
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        if card_id is not None:
            await select(pilot, "ready", card_id)
        monkeypatch.setattr(backlog.db, "engine", _unreachable_engine(backlog))
        await pilot.press(key)
        await settle(pilot)
        assert app.disconnected and "unreachable" in app.disconnected
        assert app.topbar.has_class("disconnected") and "DISCONNECTED" in str(app.topbar.render())
        assert not [n for n in app._notifications if n.title == "refused"], notes(app)
        assert len(app.screen_stack) == 1  # no dialog
        monkeypatch.undo()
        app.check_for_changes()
        await settle(pilot)
        assert not app.disconnected and not app.topbar.has_class("disconnected")
        await pilot.press(key)  # and now the dialog opens
        await settle(pilot)
        assert len(app.screen_stack) == 2


@aio
async def test_a_pane_whose_read_fails_says_one_line_and_reads_again_later(sboard, monkeypatch):
    backlog, clock = sboard
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        real = backlog.graph

        def broken(card_id):
            raise ValueError("graph\nbroke")

        monkeypatch.setattr(backlog, "graph", broken)
        await pilot.press("j")
        await settle(pilot)
        assert "unexpected error: ValueError: graph broke" in notes(app)
        assert app.is_running and not app.disconnected
        monkeypatch.setattr(backlog, "graph", real)
        await pilot.press("j")  # the pane is not stuck on the failed read
        await settle(pilot)
        assert app.dependencies.card_id == app.selected_card().id
        assert app.selected_card().id in str(app.query_one("#graph").render())


def test_explain_maps_every_failure_to_one_line():
    import sqlite3

    from mosaic_tui.board.jobs import OFFLINE, REFUSED, UNEXPECTED, explain
    from mosaic_tui.db.url import parse
    from mosaic_tui.errors import Conflict, ReadOnly

    url = parse("postgresql://u:s3cret@h/db")
    assert explain(ReadOnly("this server is a read-only standby"), url) == (REFUSED, "this server is a read-only standby")
    assert explain(Unavailable("database unreachable (h): refused"), url) == (OFFLINE, "database unreachable (h): refused")
    assert explain(Conflict("card 'A' is done"), url) == (REFUSED, "card 'A' is done")
    kind, line = explain(sqlite3.OperationalError("unable to open database file"), url)
    assert kind == OFFLINE and "unable to open" in line
    assert explain(ConnectionResetError("peer s3cret"), url) == (OFFLINE, "database unreachable: ConnectionResetError: peer ***")
    assert explain(ValueError("x\ny"), url) == (UNEXPECTED, "unexpected error: ValueError: x y")


# --------------------------------------------------------------------------- the house
def test_the_docs_key_table_is_the_key_table():
    """docs/board.md's table of keys is made from mosaic_tui.board.keys (python -m mosaic_tui.board.keys)."""
    from pathlib import Path

    from mosaic_tui.board import keys

    docs = (Path(__file__).resolve().parent.parent / "docs" / "board.md").read_text()
    assert keys.markdown_table() in docs


@aio
async def test_bindings_help_and_palette_come_from_the_key_table(sboard):
    from mosaic_tui.board import keys
    from mosaic_tui.board.screens.board import BoardScreen
    from mosaic_tui.board.panes.columns import CardColumn
    from mosaic_tui.board.screens.dialogs import HelpScreen

    assert BoardScreen.BINDINGS == keys.bindings(keys.BOARD) and CardColumn.BINDINGS == keys.bindings(keys.COLUMN)
    from mosaic_tui.board.app import BoardApp

    # the keys' actions live on the screen that owns them, not as forwarders on the App
    assert not [name for name in vars(BoardApp) if name.startswith("action_")] and not hasattr(BoardApp, "BOARD_ACTIONS")
    backlog, clock = sboard
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert [k.palette for k in keys.KEYS if k.palette] == [t for t in titles if t in {k.palette for k in keys.KEYS}]
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        shown = str(app.screen.query_one("Static").render())
        assert all(k.shown in shown and k.help in shown for k in keys.KEYS)


def test_no_import_circles_in_the_board():
    import grimp

    graph = grimp.build_graph("mosaic_tui")
    board = sorted(m for m in graph.modules if m.startswith("mosaic_tui.board"))
    for a in board:
        for b in board:
            if a < b and graph.chain_exists(a, b) and graph.chain_exists(b, a):
                raise AssertionError(f"import circle: {a} <-> {b}")


def _count_workers(app, monkeypatch) -> list[str]:
    groups: list[str] = []
    real = app.run_worker

    def counted(*a, **k):
        groups.append(k.get("group", "default"))
        return real(*a, **k)

    monkeypatch.setattr(app, "run_worker", counted)
    return groups


@aio
async def test_a_look_is_one_worker_the_columns_read_along(board, monkeypatch):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        groups = _count_workers(app, monkeypatch)
        backlog.claim("agent-5", ttl=600, id="M2-02")
        app.check_for_changes()
        await settle(pilot)
        assert app.columns["claimed"].find("M2-02") is not None and app.columns["ready"].find("M2-02") is None
        assert groups.count("look") >= 1 and "columns" not in groups, groups


@aio
async def test_columns_busy_as_a_look_starts_read_on_their_own_after_it(board, monkeypatch):
    from mosaic_tui.board.panes.kanban import Kanban

    backlog, clock = board
    monkeypatch.setattr(Kanban, "_plan_along", lambda self: None)  # as if a read of its own were running
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        groups = _count_workers(app, monkeypatch)
        backlog.complete("M1-06")
        app.check_for_changes()
        await settle(pilot)
        assert app.columns["done"].find("M1-06") is not None
        assert app.columns["claimed"].count == backlog.count(status="claimed") == 2
        assert "columns" in groups
