"""Hostile input, on both backends: each value gets a clear error (and nothing is
written) or is stored and shown verbatim; nothing crashes."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import insert, text

from mosaic_tui import cli
from mosaic_tui.db.models import Card
from mosaic_tui.errors import Conflict, InvalidInput, MosaicError, NotFound
from mosaic_tui.repository import Backlog

SQLISH = [
    "'; DROP TABLE backlog; --",
    '" OR 1=1 --',
    "x') UNION SELECT * FROM backlog --",
    "100% _match_ \\ back\\slash",
    "Robert'); DELETE FROM backlog_events;--",
]
MARKUP = ["[bold red]loud[/]", "[link=https://example.invalid]click[/link]", "[/]", "[@click=app.quit]x[/]", "$(rm -rf /) `id`"]
ANSI = ["\x1b[31mred\x1b[0m", "\x1b]8;;http://x\x07link\x1b]8;;\x07", "bell\x07", "tab\there", "del\x7f"]


def _state(repo: Backlog):
    """Everything a failed call must leave untouched."""
    return repo.last_event_id(), [(c.id, c.status, c.title, c.body, c.depends_on, c.claim_owner) for c in repo.list()]


def _refused(repo: Backlog, exc_type, fn, *args, **kw) -> MosaicError:
    before = _state(repo)
    with pytest.raises(exc_type) as info:
        fn(*args, **kw)
    assert "\n" not in str(info.value) and str(info.value)
    assert _state(repo) == before, "a refused call wrote something"
    return info.value


@pytest.mark.parametrize("value", SQLISH + MARKUP, ids=range(len(SQLISH + MARKUP)))
def test_quotes_sql_and_markup_are_stored_and_read_back_verbatim(repo, value):
    card = repo.create(value, value, body=value, phase=value, acceptance={value: [value]})
    got = repo.get(value)
    assert (got.id, got.title, got.body, got.phase, got.acceptance) == (value, value, value, value, {value: [value]})
    assert card.id == value
    other = repo.create("plain", "plain", depends_on=[value])
    assert other.depends_on == [value] and repo.get("plain").unmet_deps == 1
    claimed = repo.claim(value, ttl=60)  # a hostile owner too
    assert claimed.id == value and claimed.claim_owner == value
    repo.complete(value, owner=value)
    assert repo.get("plain").unmet_deps == 0
    # search treats % _ \ literally, and the table is still there
    assert [c.id for c in repo.list(search=value)] == [value]
    assert repo.count() == 2
    assert [e.kind for e in repo.events(card=value)] == ["created", "claimed", "completed"]


@pytest.mark.parametrize("value", ANSI, ids=range(len(ANSI)))
def test_control_characters_refused_in_ids_stored_verbatim_in_text(repo, value):
    _refused(repo, InvalidInput, repo.create, value, "t")
    _refused(repo, InvalidInput, repo.create, "ok", "t", depends_on=[value])
    _refused(repo, InvalidInput, repo.claim, value)  # as an owner
    card = repo.create("ok", value, body=value, acceptance=[value])
    got = repo.get("ok")
    assert (got.title, got.body, got.acceptance) == (value, value, [value]) == (card.title, card.body, card.acceptance)


def test_bidi_and_zero_width_characters_are_legal_and_stored_verbatim(repo):
    for value in ("\u202eevil", "zero\u200bwidth", "e\u0301", "\ufeffbom"):
        repo.create(value, value, body=value)
        got = repo.get(value)
        assert (got.id, got.title, got.body) == (value, value, value)
    assert repo.count() == 4


@pytest.mark.parametrize("field", ["id", "title", "body", "phase", "acceptance", "owner", "idempotency_key"])
def test_nul_anywhere_is_a_clear_error_and_writes_nothing(repo, field):
    repo.create("base", "base")
    if field == "owner":
        _refused(repo, InvalidInput, repo.claim, "a\x00b")
        return
    kw = {"id": "n1", "title": "t"}
    if field in ("id", "title"):
        kw[field] = "a\x00b"
    elif field == "acceptance":
        kw["acceptance"] = {"k": ["a\x00b"]}
    else:
        kw[field] = "a\x00b"
    card_id, title = kw.pop("id"), kw.pop("title")
    err = _refused(repo, InvalidInput, repo.create, card_id, title, **kw)
    assert "NUL" in str(err) or "control" in str(err)
    _refused(repo, InvalidInput, repo.create, "n2", "one\nline?")
    _refused(repo, InvalidInput, repo.create, " padded", "t")
    _refused(repo, InvalidInput, repo.create, "", "t")
    _refused(repo, InvalidInput, repo.create, "n3", "   ")


def test_one_megabyte_bodies_round_trip_and_oversize_is_refused(repo):
    body = ("# big\n" + "é漢😀'\"[b]\\ " * 100_000)[:1_000_000]
    assert len(body) == 1_000_000
    repo.create("big", "big", body=body)
    assert repo.get("big").body == body
    repo.edit("big", body=body[::-1])
    assert repo.get("big").body == body[::-1]
    _refused(repo, InvalidInput, repo.create, "huge", "t", body="x" * 4_000_001)
    _refused(repo, InvalidInput, repo.edit, "big", body="x" * 4_000_001)


def test_deeply_nested_acceptance_round_trips_or_is_refused_cleanly(repo):
    nested: object = "leaf"
    for i in range(200):
        nested = [nested] if i % 2 else {"k": nested}
    repo.create("deep", "deep", acceptance=nested)
    assert repo.get("deep").acceptance == nested
    abyss: object = []
    for _ in range(100_000):
        abyss = [abyss]
    err = _refused(repo, InvalidInput, repo.create, "abyss", "t", acceptance=abyss)
    assert "acceptance" in str(err)
    _refused(repo, InvalidInput, repo.edit, "deep", acceptance=abyss)
    _refused(repo, InvalidInput, repo.create, "nan", "t", acceptance={"x": float("nan")})
    _refused(repo, InvalidInput, repo.create, "obj", "t", acceptance={"x": object()})


def test_ten_thousand_deep_dependency_chain_cycle_check_and_graph(repo):
    n = 10_000
    rows = [{"id": f"c{i:05d}", "title": f"link {i}", "depends_on": [f"c{i - 1:05d}"] if i else []} for i in range(n)]
    with repo.db.write() as conn:  # bulk, as another program would; the triggers keep edges and counts
        conn.execute(insert(Card.__table__), rows)
    with repo.db.write() as conn:  # what autovacuum does soon after a bulk load (see docs/robustness.md)
        conn.execute(text("ANALYZE"))
    top, bottom = f"c{n - 1:05d}", "c00000"
    assert repo.get(top).unmet_deps == 1
    # closing the loop at either end is found 10,000 edges away
    _refused(repo, Conflict, repo.link, bottom, top)
    _refused(repo, Conflict, repo.link, "c05000", "c07000")
    # a card depending on the top of the chain is fine, and so is a shortcut
    repo.create("after", "after", depends_on=[top])
    repo.link(top, bottom)
    cards, edges = repo.graph("c05000")  # all it needs, all it unlocks: the whole chain
    assert len(cards) == n + 1 and len(edges) == n
    assert ("c05000", "c04999") in edges and ("after", top) in edges
    cards, edges = repo.graph("after")
    assert len(cards) == n + 1 and (top, bottom) in edges
    assert [c.id for c in repo.list(claimable=True)] == [bottom]


def test_self_and_indirect_cycles_are_refused(repo):
    _refused(repo, InvalidInput, repo.create, "a", "a", depends_on=["a"])
    repo.create("a", "a")
    repo.create("b", "b", depends_on=["a"])
    repo.create("c", "c", depends_on=["b"])
    _refused(repo, InvalidInput, repo.link, "a", "a")
    _refused(repo, Conflict, repo.link, "a", "c")
    _refused(repo, Conflict, repo.link, "a", "b")
    assert repo.edges() == [("b", "a"), ("c", "b")]
    # Another program left x -> y with y not created yet: creating y -> x would close a cycle.
    with repo.db.write() as conn:
        conn.execute(insert(Card.__table__), [{"id": "x", "title": "x", "depends_on": ["y"]}])
    _refused(repo, Conflict, repo.create, "y", "y", depends_on=["x"])
    repo.link("a", "x")  # a -> x -> y(absent): no cycle
    assert repo.get("a").unmet_deps == 1


def test_unknown_ids_everywhere_an_id_is_taken(repo):
    repo.create("real", "real")
    ghost = "no-such-card"
    for fn, args, kw in [
        (repo.get, (ghost,), {}),
        (repo.claim, ("me",), {"id": ghost}),
        (repo.heartbeat, (ghost, "me"), {}),
        (repo.reclaim, (ghost,), {}),
        (repo.release, (ghost,), {}),
        (repo.block, (ghost,), {}),
        (repo.unblock, (ghost,), {}),
        (repo.complete, (ghost,), {}),
        (repo.complete, (ghost,), {"owner": "me"}),
        (repo.reopen, (ghost,), {}),
        (repo.edit, (ghost,), {"title": "t"}),
        (repo.link, (ghost, "real"), {}),
        (repo.link, ("real", ghost), {}),
        (repo.unlink, ("real", ghost), {}),
        (repo.graph, (ghost,), {}),
    ]:
        err = _refused(repo, NotFound, fn, *args, **kw)
        assert ghost in str(err), (fn.__name__, str(err))
    err = _refused(repo, InvalidInput, repo.create, "new", "t", depends_on=["real", ghost])
    assert ghost in str(err)
    assert repo.events(card=ghost) == []
    assert repo.get_many([ghost, "real"]).keys() == {"real"}


HOSTILE_TITLES = ["[bold]x[/bold] \x1b[2J\x1b[H", "'; DROP TABLE backlog; --", "[/]\x07\u202e"]


@pytest.mark.parametrize("title", HOSTILE_TITLES, ids=range(len(HOSTILE_TITLES)))
def test_cli_shows_hostile_text_escaped_for_people_and_verbatim_in_json(db_url, capsys, title):
    def run(*args):
        capsys.readouterr()
        code = cli.run([*args, "--db", db_url])
        out = capsys.readouterr()
        return code, out.out, out.err

    code, out, err = run("create", "h1", title, "--json")
    assert code == 0 and json.loads(out)["title"] == title
    for args in (("show", "h1"), ("list",), ("claim", "--owner", "[b]o[/b]"), ("events",)):
        code, out, err = run(*args)
        assert code == 0, err
        assert "Traceback" not in out + err
        assert not any(ch in out for ch in "\x1b\x07\u202e"), (args, out)  # escaped for a terminal
        assert "[/]" in out or "[bold]" in out or "DROP TABLE" in out or args == ("events",)  # markup shown as text
    code, out, err = run("show", "h1", "--json")
    assert json.loads(out)["title"] == title and json.loads(out)["claimOwner"] == "[b]o[/b]"
    code, out, err = run("create", "bad\x1bid", "t", "--json")
    assert code == 2 and "Traceback" not in err and json.loads(err)["error"]["code"] == "invalid_input"
    code, out, err = run("link", "h1", "ghost")
    assert code == 3 and "Traceback" not in err and err.count("\n") == 1


# One escaping rule (mosaic_tui.textsafe) for the CLI's human output and the board.
ESCAPES = [
    ("a\x1b[31mred\x07", "a\\e[31mred\\x07"),
    ("tab\there\r\nnext", "tab\\there\\r\\nnext"),
    ("del\x7f c1\x9b nul\x00", "del\\x7f c1\\x9b nul\\x00"),
    ("\u202eevil \u2066iso\u2069 \u200fmark", "\\u202eevil \\u2066iso\\u2069 \\u200fmark"),
    ("zero\u200bwidth \ufeffbom line\u2028sep", "zero\\u200bwidth \\ufeffbom line\\u2028sep"),
    ("e\u0301 [bold]x[/bold] 漢字 \\e", "e\u0301 [bold]x[/bold] 漢字 \\e"),  # marks, markup, wide text, a typed \e: as is
]


@pytest.mark.parametrize("raw,shown", ESCAPES, ids=range(len(ESCAPES)))
def test_cli_and_board_escape_untrusted_text_the_same_way(raw, shown):
    from mosaic_tui.board.draw.text import literal, literal_block
    from mosaic_tui.cli.output import safe

    assert safe(raw) == literal(raw) == shown
    assert literal_block(raw) == "\n".join(literal(line.replace("\t", "    ")) for line in raw.replace("\r\n", "\n").split("\n"))


def test_cli_escapes_zero_width_and_bom_in_titles(db_url, capsys):
    title = "zero\u200bwidth \ufeffbom \u2028"
    capsys.readouterr()
    assert cli.run(["create", "z", title, "--db", db_url]) == 0
    for args in (["show", "z"], ["list"]):
        capsys.readouterr()
        assert cli.run([*args, "--db", db_url]) == 0
        out = capsys.readouterr().out
        assert "zero\\u200bwidth \\ufeffbom \\u2028" in out and not any(ch in out for ch in "\u200b\ufeff\u2028")
