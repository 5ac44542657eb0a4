"""A message that runs a function on the interface thread (posted from thread workers).

``post_message`` is thread-safe and never waits, unlike ``call_from_thread``,
which would block a worker forever if the app stopped before running it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.message import Message


class Call(Message):
    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.fn = fn
        self.args = args
        self.kwargs = kwargs

    def run(self) -> None:
        self.fn(*self.args, **self.kwargs)
