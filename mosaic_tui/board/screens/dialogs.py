"""The board's screens: help, card detail, card form, card picker, phase picker (the drawn graph: ``screens.graph``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.fuzzy import Matcher
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Markdown, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from mosaic_tui.board.jobs import run_job
from mosaic_tui.board.keys import KEYS
from mosaic_tui.board.screens.form import CheckedForm
from mosaic_tui.board.screens.note import thread as thread_text
from mosaic_tui.board.draw.text import duration, lease_left, literal, literal_block

if TYPE_CHECKING:
    from mosaic_tui.db.models import Card

class HelpScreen(ModalScreen[None]):
    """The keys of a key table (the board's, or the drawn graph's) and what the marks mean."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 84; height: auto; max-height: 90%; border: round $accent; background: $surface; padding: 0 1; }
    """
    BOARD_NOTES = ("Waiting: a ready card whose dependencies are not all done.\n"
                   "Expired: a claim whose lease has ended (it returns to ready on the next claim/reclaim).")

    def __init__(self, table: tuple | None = None, *, title: str = "Keys", notes: str = BOARD_NOTES) -> None:
        super().__init__()
        self.table = KEYS if table is None else table
        self.heading = title
        self.notes = notes

    def compose(self) -> ComposeResult:
        t = Text()
        t.append(f"{self.heading}\n\n", "bold")
        for key in self.table:
            t.append(f"  {key.shown:<12}", "bold cyan")
            t.append(f" {key.help}\n")
        t.append("\n" + self.notes, "dim")
        with VerticalScroll():
            yield Static(t)

    def action_close(self) -> None:
        self.dismiss(None)


def _kv(t: Text, k: str, v: str, style: str = "") -> None:
    t.append(f"{k:<12}", "bold")
    t.append(v + "\n", style)


class DetailScreen(ModalScreen[None]):
    """A card in full: body as markdown, acceptance, labels, notes (newest last), dependencies, claim, attempts,
    history."""

    BINDINGS = [Binding("escape,q,enter", "close", "Close")]
    DEFAULT_CSS = """
    DetailScreen { align: center middle; }
    DetailScreen > VerticalScroll { width: 90%; height: 90%; border: round $accent; background: $surface; padding: 0 1; }
    DetailScreen .section { text-style: bold underline; margin-top: 1; }
    DetailScreen Markdown { margin: 0; padding: 0; }
    """

    def __init__(self, card: Card, deps: dict[str, Card], events: list, now, impact=None, *,
                 thread: tuple[list, int] = ([], 0), labels: list[str] = ()) -> None:
        """``impact``: the keystones room's last :class:`~mosaic_tui.repository.watch.impact.Impact` (None: not counted yet);
        ``thread``: the latest notes (oldest first) and how many there are; ``labels``: the card's labels."""
        super().__init__()
        self.thread = thread
        self.labels = labels
        self.card = card
        self.deps = deps
        self.events = events
        self.now = now
        self.impact = impact

    def compose(self) -> ComposeResult:
        c = self.card
        head = Text()
        head.append(literal(c.id), "bold cyan")
        head.append("  ")
        head.append(literal(c.title), "bold")
        info = Text()
        _kv(info, "status", c.status)
        _kv(info, "priority", str(c.priority))
        _kv(info, "phase", literal(c.phase) or "—")
        _kv(info, "attempts", str(c.attempts))
        if c.status == "claimed":
            left = lease_left(c, self.now)
            lease = "" if left is None else (f"expired {duration(-left)} ago" if left <= 0 else f"{duration(left)} left")
            _kv(info, "claim", f"{literal(c.claim_owner)} · ttl {c.claim_ttl_seconds}s · {lease}", "red" if left is not None and left <= 0 else "")
        else:
            _kv(info, "claim", "—")
        if self.impact is not None and c.status != "done":
            n = self.impact.unlocks.get(c.id, 0)
            _kv(info, "unlocks", f"{n:,} unfinished card{'s' if n != 1 else ''} wait on it, directly or not",
                "bold" if n else "")
            chain = self.impact.critical.get(c.phase, [])
            if c.id in chain:
                _kv(info, "critical", f"step {chain.index(c.id) + 1} of {len(chain)} on the critical path of "
                                      f"{literal(c.phase) if c.phase else 'the cards without a phase'}", "magenta")
        _kv(info, "created", c.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"))
        _kv(info, "updated", c.updated_at.strftime("%Y-%m-%d %H:%M:%S UTC"))
        if c.idempotency_key:
            _kv(info, "idem. key", literal(c.idempotency_key))
        if self.labels:
            _kv(info, "labels", " ".join(f"#{n}" for n in self.labels), "magenta")
        deps = Text()
        if c.depends_on:
            for d in c.depends_on:
                dc = self.deps.get(d)
                st = dc.status if dc else "missing"
                deps.append("  ✓ " if st == "done" else "  ✗ ", "green" if st == "done" else "bold red")
                deps.append(literal(d), "bold")
                deps.append(f" [{st}] ")
                deps.append(literal(dc.title) if dc else "", "dim")
                deps.append("\n")
        else:
            deps.append("  none\n", "dim")
        hist = Text()
        for ev in self.events[-50:]:
            hist.append(f"  {ev.at.strftime('%Y-%m-%d %H:%M:%S')} ", "dim")
            hist.append(f"{ev.kind:<10}", "bold")
            if ev.old_status != ev.new_status and ev.new_status:
                hist.append(f" {ev.old_status or '·'} → {ev.new_status}")
            if ev.owner:
                hist.append(f" @{literal(ev.owner)}")
            hist.append("\n")
        if not self.events:
            hist.append("  no events\n", "dim")
        with VerticalScroll():
            yield Static(head)
            yield Static(info)
            yield Label("Body", classes="section")
            if c.body:
                # Markdown renders the body's formatting; control characters are made visible first.
                yield Markdown(literal_block(c.body))
            else:
                yield Static(Text("  no body", "dim"))
            yield Label("Acceptance criteria", classes="section")
            if c.acceptance is None:
                yield Static(Text("  none", "dim"))
            elif isinstance(c.acceptance, list):
                yield Static(Text("\n".join(f"  • {literal(x if isinstance(x, str) else json.dumps(x))}" for x in c.acceptance)))
            elif isinstance(c.acceptance, str):
                yield Static(Text(literal_block(c.acceptance)))
            else:
                yield Static(Text(literal_block(json.dumps(c.acceptance, indent=2))))
            yield Label(f"Notes ({self.thread[1]:,})", classes="section")
            yield Static(thread_text(*self.thread))
            yield Label("Dependencies", classes="section")
            yield Static(deps)
            yield Label("History", classes="section")
            yield Static(hist)
            yield Static(Text("escape to close", "dim"))

    def action_close(self) -> None:
        self.dismiss(None)


class CardForm(CheckedForm[dict | None]):
    """New card (id, title, body, phase, priority) or edit (title, body, phase, priority)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save")]
    DEFAULT_CSS = """
    CardForm { align: center middle; }
    CardForm > Vertical { width: 80; height: auto; max-height: 95%; border: round $accent; background: $surface; padding: 0 1; }
    CardForm Input { margin: 0; width: 1fr; }
    CardForm .row { height: 3; }
    CardForm .row > Label { width: 10; padding-top: 1; text-style: bold; }
    CardForm TextArea { height: 8; }
    CardForm #error { color: $error; }
    CardForm Horizontal { height: auto; }
    """

    def __init__(self, card: Card | None = None, *, phase: str | None = None) -> None:
        super().__init__()
        self.card = card
        self.default_phase = phase

    def compose(self) -> ComposeResult:
        c = self.card
        with Vertical():
            yield Label(Text(f"Edit {literal(c.id)}" if c else "New card", "bold"))
            if c is None:
                with Horizontal(classes="row"):
                    yield Label("id")
                    yield Input(placeholder="e.g. A4-07", id="id")
            with Horizontal(classes="row"):
                yield Label("title")
                yield Input(value=c.title if c else "", placeholder="one line", id="title")
            with Horizontal(classes="row"):
                yield Label("phase")
                yield Input(value=(c.phase or "") if c else (self.default_phase or ""), placeholder="empty: none", id="phase")
            with Horizontal(classes="row"):
                yield Label("priority")
                yield Input(value=str(c.priority) if c else "0", placeholder="an integer, higher first", id="priority")
            yield Label("body (markdown) · tab moves on · ctrl+s saves · escape cancels")
            yield TextArea(c.body or "" if c else "", id="body", soft_wrap=True)
            yield from self.ending()

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "title": self.query_one("#title", Input).value,
            "phase": self.query_one("#phase", Input).value.strip() or None,
            "priority": self.query_one("#priority", Input).value.strip() or "0",
            "body": self.query_one("#body", TextArea).text or None,
        }
        if self.card is None:
            out["id"] = self.query_one("#id", Input).value.strip()
        return out

    def checked(self) -> dict[str, Any]:
        """Checked by the repository's one set of rules for an edit (``check_edit``), so the form says what
        the repository would."""
        from mosaic_tui.repository import check_edit, check_id

        v = self.values()
        card_id = check_id(v["id"]) if self.card is None else self.card.id
        v.update(check_edit(card_id, {k: v[k] for k in ("title", "body", "phase", "priority")})[0])
        return v

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_save()


class PickCardScreen(ModalScreen[str | None]):
    """Pick a card by fuzzy search over ids and titles (the database narrows, the matcher ranks)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    PickCardScreen { align: center middle; }
    PickCardScreen > Vertical { width: 90; height: 80%; border: round $accent; background: $surface; padding: 0 1; }
    PickCardScreen OptionList { height: 1fr; }
    """

    def __init__(self, backlog, title: str, *, exclude: set[str] = frozenset(), choices: list[Card] | None = None) -> None:
        super().__init__()
        self.backlog = backlog
        self.heading = title
        self.exclude = set(exclude)
        self.fixed = choices
        self._pool: list[Card] | None = None  # read once, by the first search
        self._asked = 0  # searches asked for: only the newest one's result is shown

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self.heading, "bold"))
            yield Input(placeholder="type to search ids and titles", id="q")
            yield OptionList(id="options")

    def on_mount(self) -> None:
        self.search("")

    @on(Input.Changed, "#q")
    def _changed(self, event: Input.Changed) -> None:
        self.search(event.value)

    @on(Input.Submitted, "#q")
    def _submit(self) -> None:
        ol = self.query_one(OptionList)
        if ol.option_count:
            idx = ol.highlighted if ol.highlighted is not None else 0
            self.dismiss(ol.get_option_at_index(idx).id)

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def key_down(self) -> None:
        self.query_one(OptionList).action_cursor_down()

    def key_up(self) -> None:
        self.query_one(OptionList).action_cursor_up()

    def search(self, query: str) -> None:
        self._asked += 1
        run_job(self.app, self._find, query, self._pool, self._asked, then=self._found, to=self, group="pick")

    def _find(self, query: str, pool: list[Card] | None, asked: int) -> tuple[list[Card] | None, list[Card], int]:
        """In a worker: the cards matching ``query``, best first (and the pool, read once, for the next search)."""
        if self.fixed is not None:
            candidates = list(self.fixed)
        else:
            if pool is None:
                pool = self.backlog.list(limit=5000)
            candidates = list(pool)
            if query:
                candidates += self.backlog.list(search=query, limit=200)
        seen: set[str] = set()
        scored = []
        matcher = Matcher(query) if query else None
        for c in candidates:
            if c.id in seen or c.id in self.exclude:
                continue
            seen.add(c.id)
            hay = f"{c.id} {c.title}"
            score = matcher.match(hay) if matcher else 1.0
            if score > 0:
                scored.append((-score, c.id, c))
        scored.sort(key=lambda x: (x[0], x[1]))
        return pool, [c for _, _, c in scored[:200]], asked

    def _found(self, got: tuple[list[Card] | None, list[Card], int]) -> None:
        pool, cards, asked = got
        if pool is not None:
            self._pool = pool
        if asked == self._asked:  # an older search that ended late shows nothing
            self._show(cards)

    def _show(self, cards: list[Card]) -> None:
        ol = self.query_one(OptionList)
        ol.clear_options()
        for c in cards:
            t = Text()
            t.append(literal(c.id), "bold")
            t.append(f" [{c.status}] ", "dim")
            t.append(literal(c.title))
            ol.add_option(Option(t, id=c.id))
        if cards:
            ol.highlighted = 0

    def action_cancel(self) -> None:
        self.dismiss(None)


class PhaseScreen(ModalScreen[tuple[str | None] | None]):
    """Choose a phase (or all phases)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    PhaseScreen { align: center middle; }
    PhaseScreen > Vertical { width: 50; height: auto; max-height: 80%; border: round $accent; background: $surface; padding: 0 1; }
    PhaseScreen OptionList { height: auto; max-height: 30; }
    """

    ALL = "\x00all"

    def __init__(self, phases: list[str], current: str | None) -> None:
        super().__init__()
        self.phases = phases
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text("Phase", "bold"))
            options = [Option(Text("all phases", "italic"), id=self.ALL)]
            options += [Option(Text(literal(p)), id=p) for p in self.phases]
            yield OptionList(*options)

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        ids = [self.ALL, *self.phases]
        ol.highlighted = ids.index(self.current) if self.current in ids else 0

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss((None if event.option.id == self.ALL else event.option.id,))

    def action_cancel(self) -> None:
        self.dismiss(None)
