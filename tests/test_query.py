"""The query language (``docs/query.md``): print <-> parse round trip (property-based), the one-line
errors, the SQL against a Python reading of the same query (property-based, both backends), and
the same query giving the same cards on the CLI, the MCP ``list`` tool and the board (both backends)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from boardkit import SIZE, aio, settle
from conftest import run_sql
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mosaic_tui.board import make_app
from mosaic_tui.errors import InvalidInput
from mosaic_tui.repository.watch.impact import impact
from mosaic_tui.repository.query import (
    DURATION_FIELDS,
    And,
    Not,
    Or,
    QueryError,
    Term,
    Text,
    parse,
    to_text,
)

# --------------------------------------------------------------------------- trees
PRINTABLE = st.characters(min_codepoint=32, max_codepoint=0x2FF, blacklist_characters="\x7f")
text_value = st.text(PRINTABLE, min_size=1, max_size=12).filter(lambda s: s.strip() == s and s)
label = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,8}", fullmatch=True)
STATUS = st.sampled_from(["ready", "claimed", "blocked", "done"])
OPS = st.sampled_from([">", ">=", "<", "<="])

leaf = st.one_of(
    st.builds(Text, st.text(PRINTABLE, min_size=1, max_size=12)),
    st.builds(lambda v: Term("status", ":", v), STATUS),
    st.builds(lambda v: Term("phase", ":", v), text_value.filter(lambda s: "," not in s or True)),
    st.builds(lambda v: Term("owner", ":", v), text_value),
    st.builds(lambda v: Term("label", ":", v), label),
    st.builds(lambda v: Term("id", ":", v), text_value),
    st.builds(lambda v: Term("is", ":", v), st.sampled_from(["claimable", "waiting", "expired"])),
    st.builds(Term, st.sampled_from(["priority", "attempts", "unlocks"]), st.sampled_from(["=", ">", ">=", "<", "<="]),
              st.integers(-(10**9), 10**9)),
    st.builds(Term, st.sampled_from(DURATION_FIELDS), OPS, st.integers(0, 10**7)),
)


def _and(nodes):
    flat = []
    for n in nodes:
        flat.extend(n.nodes if isinstance(n, And) else (n,))
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def _or(nodes):
    flat = []
    for n in nodes:
        flat.extend(n.nodes if isinstance(n, Or) else (n,))
    return flat[0] if len(flat) == 1 else Or(tuple(flat))


trees = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.builds(Not, inner),
        st.lists(inner, min_size=2, max_size=4).map(_and),
        st.lists(inner, min_size=2, max_size=4).map(_or),
    ),
    max_leaves=12,
)


@given(trees)
@settings(max_examples=1500, deadline=None)
def test_print_then_parse_gives_the_same_tree(tree):
    text = to_text(tree)
    assert parse(text) == tree, text
    assert to_text(parse(text)) == text  # printing is canonical


@given(st.text(st.characters(min_codepoint=32, max_codepoint=0x17F), max_size=40))
@settings(max_examples=1500, deadline=None)
def test_any_text_parses_or_fails_in_one_line_and_what_parses_prints_back(text):
    try:
        tree = parse(text)
    except QueryError as e:
        assert "\n" not in str(e) and 1 <= e.column <= len(text) + 1
        assert str(e).startswith(f"invalid query at column {e.column}: expected ")
        return
    assert parse(to_text(tree)) == tree


def test_the_issue_example_reads_as_written():
    q = parse('status:ready phase:M2 @agent-1 #infra -#docs unlocks>3 age>2h "free text"')
    assert q == And((Term("status", ":", "ready"), Term("phase", ":", "M2"), Term("owner", ":", "agent-1"),
                     Term("label", ":", "infra"), Not(Term("label", ":", "docs")), Term("unlocks", ">", 3),
                     Term("age", ">", 7200), Text("free text")))
    assert to_text(q) == 'status:ready phase:M2 @agent-1 #infra -#docs unlocks>3 age>2h "free text"'


@pytest.mark.parametrize("text, printed", [
    ("a OR b c", "a OR b c"),
    ("(a OR b) c", "(a OR b) c"),
    ("a AND b", "a b"),
    ("status:ready,claimed", "status:ready OR status:claimed"),
    ("priority:2 age>=90m", "priority=2 age>=1h30m"),
    ('owner:"agent 1" @x', '@"agent 1" @x'),
    ("label:infra -(#a OR #b)", "#infra -(#a OR #b)"),
    ('"OR" "a:b" "-x"', '"OR" "a:b" "-x"'),
    ("  ", ""),
])
def test_equivalent_spellings_print_one_way(text, printed):
    assert to_text(parse(text)) == printed


@pytest.mark.parametrize("text, column, says", [
    ("status:reddy", 8, "expected a status (ready, claimed, blocked or done), not 'reddy'"),
    ("#infra colour:red", 8, "expected a field, not 'colour'"),
    ("(#a OR #b", 10, "expected a closing parenthesis for the one at column 1"),
    ("#a)", 3, "not a closing parenthesis"),
    ("age>2x", 5, "expected a duration"),
    ("priority>=high", 11, "expected a whole number after priority>="),
    ("#Infra", 2, "expected a label"),
    ('"open', 1, 'expected a closing quote'),
    ("#a OR", 6, "expected a term after OR"),
    ("phase>2", 6, "expected ':' after phase"),
    ("-", 2, "expected a term after '-'"),
    ("age=2h", 4, "expected > >= < or <= after age"),
    ("is:idle", 4, "expected is:claimable / is:waiting / is:expired"),
    ("#infra \x1b[31m", 8, "expected text without control characters"),
])
def test_a_bad_query_names_the_column_and_what_was_expected(text, column, says):
    with pytest.raises(QueryError) as e:
        parse(text)
    assert e.value.column == column and says in str(e.value) and isinstance(e.value, InvalidInput)


# --------------------------------------------------------------------------- SQL vs a Python reading
def _seed_more(backlog, clock):
    """The board's twelve cards plus labels (plain SQL, as the fleet's service would) and a card of no phase."""
    backlog.create("X-1", "Loose end_100% done?", priority=2)
    clock.advance(30)
    backlog.claim("agent-3", ttl=60, id="X-1")
    clock.advance(120)  # its lease ended
    for card, lab in [("M1-03", "infra"), ("M1-04", "infra"), ("M2-02", "infra"), ("M1-04", "docs"),
                      ("M1-07", "docs"), ("X-1", "infra"), ("M2-04", "flaky")]:
        run_sql(backlog, "INSERT INTO backlog_labels (card_id, label) VALUES (:c, :l)", {"c": card, "l": lab})


def _labels(backlog) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for card, lab in run_sql(backlog, "SELECT card_id, label FROM backlog_labels"):
        out.setdefault(card, set()).add(lab)
    return out


_PY_OPS = {"=": lambda a, b: a == b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
           "<": lambda a, b: a < b, "<=": lambda a, b: a <= b}


def matches(node, card, *, labels, unlocks, now) -> bool:
    """The query's meaning, written again in Python (docs/query.md), to check the SQL against."""
    def m(n):
        if n is None:
            return True
        if isinstance(n, Text):
            return n.text.lower() in card.title.lower() or n.text.lower() in card.id.lower()
        if isinstance(n, Not):
            return not m(n.node)
        if isinstance(n, And):
            return all(m(x) for x in n.nodes)
        if isinstance(n, Or):
            return any(m(x) for x in n.nodes)
        f, op, v = n.field, n.op, n.value
        if f == "status":
            return card.status == v
        if f == "phase":
            return card.phase == v
        if f == "owner":
            return card.claim_owner == v
        if f == "label":
            return v in labels.get(card.id, set())
        if f == "id":
            return card.id.startswith(v[:-1]) if v.endswith("*") else card.id == v
        if f == "is":
            if v == "claimable":
                return card.status == "ready" and card.unmet_deps == 0
            if v == "waiting":
                return card.status == "ready" and card.unmet_deps > 0
            return card.status == "claimed" and card.claimed_at + timedelta(seconds=card.claim_ttl_seconds) <= now
        if f in ("priority", "attempts"):
            return _PY_OPS[op](getattr(card, f), v)
        if f == "unlocks":
            return _PY_OPS[op](unlocks.get(card.id, 0), v)
        since = card.created_at if f == "age" else card.updated_at
        return _PY_OPS[op]((now - since).total_seconds(), v)
    return m(node)


IDS = ["M1-01", "M1-02", "M1-03", "M1-04", "M1-07", "M2-01", "M2-04", "X-1"]
data_leaf = st.one_of(
    st.builds(Text, st.sampled_from(["m1", "board", "_100%", "LOOSE", "e", "zzz", "0"])),
    st.builds(lambda v: Term("status", ":", v), STATUS),
    st.builds(lambda v: Term("phase", ":", v), st.sampled_from(["M1", "M2", "M3"])),
    st.builds(lambda v: Term("owner", ":", v), st.sampled_from(["agent-3", "agent-7", "agent-9", "nobody"])),
    st.builds(lambda v: Term("label", ":", v), st.sampled_from(["infra", "docs", "flaky", "none"])),
    st.builds(lambda v: Term("id", ":", v), st.sampled_from([*IDS, "M1-*", "X*", "*"])),
    st.builds(lambda v: Term("is", ":", v), st.sampled_from(["claimable", "waiting", "expired"])),
    st.builds(Term, st.sampled_from(["priority", "attempts", "unlocks"]), st.sampled_from(["=", ">", ">=", "<", "<="]),
              st.integers(-1, 4)),
    st.builds(Term, st.sampled_from(DURATION_FIELDS), OPS, st.sampled_from([0, 60, 150, 300, 600, 900, 1200, 3600])),
    st.builds(Term, st.just("unlocks"), st.sampled_from(["=", ">", "<="]), st.integers(0, 2)),  # often two in a query
)
data_trees = st.recursive(
    data_leaf,
    lambda inner: st.one_of(st.builds(Not, inner), st.lists(inner, min_size=2, max_size=3).map(_and),
                            st.lists(inner, min_size=2, max_size=3).map(_or)),
    max_leaves=6,
)


def test_sql_gives_the_cards_the_query_means(board):
    """Random queries over the board's cards: the SQL (on each backend) finds what the Python reading finds."""
    backlog, clock = board
    _seed_more(backlog, clock)
    cards = backlog.list()
    labels, unlocks, now = _labels(backlog), impact(backlog).unlocks, clock()
    assert unlocks["M1-02"] == 4 and labels["M1-04"] == {"infra", "docs"}  # the data the queries read

    @given(data_trees)
    @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
    def check(tree):
        want = [c.id for c in cards if matches(tree, c, labels=labels, unlocks=unlocks, now=now)]
        assert backlog.ids(where=tree) == want, to_text(tree)
        assert [c.id for c in backlog.list(where=tree, limit=100)] == want  # a page: labels as EXISTS
        assert backlog.count(where=to_text(tree)) == len(want)
        assert sum(backlog.counts(where=tree).values()) == len(want)

    check()


@pytest.mark.parametrize("query, ids", [
    ("#infra status:ready", ["M1-03", "M1-04", "M2-02"]),
    ("#infra -#docs", ["M1-03", "X-1", "M2-02"]),
    ("-phase:M1 -phase:M2", ["X-1"]),  # a card of no phase is not in M1: negation takes it
    ("is:expired", ["X-1"]),  # (agent-3's ended lease on M2-01 was reclaimed by its claim of X-1)
    ("unlocks>=2", ["M1-02", "M1-04"]),
    ("unlocks<1 status:ready", ["M2-01", "M1-07", "M2-03"]),
    ("unlocks>=1 unlocks<2", ["M1-03", "M1-05", "M2-02"]),  # two id lists in one statement
    ("unlocks>=2 OR (unlocks=1 #infra)", ["M1-02", "M1-03", "M1-04", "M2-02"]),
    ('"_100%"', ["X-1"]),  # LIKE wildcards are text
    ("@agent-3 OR @agent-9", ["X-1", "M1-06"]),
])
def test_known_answers(board, query, ids):
    backlog, clock = board
    _seed_more(backlog, clock)
    assert backlog.ids(where=query) == ids


# --------------------------------------------------------------------------- every surface, the same cards
QUERIES = ["#infra status:ready", "-#infra -status:done", "@agent-7 OR #docs", "unlocks>0 priority>=3", "board OR export"]


def _board_cards(app) -> list[str]:
    out = []
    for col in app.columns.values():
        out += [c.id for p in sorted(col.pages) for c in col.pages[p]]
    return sorted(out)


@aio
async def _on_the_board(backlog, clock, query: str) -> list[str]:
    app = make_app(backlog, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        app.filter_box.value = query
        await pilot.press("enter")
        await settle(pilot)
        assert app.filter_bar.error_text is None and app.refresher.scope.query == parse(query)
        assert sum(col.count for col in app.columns.values()) == len(_board_cards(app))
        return _board_cards(app)


def test_the_same_query_gives_the_same_cards_on_the_board_the_cli_and_mcp(board, run_cli, db_url, tmp_path):
    import anyio
    from test_mcp import call, connect

    backlog, clock = board
    _seed_more(backlog, clock)
    want = {q: sorted(backlog.ids(where=q)) for q in QUERIES}
    assert all(want.values()) and len({tuple(v) for v in want.values()}) == len(QUERIES)  # each finds a different set
    for q in QUERIES:
        code, out, err = run_cli("list", "--where", q, "--json")
        assert code == 0, err
        assert sorted(c["id"] for c in json.loads(out)) == want[q], q

    async def mcp():
        async with connect(db_url, tmp_path) as s:
            return {q: sorted(c["id"] for c in (await call(s, "list", where=q))["cards"]) for q in QUERIES}

    assert anyio.run(mcp) == want
    for q in QUERIES:
        assert _on_the_board(backlog, clock, q) == want[q], q


def test_a_bad_query_is_one_line_and_exit_2_on_the_cli_and_invalid_input_on_mcp(db_url, run_cli, tmp_path):
    import anyio
    from test_mcp import connect, error

    code, out, err = run_cli("list", "--where", "#infra status:reddy")
    assert code == 2 and out == "" and err.strip().count("\n") == 0
    assert "invalid query at column 15: expected a status" in err
    code, out, err = run_cli("list", "--where", "colour:red", "--json")
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    got = json.loads(err)["error"]
    assert got["code"] == "invalid_input" and "column 1: expected a field, not 'colour'" in got["message"]

    async def mcp():
        async with connect(db_url, tmp_path) as s:
            return await error(s, "list", where="(#a")

    e = anyio.run(mcp)
    assert e["code"] == "invalid_input" and "column 4: expected a closing parenthesis" in e["message"]
