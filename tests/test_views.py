"""Saved views (``docs/query.md``, *Saved views*): the two TOML files and their precedence, bad files
named by file and line, ``list --view``, the board's ``v`` picker and ``1``-``9``, and the filter's
error line (Pilot, both backends)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from boardkit import SIZE, aio, settle
from conftest import run_sql

from mosaic_tui.board import make_app
from mosaic_tui.board.views import ViewsScreen
from mosaic_tui.repository.query import Term
from mosaic_tui.repository.views import ViewError, find, load

USER = '''
[[view]]
name = "infra"
query = "#infra"

[[view]]
name = "mine"
query = "@agent-7"
'''

PROJECT = '''# the project's views
[[view]]
name = "ready infra"
query = "#infra status:ready"
order = "impact"

[[view]]
name = "infra"          # wins over the user's
query = "#infra -status:done"
'''


def write_views(tmp_path: Path, monkeypatch, project: str | None = PROJECT, user: str | None = USER) -> Path:
    """The user's file in MOSAIC_HOME (conftest sets it) and the project's in a repository; cwd: a folder inside it."""
    home = Path(os.environ["MOSAIC_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    if user is not None:
        (home / "views.toml").write_text(user)
    repo = tmp_path / "repo"
    (repo / "src" / "deep").mkdir(parents=True)
    if project is not None:
        (repo / ".mosaic").mkdir()
        (repo / ".mosaic" / "views.toml").write_text(project)
    monkeypatch.chdir(repo / "src" / "deep")
    return repo


def test_project_views_come_first_and_win_on_a_name(tmp_path, monkeypatch):
    write_views(tmp_path, monkeypatch)
    views = load()
    assert [(v.name, v.query, v.source) for v in views] == [
        ("ready infra", "#infra status:ready", "project"),
        ("infra", "#infra -status:done", "project"),
        ("mine", "@agent-7", "user"),
    ]
    assert views[0].order == "impact" and views[1].order is None
    assert find("mine").node == Term("owner", ":", "agent-7")


def test_without_a_project_file_the_users_views(tmp_path, monkeypatch):
    write_views(tmp_path, monkeypatch, project=None)
    assert [v.name for v in load()] == ["infra", "mine"]


@pytest.mark.parametrize("text, says", [
    ('[[view]]\nname = "a"\nquery = "#a"\n\n[[view]]\nname = "b"\nquery = "#b"\ncolour = "red"\n',
     "views.toml, line 8: unknown field 'colour' in a view"),
    ('[[view]]\nname = "a"\nquery = "#a\n', "views.toml, line 3, column"),
    ('[[view]]\nname = "a"\n\nquery = "status:reddy"\n',
     "views.toml, line 4: view 'a': invalid query at column 8: expected a status"),
    ('[[view]]\nname = "a"\nquery = "#a"\norder = "random"\n', "views.toml, line 4: order must be claim or impact"),
    ('[[view]]\nquery = "#a"\n', "views.toml, line 1: a view needs a name"),
    ('[[view]]\nname = "a"\nquery = "#a"\n[[view]]\nname = "a"\nquery = "#b"\n', "line 5: a second view named 'a'"),
    ('[views]\nname = "a"\n', "line 1: unknown field 'views'"),
])
def test_a_bad_file_is_one_line_naming_the_file_and_the_line(tmp_path, monkeypatch, text, says):
    repo = write_views(tmp_path, monkeypatch, project=text)
    with pytest.raises(ViewError) as e:
        load()
    assert str(e.value).startswith(str(repo / ".mosaic" / "views.toml")) and says in str(e.value)
    assert "\n" not in str(e.value)


def _labels(backlog):
    for card, lab in [("M1-03", "infra"), ("M1-04", "infra"), ("M1-01", "infra"), ("M2-02", "infra")]:
        run_sql(backlog, "INSERT INTO backlog_labels (card_id, label) VALUES (:c, :l)", {"c": card, "l": lab})


def test_list_view_is_the_views_query_and_combines_with_where(board, run_cli, tmp_path, monkeypatch):
    backlog, _ = board
    _labels(backlog)
    write_views(tmp_path, monkeypatch)
    code, out, err = run_cli("list", "--view", "infra", "--json")
    assert code == 0, err
    assert [c["id"] for c in json.loads(out)] == backlog.ids(where="#infra -status:done") == ["M1-03", "M1-04", "M2-02"]
    code, out, _ = run_cli("list", "--view", "infra", "--where", "phase:M2", "--json")
    assert [c["id"] for c in json.loads(out)] == ["M2-02"]
    code, out, err = run_cli("list", "--view", "nothing")
    assert code == 3 and "no view named 'nothing'; views: 'ready infra', 'infra', 'mine'" in err
    (tmp_path / "repo" / ".mosaic" / "views.toml").write_text('[[view]]\nname = "x"\nquery = "#x"\nsort = "impact"\n')
    code, out, err = run_cli("list", "--view", "x")
    assert code == 2 and out == "" and "views.toml, line 4: unknown field 'sort'" in err and len(err.splitlines()) == 1


# --------------------------------------------------------------------------- the board
def _picker(app) -> ViewsScreen:
    assert isinstance(app.screen, ViewsScreen), app.screen
    return app.screen


@aio
async def _v_then_2(backlog, clock):
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        picker = _picker(app)
        assert [v.name for v in picker.views] == ["ready infra", "infra", "mine"]
        assert picker.counts == [3, 3, 1]
        shown = [str(picker.query_one("#views-list").get_option_at_index(i).prompt) for i in range(3)]
        assert shown[0] == "1  ready infra       3  project  impact  #infra status:ready"
        assert shown[2] == "3  mine              1  user             @agent-7"
        backlog.complete("M1-03")  # live: the counts follow the backlog while the picker is open
        app.refresher.look()
        await settle(pilot)
        assert picker.counts == [2, 2, 1]
        await pilot.press("2")
        await settle(pilot)
        assert not isinstance(app.screen, ViewsScreen)
        assert app.refresher.scope.view == "infra" and "view: infra" in str(app.topbar.render())
        assert sum(c.count for c in app.columns.values()) == 2 and app.columns["ready"].find("M1-04") is not None
        assert not app.kanban.by_impact  # this view leaves the order as it is
        await pilot.press("1")  # the first view, without the picker: it sorts the ready column by impact
        await settle(pilot)
        assert app.refresher.scope.view == "ready infra" and app.kanban.by_impact
        assert app.columns["ready"].count == 2 and app.columns["ready"].sort_note == " ↓unlocks"
        await pilot.press("5")
        await settle(pilot)
        assert "no view 5: 3 saved (v lists them)" in [str(n.message) for n in app._notifications]
        await pilot.press("slash")
        assert app.filter_box.value == "#infra status:ready"
        app.filter_box.value = ""
        await pilot.press("enter")
        await settle(pilot)
        assert app.refresher.scope.view is None and app.refresher.scope.query is None


def test_v_opens_the_views_with_live_counts_and_1_to_9_show_them(board, tmp_path, monkeypatch):
    backlog, clock = board
    _labels(backlog)
    write_views(tmp_path, monkeypatch)
    _v_then_2(backlog, clock)


@aio
async def test_a_bad_views_file_is_one_notice_and_no_picker(sboard, tmp_path, monkeypatch):
    backlog, clock = sboard
    write_views(tmp_path, monkeypatch, project='[[view]]\nname = "a"\nquery = "#a"\nwhere = "x"\n')
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        assert not isinstance(app.screen, ViewsScreen)
        said = [str(n.message) for n in app._notifications]
        assert any("views.toml, line 4: unknown field 'where'" in s for s in said), said
        assert app.refresher.scope.query is None


@aio
async def _filter_error_line(backlog, clock):
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = {s: c.count for s, c in app.columns.items()}
        await pilot.press("slash", *"#infra status:reddy", "enter")
        await settle(pilot)
        bar = app.filter_bar
        assert bar.has_class("shown") and app.focused is app.filter_box  # the box stays open, the text kept
        assert bar.error_text == "invalid query at column 15: expected a status (ready, claimed, blocked or done), not 'reddy'"
        assert app.query_one("#filter-error").region.y == app.filter_box.region.y + app.filter_box.region.height
        assert app.refresher.scope.query is None and {s: c.count for s, c in app.columns.items()} == before
        await pilot.press("backspace")  # editing clears the line
        assert bar.error_text is None
        await pilot.press(*"y", "enter")
        await settle(pilot)
        assert bar.error_text is not None  # still 'ready' misspelt: reddy
        app.filter_box.value = "#infra status:ready"
        await pilot.press("enter")
        await settle(pilot)
        assert not bar.has_class("shown") and bar.error_text is None
        assert app.columns["ready"].count == 3 and sum(c.count for c in app.columns.values()) == 3
        assert 'filter: "#infra status:ready"' in str(app.topbar.render())


def test_the_filters_error_line(board):
    backlog, clock = board
    _labels(backlog)
    _filter_error_line(backlog, clock)


def test_the_mcp_list_tool_takes_a_view(board, db_url, tmp_path):
    import anyio
    from test_mcp import call, connect, error

    backlog, _ = board
    _labels(backlog)
    home = tmp_path / "home"  # the server's MOSAIC_HOME (test_mcp._env)
    home.mkdir()
    (home / "views.toml").write_text(USER)

    async def main():
        async with connect(db_url, tmp_path) as s:
            got = [c["id"] for c in (await call(s, "list", view="infra"))["cards"]]
            both = [c["id"] for c in (await call(s, "list", view="infra", where="status:done"))["cards"]]
            unknown = await error(s, "list", view="nothing")
            (home / "views.toml").write_text(USER + 'colour = "red"\n')
            bad = await error(s, "list", view="infra")
            return got, both, unknown, bad

    got, both, unknown, bad = anyio.run(main)
    assert got == backlog.ids(where="#infra") == ["M1-01", "M1-03", "M1-04", "M2-02"] and both == ["M1-01"]
    assert unknown["code"] == "not_found" and "no view named 'nothing'" in unknown["message"]
    assert bad["code"] == "invalid_input" and "views.toml, line 9: unknown field 'colour'" in bad["message"]
