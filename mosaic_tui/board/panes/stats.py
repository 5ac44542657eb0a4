"""The stats footer: the whole backlog's counts and health, in one line (a pane).

Read on a reload and a recount (``Backlog.stats``; the last hour's claims and
completions, a scan of the hour's events, only every ``RECENT_S``), and
**right after the look** whose events moved a card between statuses: the
counts move by the notice's events (as the columns' do), drawn with the
columns, and ``claimable`` and ``expired`` (two index scans,
``Backlog.claim_figures``) are read in a worker of the footer's own as the
notice arrives, so ``claimable`` follows the ready column a few milliseconds
later rather than holding the columns back (a look used to wait for them:
docs/performance/live.md). While the fleet is busy they are not read (the
figures come with the recount); the oldest ready card's age and the last
hour's figures come with the recount too (they move with the events meanwhile). The critical path (the longest chain of unfinished work: of the
phase shown, else the longest of any phase) comes from the keystones room's
notices. Wordy from ``WIDE_FROM`` columns, compact below ``COMPACT_BELOW``.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Static

from mosaic_tui.board.changes import Changes, deltas
from mosaic_tui.board.jobs import Job
from mosaic_tui.board.panes.base import Drawn
from mosaic_tui.board.draw.text import duration, literal

RECENT_S = 60.0  # the last hour's claims and completions are read this often (they move with events meanwhile)
COMPACT_BELOW = 130
WIDE_FROM = 190
# The words of the footer, by width: compact below COMPACT_BELOW, wide from WIDE_FROM, medium between.
COMPACT = {"head": "", "counts": "R{ready:,} C{claimed:,} B{blocked:,} D{done:,}", "sep": " · ", "expired": "expired",
           "oldest": "oldest", "hour": " · 1h: {claims:,}↑ {done:,}✓", "critical": "crit ", "name_phase": False}
MEDIUM = {"head": "", "counts": "ready {ready:,} · claimed {claimed:,} · blocked {blocked:,} · done {done:,}",
          "sep": " │ ", "expired": "expired", "oldest": "oldest ready", "hour": " │ 1h: {claims:,} claims, {done:,} done",
          "critical": "critical path: ", "name_phase": True}
WIDE = {**MEDIUM, "head": "backlog ", "sep": "  │ ", "expired": "expired leases",
        "hour": "  │ last hour: {claims:,} claims, {done:,} completions"}


class StatsFooter(Static):
    """Counts per status, claimable, ended leases, oldest ready, the last hour's claims and completions."""

    def __init__(self, refresher, *, id: str = "stats") -> None:
        super().__init__(id=id)
        self.refresher = refresher
        self.stats: dict | None = None
        self.marked = 0  # marked cards (the board's marks), shown first
        self.impact = None  # the keystones room's last Impact (its critical paths)
        self.drawn = False
        self._moved = 0  # notices whose events moved the figures shown (a read asked before one is older)
        self._recent_due = 0.0
        self._job = Job(self, self._read, self._show, merge=lambda old, new: old or new,
                        prepare=lambda recent: (recent, self._moved), group="stats")
        self._shown = 0  # stats reads shown (a figures read asked before one is older)
        self._figures = Job(self, lambda shown: (self.refresher.backlog.claim_figures(), shown), self._show_figures,
                            prepare=lambda _want: self._shown, group="stats")

    def on_mount(self) -> None:
        self.refresher.notices.subscribe(self, self.changed)
        self.draw()

    # -- right after the look: the figures that cannot follow from the events ----------------
    def _want_figures(self, events: tuple) -> None:
        """``claimable`` and ``expired`` (which cannot follow from the events alone), when the events moved a
        card between statuses or claims, unless the fleet is busy (then the recount keeps them): in a worker
        of the footer's own, not the look's (the columns do not wait for them)."""
        if not self.refresher.busy and any(
                ev.old_status != ev.new_status or ev.kind in ("claimed", "released", "reclaimed") for ev in events):
            self._figures.ask()

    def _show_figures(self, got: tuple[dict, int]) -> None:
        figures, shown = got
        if self.stats is not None and shown == self._shown:  # no stats read shown since it was asked
            self.stats.update(figures)
            self.draw()

    def on_resize(self) -> None:
        self.draw()

    def changed(self, changes: Changes) -> None:
        if changes.impact is not None:
            self.impact = changes.impact
            self.draw()
            return
        if changes.reload:
            self.draw()  # the phase shown may have changed: its critical path
        if changes.reload or changes.recount:
            recent = changes.reload or time.monotonic() >= self._recent_due
            if recent:
                self._recent_due = time.monotonic() + RECENT_S
            self._job.ask(recent)
        s = self.stats
        if not changes.events or s is None:
            return
        self._moved += 1
        self._want_figures(changes.events)
        for status, d in deltas(changes.events).items():
            s["counts"][status] = max(0, s["counts"][status] + d)
        s["total"] = sum(s["counts"].values())
        for ev in changes.events:
            if ev.kind in ("claimed", "completed"):
                key = "claimsLastHour" if ev.kind == "claimed" else "completionsLastHour"
                s[key] = s.get(key, 0) + 1
        self.draw()

    def _read(self, ask: tuple[bool, int]) -> tuple[dict, int]:
        recent, moved = ask
        return self.refresher.backlog.stats(recent=recent), moved

    def _show(self, got: tuple[dict, int]) -> None:
        stats, moved = got
        old = self.stats or {}
        for key in ("claimsLastHour", "completionsLastHour"):
            if key not in stats:
                stats[key] = old.get(key, 0)
        if old and moved != self._moved:  # events moved the counts since this read was asked: they are newer
            stats["counts"] = dict(old["counts"])
            stats["total"] = sum(stats["counts"].values())
        self.stats = stats
        self._shown += 1
        self.draw()
        if not self.drawn:
            self.drawn = True
            self.post_message(Drawn(self))

    def show_marked(self, n: int) -> None:
        if n != self.marked:
            self.marked = n
            self.draw()

    def critical(self) -> tuple[str | None, list[str]] | None:
        """(phases, chain): the critical path the footer names (of the phase shown; with no phase chosen, the
        longest chain of unfinished work in the whole backlog, across phases); None before the keystones are
        counted."""
        if self.impact is None:
            return None
        return self.impact.path(self.refresher.scope.phase)

    def _critical_text(self, words: dict[str, str]) -> Text:
        t = Text()
        found = self.critical()
        if found is None:
            return t
        phase, chain = found
        t.append(words["sep"])
        t.append(words["critical"], "bold magenta")
        if not chain:
            t.append("—")
            return t
        t.append(f"{len(chain):,} card{'s' if len(chain) != 1 else ''} via {literal(chain[0])}")
        if phase is not None and self.refresher.scope.phase is None and words["name_phase"]:
            t.append(f" ({literal(phase)})")
        return t

    def draw(self) -> None:
        s = self.stats
        t = Text()
        if self.marked:
            t.append(f"● {self.marked:,} marked", "bold reverse")
            t.append(" esc clears │ ")
        width = self.app.size.width - (45 if self.marked else 0)  # the marks come first
        if s is None:
            t.append("loading…")
            self.update(t, layout=False)
            return
        words = COMPACT if width < COMPACT_BELOW else MEDIUM if width < WIDE_FROM else WIDE
        c = s["counts"]
        exp = s["expiredClaimCount"]
        age = s["oldestReadyAgeSeconds"]
        t.append(words["head"], "bold")
        t.append(words["counts"].format(**c))
        t.append(f"{words['sep']}claimable {s['claimable']:,}")
        t.append(f" · {words['expired']} {exp:,}", "bold red" if exp else "")
        t.append(f" · {words['oldest']} {duration(age) if age is not None else '—'}")
        t.append(words["hour"].format(claims=s.get("claimsLastHour", 0), done=s.get("completionsLastHour", 0)))
        t.append_text(self._critical_text(words))
        self.update(t, layout=False)  # one line, always
