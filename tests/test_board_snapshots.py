"""Screenshots of the board (``snap_compare``), deterministic: fixed clock, fixed data, workers awaited.

SQLite only (the pictures do not depend on the backend). Update them with
``pytest tests/test_board_snapshots.py --snapshot-update`` and look at each one.
"""

from __future__ import annotations

import pytest
from conftest import run_sql

from mosaic_tui.board import make_app
from fixtures import FIXED_NOW, FixedClock, seed, seed_fleet
from mosaic_tui.db.engine import open_database
from mosaic_tui.errors import Unavailable
from mosaic_tui.repository import Backlog

WIDE = (160, 40)


@pytest.fixture
def demo(sqlite_url):
    clock = FixedClock()
    backlog = Backlog(open_database(sqlite_url), clock=clock)
    seed(backlog, clock)
    # the triggers stamp events with the wall clock: pin them for the pictures
    run_sql(backlog, "UPDATE backlog_events SET at = :at", {"at": FIXED_NOW.strftime("%Y-%m-%d %H:%M:%S.000")})
    yield backlog, clock
    backlog.close()


async def settle(pilot) -> None:
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def select(status: str, card_id: str | None = None, *keys: str):
    async def run_before(pilot) -> None:
        await settle(pilot)
        col = pilot.app.columns[status]
        col.focus()
        await pilot.pause()
        if card_id is not None:
            col.cursor = col.find(card_id)[0]
        await settle(pilot)
        if keys:
            await pilot.press(*keys)
            await settle(pilot)

    return run_before


def test_empty_backlog(snap_compare, sqlite_url):
    backlog = Backlog(open_database(sqlite_url), clock=FixedClock())
    assert snap_compare(make_app(backlog, clock=FixedClock()), terminal_size=WIDE, run_before=select("ready"))


def test_populated_board(snap_compare, demo):
    backlog, clock = demo
    assert snap_compare(make_app(backlog, clock=clock), terminal_size=WIDE, run_before=select("ready"))


def test_waiting_card(snap_compare, demo):
    backlog, clock = demo
    assert snap_compare(make_app(backlog, clock=clock), terminal_size=WIDE, run_before=select("ready", "M1-07"))


def test_expired_claim(snap_compare, demo):
    backlog, clock = demo
    assert snap_compare(make_app(backlog, clock=clock), terminal_size=WIDE, run_before=select("claimed", "M2-01"))


def test_graph_pane(snap_compare, demo):
    backlog, clock = demo
    assert snap_compare(make_app(backlog, clock=clock), terminal_size=WIDE, run_before=select("ready", "M1-05"))


def test_full_screen_graph(snap_compare, demo):
    backlog, clock = demo
    assert snap_compare(make_app(backlog, clock=clock), terminal_size=WIDE, run_before=select("ready", None, "g"))


def test_card_detail(snap_compare, demo):
    backlog, clock = demo
    backlog.edit("M1-02", body="## Plan\n\n- one code path\n- `SKIP LOCKED` on Postgres\n\n[bold]not markup[/bold]")
    run_sql(backlog, "UPDATE backlog_events SET at = :at", {"at": FIXED_NOW.strftime("%Y-%m-%d %H:%M:%S.000")})
    assert snap_compare(make_app(backlog, clock=clock), terminal_size=WIDE, run_before=select("claimed", "M1-02", "enter"))


def test_help_screen(snap_compare, demo):
    backlog, clock = demo
    assert snap_compare(make_app(backlog, clock=clock), terminal_size=WIDE, run_before=select("ready", None, "question_mark"))


def test_label_prompt(snap_compare, demo):
    """``L`` on a card with labels: its labels now, the labels in use, a suggestion for the word typed."""
    backlog, clock = demo
    backlog.label(["M2-02"], add=["fleet"])
    backlog.label(["M2-04", "M1-03"], add=["infra", "docs"])
    assert snap_compare(make_app(backlog, clock=clock), terminal_size=WIDE,
                        run_before=select("ready", "M2-02", "L", *"-fleet +in"))


def test_filter_in_effect(snap_compare, demo):
    backlog, clock = demo
    assert snap_compare(make_app(backlog, clock=clock), terminal_size=WIDE,
                        run_before=select("ready", None, "slash", *"graph", "enter"))


def test_markup_and_control_characters_in_a_title(snap_compare, sqlite_url):
    clock = FixedClock()
    backlog = Backlog(open_database(sqlite_url), clock=clock)
    backlog.create("X-1", "[bold red]not bold[/] \x1b[2J\x1b[Hcleared? \x07bell\ttab \u202eevil", priority=1)
    backlog.create("X-2", "[link=http://x]click[/link] :smile: $var ${x}", depends_on=["X-1"])
    assert snap_compare(make_app(backlog, clock=clock), terminal_size=WIDE, run_before=select("ready", "X-2"))


def test_narrow_terminal(snap_compare, demo):
    backlog, clock = demo
    assert snap_compare(make_app(backlog, clock=clock), terminal_size=(80, 24), run_before=select("ready"))


def test_disconnected_banner(snap_compare, demo, monkeypatch):
    backlog, clock = demo

    async def run_before(pilot) -> None:
        await settle(pilot)

        def down(*a, **k):
            raise Unavailable("database unreachable (sqlite · backlog.db): disk I/O error")

        monkeypatch.setattr(backlog.db, "run", down)
        pilot.app.check_for_changes()
        await settle(pilot)

    assert snap_compare(make_app(backlog, clock=clock), terminal_size=WIDE, run_before=run_before)


def test_agents_view(snap_compare, sqlite_url):
    """``a``: the fleet's agents, stale first (red), then longest-working; events at fixed times."""
    clock = FixedClock()
    backlog = Backlog(open_database(sqlite_url), clock=clock)
    seed_fleet(backlog, clock)
    assert snap_compare(make_app(backlog, clock=clock), terminal_size=WIDE, run_before=select("ready", None, "a"))


# --------------------------------------------------------------------------- grooming (issue 12), at 160x45
GROOM = (160, 45)


def test_grooming_marks(snap_compare, demo):
    """Two marked cards (● in the row), the count in the footer; the focused column wide."""
    backlog, clock = demo
    assert snap_compare(make_app(backlog, clock=clock), terminal_size=GROOM,
                        run_before=select("ready", "M1-03", "space", "space"))


def test_grooming_bulk_refusal_notice(snap_compare, demo):
    """b on three marked cards, one of them done: one notice, the refusal named."""
    backlog, clock = demo

    async def run_before(pilot) -> None:
        await select("ready", "M1-03", "space", "space")(pilot)
        await select("done", "M1-01", "space", "b")(pilot)

    assert snap_compare(make_app(backlog, clock=clock), terminal_size=GROOM, run_before=run_before)


def test_grooming_collapsed_columns_and_long_titles(snap_compare, demo):
    """An empty column narrows to a strip; the focused column shows 40+ characters of a title."""
    backlog, clock = demo
    backlog.unblock("M2-04")
    backlog.create("M3-01", "Migrate the events table to a partitioned layout by month", phase="M3", priority=9)
    run_sql(backlog, "UPDATE backlog_events SET at = :at", {"at": FIXED_NOW.strftime("%Y-%m-%d %H:%M:%S.000")})
    assert snap_compare(make_app(backlog, clock=clock), terminal_size=GROOM, run_before=select("ready", "M3-01"))


def test_grooming_delete_dialog(snap_compare, demo):
    backlog, clock = demo
    assert snap_compare(make_app(backlog, clock=clock), terminal_size=GROOM, run_before=select("ready", "M2-02", "x"))


def test_ready_sorted_by_impact(snap_compare, demo):
    """``s``: the ready column by what each card unlocks (the title says so); rows say ``unlocks N``."""
    backlog, clock = demo
    assert snap_compare(make_app(backlog, clock=clock), terminal_size=WIDE, run_before=select("ready", None, "s"))


def test_claimed_column_shows_owner_and_lease_at_160x45(snap_compare, demo):
    """The claimed column, not focused, as wide as its owners and lease countdowns need (a long agent name
    too, an expired lease); the focused ready column takes what is left, the empty column a strip."""
    backlog, clock = demo
    backlog.create("M3-01", "Fleet dashboard for the week", phase="M3", priority=2)
    backlog.unblock("M2-04")
    # claimed by another program's plain SQL (a claim through the repository would reclaim agent-3's ended lease)
    run_sql(backlog, "UPDATE backlog SET status = 'claimed', claim_owner = 'agent-with-a-long-name-12', "
                     "claimed_at = :at, claim_ttl_seconds = 7200 WHERE id = 'M3-01'",
            {"at": clock().strftime("%Y-%m-%d %H:%M:%S.000000")})
    run_sql(backlog, "UPDATE backlog_events SET at = :at", {"at": FIXED_NOW.strftime("%Y-%m-%d %H:%M:%S.000")})
    assert snap_compare(make_app(backlog, clock=clock), terminal_size=GROOM, run_before=select("ready", "M1-03"))


def test_card_detail_with_a_thread(snap_compare, demo):
    backlog, clock = demo
    backlog.label(["M2-04"], add=["infra", "ci"])
    backlog.note("M2-04", "Seen three times this week.\nThe runner loses its cache.", author="agent-3")
    clock.advance(60)
    backlog.note("M2-04", "Needs a person: the deploy key expired\n(ask ops)", author="ann", kind="block")
    clock.advance(60)
    backlog.note("M2-04", "agent-3's lease ended after 15m; attempt 2 of 5", kind="system")
    backlog.note("M2-04", "escapes stay visible: \x1b[2J\x07 [bold]not markup[/bold]", author="agent-9")
    run_sql(backlog, "UPDATE backlog_events SET at = :at", {"at": FIXED_NOW.strftime("%Y-%m-%d %H:%M:%S.000")})
    assert snap_compare(make_app(backlog, clock=clock), terminal_size=(160, 60),
                        run_before=select("blocked", "M2-04", "enter"))


def test_views_picker(snap_compare, demo, tmp_path, monkeypatch):
    """``v``: the saved views, numbered, with their counts, queries, orders and sources."""
    from test_views import write_views

    backlog, clock = demo
    for card, lab in [("M1-03", "infra"), ("M1-04", "infra"), ("M2-02", "infra"), ("M1-07", "docs")]:
        run_sql(backlog, "INSERT INTO backlog_labels (card_id, label) VALUES (:c, :l)", {"c": card, "l": lab})
    write_views(tmp_path, monkeypatch)
    assert snap_compare(make_app(backlog, clock=clock), terminal_size=WIDE, run_before=select("ready", None, "v"))


def test_filter_error_line(snap_compare, demo):
    """A bad query in the filter box: one line under it, the board unchanged."""
    assert snap_compare(make_app(demo[0], clock=demo[1]), terminal_size=WIDE,
                        run_before=select("ready", None, "slash", *"#infra colour:red", "enter"))
