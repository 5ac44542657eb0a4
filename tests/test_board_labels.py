"""The board's ``L`` (Pilot): add and remove labels on the marked cards (or the selected one) through the
grooming path, undone by ``z``; a bad word is refused in the prompt with nothing written; the prompt
suggests the labels in use. Both backends."""

from __future__ import annotations

from boardkit import SIZE, aio, settle
from test_board import notes, select
from test_board_notes import row_text

from mosaic_tui.board import make_app
from mosaic_tui.board.grooming.prompts import AskLabels
from mosaic_tui.repository import History


def labels(backlog, *ids):
    got = backlog.labels(ids)
    return [got[i] for i in ids]


@aio
async def test_L_labels_the_marked_cards_and_z_undoes_it_and_Z_redoes_it(board):
    backlog, clock = board
    backlog.label(["M2-02", "M2-03"], add=["docs"])
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "ready", "M2-02")
        await pilot.press("space")  # M2-02 marked, the cursor on the next card
        await select(pilot, "ready", "M1-03")
        await pilot.press("space")
        await pilot.press("L")
        await settle(pilot)
        assert isinstance(app.screen, AskLabels)
        await pilot.press(*"+infra -docs", "enter")
        await settle(pilot)
        assert not isinstance(app.screen, AskLabels)
        assert labels(backlog, "M2-02", "M1-03", "M2-03") == [["infra"], ["infra"], ["docs"]]
        assert "relabeled 2 cards (+infra -docs)" in notes(app)
        assert row_text(app, "ready", "M2-02").endswith("#infra")
        await pilot.press("z")
        await settle(pilot)
        assert labels(backlog, "M2-02", "M1-03", "M2-03") == [["docs"], [], ["docs"]]
        assert "undid: labels +infra -docs on 2 cards" in notes(app)
        assert row_text(app, "ready", "M2-02").endswith("#docs")
        await pilot.press("Z")
        await settle(pilot)
        assert labels(backlog, "M2-02", "M1-03") == [["infra"], ["infra"]]


@aio
async def test_L_without_marks_labels_the_selected_card_and_suggests_labels_in_use(board):
    backlog, clock = board
    backlog.label(["M2-04"], add=["infra", "fleet"])
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "ready", "M2-02")
        await pilot.press("L")
        await settle(pilot)
        await pilot.press(*"+in")
        await settle(pilot)
        await pilot.press("right")  # takes the suggestion: +infra
        await pilot.press(*" +new", "enter")
        await settle(pilot)
    assert labels(backlog, "M2-02", "M2-04") == [["infra", "new"], ["fleet", "infra"]]


@aio
async def test_L_refuses_a_bad_name_in_the_prompt_and_writes_nothing(board):
    backlog, clock = board
    events = len(backlog.events())
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "ready", "M2-02")
        await pilot.press("L")
        await settle(pilot)
        for typed, said in [("+Infra", "invalid label 'Infra'"), ("infra", "write +infra to add"),
                            ("+a -a", "both added and removed"), ("", "no label given")]:
            app.screen.query_one("#labels").value = typed
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, AskLabels)
            error = str(app.screen.query_one("#error").render())
            assert said in error and "\n" not in error.strip()
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, AskLabels)
    assert labels(backlog, "M2-02") == [[]] and len(backlog.events()) == events


@aio
async def test_z_refuses_to_undo_labels_someone_else_changed_since(board):
    backlog, clock = board
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(pilot, "ready", "M2-02")
        await pilot.press("L")
        await settle(pilot)
        await pilot.press(*"+infra", "enter")
        await settle(pilot)
        backlog.label(["M2-02"], remove=["infra"], add=["fleet"])  # another program, meanwhile
        await pilot.press("z")
        await settle(pilot)
    assert labels(backlog, "M2-02") == [["fleet"]]


def test_relabel_refuses_unknown_cards_and_its_undo_leaves_the_cards_values_alone(repo):
    """The repository's half (both backends): a missing card refused, the others done; an agent's claim
    after the change does not stand in the way of undoing the labels, and the undo does not touch it."""
    repo.create("A", "a")
    repo.create("B", "b")
    repo.label(["B"], add=["docs"])
    history = History(repo)
    result = repo.relabel(["A", "B", "Z"], add=["infra"], remove=["docs"])
    assert result.done == ["A", "B"] and list(result.refused) == ["Z"]
    assert result.summary() == "relabeled 2 cards (+infra -docs); 1 refused: Z does not exist"
    history.record(result.change)
    repo.claim("agent-1", ttl=60, id="A")
    change, _ = history.undo()
    assert labels(repo, "A", "B") == [[], ["docs"]]
    assert repo.get("A").claim_owner == "agent-1"
    assert change.label == "undo of labels +infra -docs on 2 cards"
    again = repo.relabel(["A"], remove=["infra"])
    assert again.done == ["A"] and again.change is None  # nothing to change: nothing to undo
