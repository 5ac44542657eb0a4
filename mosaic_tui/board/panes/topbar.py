"""The top bar: which backlog, the scope, the feed, and the disconnected banner (a pane).

It hears the notices for the scope and the connection (``offline``), and is
told the feed's state by the app. It says so when the database goes away
(once) and when it is back.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from mosaic_tui.board.changes import Changes, Scope
from mosaic_tui.board.draw.text import literal
from mosaic_tui.board.jobs import run_job

BADGES = {  # the feed's state -> the badge's mark and style; its text is the feed's label
    "live": ("●", "bold green"),
    "polling": ("◌", "yellow"),
    "replica": ("◌", "yellow"),  # polling the replica (every 1s): the primary does not answer
    "connecting": ("◌", "dim"),
}
AWAY = ("lost", "replica")  # the feed is not on the primary: when it is again, the board catches up


def replica_notice(lag: float | None) -> str:
    """What the board says when its feed falls back to the read replica: not "caught up" (the replica may lag)."""
    shown = "unknown" if lag is None else f"{round(lag * 1000):,} ms"
    return f"the primary does not answer: polling the replica (lag {shown}); its changes show as it replays them"


def badge(status: str, label: str) -> Text:
    """``● live``, ``◌ polling (every 1s)``, ``◌ polling the replica (every 1s)``, ``◌ connecting``,
    ``↻ reconnecting``, ``✕ feed lost``."""
    if status == "lost" and label == "reconnecting":  # the feed reconnects with backoff (a restart, a failover)
        return Text("↻ reconnecting", "bold red")
    if status not in BADGES:
        return Text("✕ feed lost", "bold red")
    mark, style = BADGES[status]
    return Text(f"{mark} {label}", style)


def first_label(target) -> tuple[str, str]:
    """The feed's state and label before it says anything: SQLite's feed polls from the start (so the
    badge does not change when it reports), Postgres' is connecting."""
    if target.backend == "sqlite":
        from mosaic_tui.db.feed import SQLITE_POLL_S

        return "polling", f"polling (every {SQLITE_POLL_S:g}s)"  # as SQLiteFeed.label says it
    return "connecting", "connecting"


def where(target) -> str:
    """The backlog's name for people: backend and file, or host/database (never a password)."""
    if target.backend == "sqlite":
        path = target.path
        return f"sqlite · {path.name if path else ':memory:'}"
    return f"postgres · {target.short()}"


class TopBar(Static):
    """One line: `` mosaic board  sqlite · backlog.db  phase: all  ◌ polling (every 0.02s)``."""

    def __init__(self, refresher, *, live: bool, id: str = "topbar") -> None:
        super().__init__(id=id)
        self.refresher = refresher
        self.where = where(refresher.backlog.db.target)
        self.live = live
        self.scope: Scope = refresher.scope
        self.offline: str | None = None
        self.feed, self.feed_label = first_label(refresher.backlog.db.target)

    def on_mount(self) -> None:
        self.refresher.notices.subscribe(self, self.changed)
        self.draw()

    def replica(self) -> str | None:
        """``replica lag 0.4s`` when the board reads a replica (``--read-url``), as measured with its reads."""
        replicas = getattr(self.refresher.backlog.db, "replicas", None)
        if replicas is None:
            return None
        lag = replicas.last_lag
        return "replica: no answer" if lag is None else f"replica lag {lag:.1f}s"

    def changed(self, changes: Changes) -> None:
        lag = self.replica()
        if lag != getattr(self, "_lag", None):
            self._lag = lag
            self.draw()
        was, scope = self.offline, self.scope
        self.scope, self.offline = changes.scope, changes.offline
        if self.offline and not was:
            self.app.notify(self.offline, title="database unreachable", severity="error", markup=False, timeout=5)
        elif was and not self.offline:
            self.app.notify("database reachable again: caught up", timeout=3)
        if (was, scope) != (self.offline, self.scope):
            self.draw()

    def show_feed(self, status: str, label: str | None = None) -> None:
        label = label or status
        if (status, label) != (self.feed, self.feed_label):
            if status == "replica" and self.feed != "replica":  # fell back to the replica: say how far behind
                self._say_replica()
            elif self.feed in AWAY and status not in AWAY:  # back on the (new) primary: the wake-up catches up
                self.app.notify("feed reconnected: caught up", timeout=3)
            self.feed, self.feed_label = status, label
            self.draw()

    def _say_replica(self) -> None:
        """The replica's lag measured now (in a worker: a query), then :func:`replica_notice`."""
        replicas = getattr(self.refresher.backlog.db, "replicas", None)
        if replicas is None:
            self.app.notify(replica_notice(None), timeout=6, markup=False)
            return
        run_job(self.app, replicas.lag, then=lambda lag: self.app.notify(replica_notice(lag), timeout=6, markup=False))

    def draw(self) -> None:
        t = Text(" mosaic board", "bold")
        t.append(f"  {self.where}", "dim" if not self.offline else "")
        t.append(f"  phase: {literal(self.scope.phase) if self.scope.phase else 'all'}")
        if self.scope.view is not None:
            t.append(f"  view: {literal(self.scope.view)}", "bold")
        elif self.scope.query is not None:
            t.append("  filter: ")
            t.append(f'"{literal(self.scope.filter_text())}"', "bold")
        t.append("  ")
        if self.live:
            t.append_text(badge(self.feed, self.feed_label))
        lag = self.replica()
        if lag is not None:
            t.append(f"  {lag}", "dim")
        if self.offline:
            t.append("   ⚠ DISCONNECTED — retrying: ", "bold")
            t.append(literal(self.offline))
        self.set_class(bool(self.offline), "disconnected")
        self.update(t, layout=False)  # one line, always
