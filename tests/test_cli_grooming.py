"""The CLI's several-id status changes and `delete`, in-process, on both backends."""

from __future__ import annotations

import json

import pytest

from mosaic_tui.errors import NotFound
from mosaic_tui.repository import Backlog


@pytest.fixture
def b(db_url):
    backlog = Backlog.open(db_url)
    yield backlog
    backlog.close()


def test_block_several_ids_one_report_and_exit_codes(run_cli, b):
    for i in range(4):
        b.create(f"c{i}", f"card {i}")
    b.complete("c2")
    code, out, err = run_cli("block", "c0", "c1", "c2", "nope", "--json")
    assert code == 4 and err == ""
    assert json.loads(out) == {"action": "block", "done": ["c0", "c1"],
                               "refused": {"c2": "c2 is done", "nope": "nope does not exist"}}
    assert [b.get(i).status for i in ("c0", "c1", "c2", "c3")] == ["blocked", "blocked", "done", "ready"]
    code, out, _ = run_cli("unblock", "c0", "c1")
    assert code == 0 and out == "unblocked 2 cards: c0, c1\n"
    code, out, _ = run_cli("complete", "c0", "c2")
    assert code == 4 and out == "completed 1 card: c0\nrefused: c2 is already done\n"
    code, out, _ = run_cli("reopen", "c0", "c2", "--json")
    assert code == 0 and json.loads(out)["done"] == ["c0", "c2"]


def test_one_id_keeps_the_card_output(run_cli, b):
    b.create("c", "C")
    code, out, _ = run_cli("block", "c", "--json")
    assert code == 0 and json.loads(out)["status"] == "blocked"  # the card, as before
    code, _, err = run_cli("block", "c", "--json")
    assert code == 4 and json.loads(err)["error"]["code"] == "conflict"
    code, _, err = run_cli("block", "zz")
    assert code == 3 and "no card 'zz'" in err


def test_complete_several_with_owner(run_cli, b):
    b.create("a", "A")
    b.create("x", "X")
    b.claim("w1", id="a")
    b.claim("w2", id="x")
    code, out, _ = run_cli("complete", "a", "x", "--owner", "w1", "--json")
    assert code == 4 and json.loads(out) == {"action": "complete", "done": ["a"], "refused": {"x": "x is claimed by w2, not w1"}}


def test_delete_command(run_cli, b):
    b.create("base", "B")
    b.create("top", "T", depends_on=["base"])
    b.create("lone", "L")
    code, out, _ = run_cli("delete", "base", "lone", "--json")
    assert code == 4 and json.loads(out) == {"action": "delete", "done": ["lone"], "refused": {"base": "base is needed by top"}}
    with pytest.raises(NotFound):
        b.get("lone")
    code, out, _ = run_cli("delete", "base", "--unlink-dependents")
    assert code == 0 and out == "deleted 1 card: base\nunlinked top from base\n"
    assert b.get("top").depends_on == [] and [e.kind for e in b.events(card="base")][-1] == "deleted"
    code, out, _ = run_cli("delete", "top", "--json", "--unlink-dependents")
    assert code == 0 and json.loads(out) == {"action": "delete", "done": ["top"], "refused": {}}
    code, _, err = run_cli("delete")
    assert code == 2 and "Missing argument" in err


def test_bad_id_among_several_writes_nothing(run_cli, b):
    b.create("a", "A")
    code, _, err = run_cli("block", "a", "bad\tid")
    assert code == 2 and "control characters" in err and b.get("a").status == "ready"
