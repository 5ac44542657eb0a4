"""Every worker of the board, and the one path their failures take.

:func:`run_job` reads in a thread worker and hands the result to a function on
the interface thread (a :class:`Call` message: ``post_message`` is
thread-safe and never waits). Every worker runs on the app, so that every
failure reaches the app's one ``@on(Worker.StateChanged)``, which asks
:func:`explain` what the person sees (as Harlequin does):

- the database cannot be reached (``Unavailable``, a lost connection): the
  disconnected banner, and the board keeps retrying;
- the repository refused (any other ``MosaicError``): a ``refused`` notice
  saying why;
- anything else: one line, ``unexpected error: Type: message``, never a
  traceback. No password in any of them.

:class:`Job` runs one read at a time for one owner: what is asked meanwhile
is merged and read right after (whether the read succeeded or failed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from textual.message import Message
from textual.worker import Worker

from mosaic_tui.errors import MosaicError, ReadOnly, Unavailable

T = TypeVar("T")


class Call(Message):
    """Run ``fn(*args)`` on the interface thread (posted from a worker)."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        super().__init__()
        self.fn = fn
        self.args = args

    def run(self) -> None:
        self.fn(*self.args)


def run_job(app, read: Callable[..., T], *args: Any, then: Callable[[T], None] | None = None,
            failed: Callable[[], None] | None = None, to=None, group: str = "job",
            exclusive: bool = False) -> Worker:
    """``read(*args)`` in a thread worker of ``app``; then ``then(result)`` (or ``failed()``) on the
    interface thread. The Call goes to the app itself (a message posted to a widget would bubble up
    through every parent first: a queue each), or to ``to``, a screen that may close meanwhile (a
    Call to a closed screen is dropped). The failure itself goes to the app's one handler."""
    target = app if to is None else to

    def body() -> T:
        try:
            result = read(*args)
        except BaseException:
            if failed is not None:
                target.post_message(Call(failed))
            raise
        if then is not None:
            target.post_message(Call(then, result))
        return result

    return app.run_worker(body, thread=True, group=group, exclusive=exclusive, exit_on_error=False,
                          name=getattr(read, "__qualname__", group))


class Job(Generic[T]):
    """One read at a time for one owner (a pane, or the app for the refresher).

    ``ask(want)`` starts a read, or, while one runs, merges ``want`` into
    what is pending (``merge(pending, want)``, default: the newer wins).
    When the read ends, ``show(result)`` runs on the interface thread and the
    pending ask (if any) starts; after a failure, only the pending ask does.
    ``prepare(want)``, on the interface thread just before the read starts,
    turns the ask into what the worker reads with (so a worker never reads
    state the interface thread changes).
    """

    def __init__(self, owner, read: Callable[[Any], T], show: Callable[[T], None], *,
                 merge: Callable[[Any, Any], Any] | None = None, prepare: Callable[[Any], Any] | None = None,
                 group: str = "job") -> None:
        self.owner = owner
        self.read = read
        self.show = show
        self.merge = merge or (lambda old, new: new)
        self.prepare = prepare or (lambda want: want)
        self.group = group
        self.running = False
        self.pending: Any = None
        self._has_pending = False

    @property
    def busy(self) -> bool:
        """A read runs, or one is asked for."""
        return self.running or self._has_pending

    def ask(self, want: Any = None) -> None:
        if self.running:
            self.pending = self.merge(self.pending, want) if self._has_pending else want
            self._has_pending = True
            return
        self.running = True
        run_job(self.owner.app, self.read, self.prepare(want), then=self._done, failed=self._over, group=self.group)

    def _done(self, result: T) -> None:
        self.running = False
        self.show(result)
        self._next()

    def _over(self) -> None:
        self.running = False
        self._next()

    def _next(self) -> None:
        if self._has_pending and not self.running:
            want, self.pending, self._has_pending = self.pending, None, False
            self.ask(want)


# --------------------------------------------------------------------------- the one mapping
OFFLINE, REFUSED, UNEXPECTED = "offline", "refused", "unexpected"
_DRIVER_MODULES = ("psycopg", "sqlite3", "sqlalchemy")


def _lost_connection(exc: BaseException) -> bool:
    """A driver's or the network's word for "the database is not there" that reached us untranslated."""
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    if getattr(exc, "connection_invalidated", False):
        return True
    return any(cls.__module__.split(".")[0] in _DRIVER_MODULES and cls.__name__ in ("OperationalError", "InterfaceError")
               for cls in type(exc).__mro__)


def explain(exc: BaseException, target=None) -> tuple[str, str]:
    """What a failed worker means to the person: ``(OFFLINE | REFUSED | UNEXPECTED, one line)``.
    A read-only standby that refused a write is a refusal (the board still reads), not "offline"."""
    from mosaic_tui.db.url import scrub

    detail = scrub(" ".join(str(exc).split())[:300], target)
    if isinstance(exc, ReadOnly):
        return REFUSED, detail
    if isinstance(exc, Unavailable):
        return OFFLINE, detail
    if isinstance(exc, MosaicError):
        return REFUSED, detail
    if _lost_connection(exc):
        return OFFLINE, f"database unreachable: {type(exc).__name__}: {detail}"
    return UNEXPECTED, f"unexpected error: {type(exc).__name__}: {detail}"
