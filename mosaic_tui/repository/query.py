"""The query language of every surface: the board's ``/`` filter, ``list --where``, the MCP ``list``
tool's ``where`` and saved views (``docs/query.md`` has the grammar).

``parse(text)`` gives a tree of :class:`Term`, :class:`Text`, :class:`Not`, :class:`And`,
:class:`Or` (or None for an empty query); ``to_text(tree)`` prints it back (``parse(to_text(q)) ==
q``); ``condition(tree, now, unlocks)`` is the SQLAlchemy condition over ``backlog``, the same on
both backends. A bad query raises :class:`QueryError`: one line naming the column and what was
expected. Below the entry floor: no textual, rich or click.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Union

from sqlalchemy import and_, bindparam, exists, false, func, literal_column, not_, or_, select, true

from mosaic_tui.db.models import STATUSES, Label
from mosaic_tui.db.sql import LeaseEnd
from mosaic_tui.errors import InvalidInput
from mosaic_tui.repository.checks import LABEL_RULE
from mosaic_tui.repository.tables import CLAIMABLE, B

# -- the tree ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """``field op value``: ``status:ready`` (op ``:``), ``priority>=2`` (an int), ``age>2h`` (seconds)."""

    field: str
    op: str
    value: str | int


@dataclass(frozen=True)
class Text:
    """Free text: in the card's id or title, case-insensitive."""

    text: str


@dataclass(frozen=True)
class Not:
    node: Node


@dataclass(frozen=True)
class And:
    nodes: tuple[Node, ...]  # two or more, none an And


@dataclass(frozen=True)
class Or:
    nodes: tuple[Node, ...]  # two or more, none an Or


Node = Union[Term, Text, Not, And, Or]

# -- the fields ----------------------------------------------------------------------------------

TEXT_FIELDS = ("status", "phase", "owner", "label", "id", "is")  # compared with ':'
NUMBER_FIELDS = ("priority", "attempts", "unlocks")  # = > >= < <= (':' is '=')
DURATION_FIELDS = ("age", "idle")  # > >= < <=: time since created / since last changed
FIELDS = TEXT_FIELDS + NUMBER_FIELDS + DURATION_FIELDS
IS_VALUES = ("claimable", "waiting", "expired")
COMPARISONS = (">=", "<=", ">", "<", "=")
LABEL_RE = re.compile(LABEL_RULE)
UNITS = (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_UNIT = dict(UNITS)
_FIELD_RE = re.compile(r"([A-Za-z_]+)(>=|<=|:|=|>|<)")
_DURATION_RE = re.compile(r"(?:(\d+)([wdhms]))+")
_INT_RE = re.compile(r"-?\d{1,10}")
KEYWORDS = ("OR", "AND")


class QueryError(InvalidInput):
    """A bad query: ``column`` (1-based) and what was expected there, in one line."""

    def __init__(self, column: int, what: str):
        super().__init__(f"invalid query at column {column}: expected {what}")
        self.column = column
        self.what = what


# -- reading -------------------------------------------------------------------------------------


@dataclass
class _Chunk:
    pos: int  # 0-based offset in the text
    raw: str  # the unquoted part before a quote (all of it when there is no quote)
    quoted: str | None  # the quoted part, unescaped
    end: int


def _lex(text: str) -> list[tuple[str, int, object]]:
    """Tokens: ("(", pos), (")", pos), ("-", pos) before a "(", ("chunk", pos, _Chunk)."""
    out: list[tuple[str, int, object]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            out.append((ch, i, None))
            i += 1
        elif ch == "-" and text[i:].lstrip("-").startswith("("):  # -(a OR b), --(...)
            out.append(("-", i, None))
            i += 1
        else:
            start, raw = i, []
            while i < n and not text[i].isspace() and text[i] not in '()"':
                raw.append(text[i])
                i += 1
            quoted = None
            if i < n and text[i] == '"':
                q0, i, buf = i, i + 1, []
                while True:
                    if i >= n:
                        raise QueryError(q0 + 1, "a closing quote (\")")
                    c = text[i]
                    if c == "\\" and i + 1 < n and text[i + 1] in '"\\':
                        buf.append(text[i + 1])
                        i += 2
                    elif c == '"':
                        i += 1
                        break
                    else:
                        buf.append(c)
                        i += 1
                quoted = "".join(buf)
                if i < n and not text[i].isspace() and text[i] != ")":
                    raise QueryError(i + 1, "a space after the closing quote")
            out.append(("chunk", start, _Chunk(start, "".join(raw), quoted, i)))
    return out


def parse(text: str | None) -> Node | None:
    """The tree of ``text`` (None: an empty query, every card). Raises :class:`QueryError`."""
    if text is None:
        return None
    if any(ord(c) < 32 and c not in "\t\n\r" or c == "\x7f" for c in text):
        col = next(i for i, c in enumerate(text) if ord(c) < 32 and c not in "\t\n\r" or c == "\x7f") + 1
        raise QueryError(col, "text without control characters")
    return _Parser(text, _lex(text)).query()


class _Parser:
    def __init__(self, text: str, tokens: list):
        self.text, self.tokens, self.i = text, tokens, 0

    def _peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _end_col(self) -> int:
        return len(self.text) + 1

    def query(self) -> Node | None:
        if not self.tokens:
            return None
        node = self._or()
        tok = self._peek()
        if tok is not None:
            raise QueryError(tok[1] + 1, "a term or OR, not a closing parenthesis" if tok[0] == ")" else "a term")
        return node

    def _is_kw(self, tok, word: str) -> bool:
        return tok is not None and tok[0] == "chunk" and tok[2].quoted is None and tok[2].raw == word

    def _or(self) -> Node:
        nodes = [self._and()]
        while self._is_kw(self._peek(), "OR"):
            self.i += 1
            if self._peek() is None or self._peek()[0] == ")" or self._is_kw(self._peek(), "OR"):
                raise QueryError(self._end_col() if self._peek() is None else self._peek()[1] + 1, "a term after OR")
            nodes.append(self._and())
        return _join(Or, nodes)

    def _and(self) -> Node:
        nodes: list[Node] = []
        while True:
            tok = self._peek()
            if tok is None or tok[0] == ")" or self._is_kw(tok, "OR"):
                break
            if self._is_kw(tok, "AND"):
                if not nodes:
                    raise QueryError(tok[1] + 1, "a term before AND")
                self.i += 1
                nxt = self._peek()
                if nxt is None or nxt[0] == ")" or self._is_kw(nxt, "OR") or self._is_kw(nxt, "AND"):
                    raise QueryError(self._end_col() if nxt is None else nxt[1] + 1, "a term after AND")
                continue
            nodes.append(self._unary())
        if not nodes:
            tok = self._peek()
            raise QueryError(self._end_col() if tok is None else tok[1] + 1, "a term")
        return _join(And, nodes)

    def _unary(self) -> Node:
        tok = self.tokens[self.i]
        if tok[0] == "-":
            self.i += 1
            return Not(self._unary())
        if tok[0] == "(":
            self.i += 1
            if self._peek() is not None and self._peek()[0] == ")":
                raise QueryError(self._peek()[1] + 1, "a term inside the parentheses")
            node = self._or()
            close = self._peek()
            if close is None or close[0] != ")":
                raise QueryError(self._end_col() if close is None else close[1] + 1,
                                 f"a closing parenthesis for the one at column {tok[1] + 1}")
            self.i += 1
            return node
        self.i += 1
        return _chunk(tok[2])


def _join(kind, nodes: list[Node]) -> Node:
    flat: list[Node] = []
    for n in nodes:
        flat.extend(n.nodes if isinstance(n, kind) else (n,))
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


def _chunk(c: _Chunk) -> Node:
    raw, pos = c.raw, c.pos
    if raw.startswith("-"):
        if raw == "-" and c.quoted is None:
            raise QueryError(pos + 2, "a term after '-'")
        return Not(_chunk(_Chunk(pos + 1, raw[1:], c.quoted, c.end)))
    if not raw:
        return Text(_nonempty(c.quoted, pos, "text inside the quotes"))
    if raw[0] in "@#":
        field = "owner" if raw[0] == "@" else "label"
        if len(raw) > 1 and c.quoted is not None:
            raise QueryError(pos + len(raw) + 1, "a space before the quote")
        value = raw[1:] if c.quoted is None else c.quoted
        return _text_term(field, value, pos + 1, pos)
    m = _FIELD_RE.match(raw)
    if m is None:
        if c.quoted is not None:
            raise QueryError(pos + len(raw) + 1, "a space before the quote")
        if raw in KEYWORDS:
            raise QueryError(pos + 1, f"a term, not {raw} (quote it to search for the word)")
        return Text(raw)
    field, op = m.group(1).lower(), m.group(2)
    value_pos = pos + m.end()
    rest = raw[m.end():]
    if c.quoted is not None:
        if rest:
            raise QueryError(value_pos + len(rest) + 1, "a space before the quote")
        rest = c.quoted
    if field not in FIELDS:
        raise QueryError(pos + 1, f"a field, not {m.group(1)!r} (fields: {' '.join(FIELDS)}; quote text with a colon)")
    if field in TEXT_FIELDS:
        if op not in (":", "="):
            raise QueryError(pos + m.start(2) + 1, f"':' after {field} ({field} is not compared with {op})")
        return _text_term(field, rest, value_pos, pos)
    if op == ":":
        op = "="
    if field in NUMBER_FIELDS:
        if not _INT_RE.fullmatch(rest):
            raise QueryError(value_pos + 1, f"a whole number after {field}{op}")
        return Term(field, op, int(rest))
    if op == "=":
        raise QueryError(pos + m.start(2) + 1, f"> >= < or <= after {field} (a duration is compared, not matched)")
    return Term(field, op, _duration(rest, value_pos))


def _nonempty(value: str | None, pos: int, what: str) -> str:
    if not value:
        raise QueryError(pos + 1, what)
    return value


def _text_term(field: str, value: str, value_pos: int, pos: int) -> Node:
    if field == "status" and "," in value:  # status:ready,claimed
        parts, at, out = value.split(","), value_pos, []
        for part in parts:
            out.append(_text_term(field, part, at, pos))
            at += len(part) + 1
        return _join(Or, out)
    _nonempty(value, value_pos, f"a value after {'@' if field == 'owner' else '#' if field == 'label' else field + ':'}")
    if field == "status" and value not in STATUSES:
        raise QueryError(value_pos + 1, f"a status (ready, claimed, blocked or done), not {value!r}")
    if field == "is" and value not in IS_VALUES:
        raise QueryError(value_pos + 1, f"is:{' / is:'.join(IS_VALUES)}, not is:{value}")
    if field == "label" and not LABEL_RE.fullmatch(value):
        raise QueryError(value_pos + 1, f"a label ([a-z0-9][a-z0-9._-]{{0,31}}), not {value!r}")
    return Term(field, ":", value)


def _duration(text: str, pos: int) -> int:
    if not _DURATION_RE.fullmatch(text):
        raise QueryError(pos + 1, "a duration such as 90s, 15m, 2h, 3d, 1w or 1h30m")
    return sum(int(n) * _UNIT[u] for n, u in re.findall(r"(\d+)([wdhms])", text))


# -- printing ------------------------------------------------------------------------------------


def duration_text(seconds: int) -> str:
    """``5400`` -> ``1h30m`` (what :func:`parse` reads back to the same seconds)."""
    if seconds == 0:
        return "0s"
    out = []
    for unit, size in UNITS:
        n, seconds = divmod(seconds, size)
        if n:
            out.append(f"{n}{unit}")
    return "".join(out)


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _bare(s: str) -> bool:
    """Whether ``s`` reads back as itself, unquoted, as free text."""
    return bool(s) and not any(c.isspace() or c in '()"' for c in s) and s[0] not in "-@#" \
        and s not in KEYWORDS and _FIELD_RE.match(s) is None


def _value(s: str) -> str:
    """A field's value: bare when it reads back as itself."""
    return s if s and not any(c.isspace() or c in '()"' for c in s) else _quote(s)


def to_text(node: Node | None) -> str:
    """The query as text: ``parse(to_text(q)) == q``."""
    if node is None:
        return ""
    if isinstance(node, Text):
        return node.text if _bare(node.text) else _quote(node.text)
    if isinstance(node, Term):
        f, v = node.field, node.value
        if f == "owner":
            return "@" + _value(v)
        if f == "label":
            return "#" + v
        if f in TEXT_FIELDS:
            return f"{f}:{_value(v)}"
        return f"{f}{node.op}{duration_text(v) if f in DURATION_FIELDS else v}"
    if isinstance(node, Not):
        inner = node.node
        return "-" + (f"({to_text(inner)})" if isinstance(inner, (And, Or)) else to_text(inner))
    if isinstance(node, And):
        return " ".join(f"({to_text(n)})" if isinstance(n, Or) else to_text(n) for n in node.nodes)
    return " OR ".join(to_text(n) for n in node.nodes)


def fields_used(node: Node | None) -> set[str]:
    """The fields a query names (``unlocks`` asks the backlog to count what each card unlocks)."""
    if node is None or isinstance(node, Text):
        return set()
    if isinstance(node, Term):
        return {node.field}
    if isinstance(node, Not):
        return fields_used(node.node)
    return set().union(*(fields_used(n) for n in node.nodes))


# -- SQL -----------------------------------------------------------------------------------------

LABELS = Label.__table__  # migration 0003 (read only here)
_OPS: dict[str, Callable] = {
    "=": lambda a, b: a == b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
}
_STATUS = {"ready": literal_column("'ready'"), "claimed": literal_column("'claimed'"),
           "blocked": literal_column("'blocked'"), "done": literal_column("'done'")}
_FLIP = {">": "<", ">=": "<=", "<": ">", "<=": ">="}  # age>2h: created before now - 2h


def text_match(text: str):
    """Text in the id or title, case-insensitive (``LIKE`` with the wildcards escaped)."""
    like = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(func.lower(B.c.title).like(like, escape="\\"), func.lower(B.c.id).like(like, escape="\\"))


def _ids_in(ids: list[str]):
    # Inlined as literals: a keystone set can hold more ids than a statement may have parameters.
    if not ids:
        return false()
    return B.c.id.in_(bindparam("unlock_ids", value=sorted(ids), expanding=True, literal_execute=True, unique=True))


def condition(node: Node | None, now: datetime, unlocks: Mapping[str, int] | None = None, *, paged: bool = False):
    """The condition over ``backlog`` (``B``) that ``node`` asks for; ``unlocks``: card -> unfinished
    cards waiting on it (needed when the query names ``unlocks``; cards not in it unlock 0).

    ``paged``: for a page in claim order (``LIMIT``): a label is then a correlated ``EXISTS`` (the
    claim-order index is walked and each card's label looked up, stopping at the page's end: ~0.3 ms
    where ``IN`` builds the label's whole list first, ~11 ms for 10,000 labelled cards on SQLite);
    otherwise ``IN`` (a count reads the label's cards only). Postgres plans both as the same semi-join."""
    if node is None:
        return true()
    if isinstance(node, Text):
        return text_match(node.text)
    if isinstance(node, Not):
        return not_(condition(node.node, now, unlocks, paged=paged))
    if isinstance(node, And):
        return and_(*(condition(n, now, unlocks, paged=paged) for n in node.nodes))
    if isinstance(node, Or):
        return or_(*(condition(n, now, unlocks, paged=paged) for n in node.nodes))
    f, op, v = node.field, node.op, node.value
    if f == "status":
        return B.c.status == _STATUS[v]  # a literal, so that a partial index applies
    # Nullable columns are tested IS NOT NULL first, so that a negation takes the cards without one
    # (-phase:M1 shows the cards of no phase too: NOT (NULL = 'M1') would be NULL, not true).
    if f == "phase":
        return and_(B.c.phase.is_not(None), B.c.phase == v)
    if f == "owner":
        return and_(B.c.claim_owner.is_not(None), B.c.claim_owner == v)
    if f == "label":
        if paged:
            return exists().where(LABELS.c.card_id == B.c.id, LABELS.c.label == v)
        return B.c.id.in_(select(LABELS.c.card_id).where(LABELS.c.label == v))
    if f == "id":
        if v.endswith("*"):
            prefix = v[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            return B.c.id.like(prefix + "%", escape="\\")
        return B.c.id == v
    if f == "is":
        if v == "claimable":
            return CLAIMABLE
        if v == "waiting":
            return and_(B.c.status == literal_column("'ready'"), B.c.unmet_deps > 0)
        return and_(B.c.status == literal_column("'claimed'"), B.c.claimed_at.is_not(None),
                    B.c.claim_ttl_seconds.is_not(None), LeaseEnd(B) <= now)
    if f in ("priority", "attempts"):
        return _OPS[op](B.c[f], v)
    if f == "unlocks":
        test = _OPS[op]
        counts = unlocks or {}
        if not test(0, v):  # few cards: those that unlock enough
            return _ids_in([i for i, n in counts.items() if test(n, v)])
        return not_(_ids_in([i for i, n in counts.items() if not test(n, v)]))
    col = B.c.created_at if f == "age" else B.c.updated_at
    return _OPS[_FLIP[op]](col, now - timedelta(seconds=v))


__all__ = [
    "DURATION_FIELDS", "FIELDS", "NUMBER_FIELDS", "TEXT_FIELDS", "And", "Node", "Not", "Or", "QueryError", "Term",
    "Text", "condition", "duration_text", "fields_used", "parse", "text_match", "to_text",
]
