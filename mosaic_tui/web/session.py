"""One browser tab's board process: ``python -m mosaic_tui.web.session [PHASE]``.

Spawned by the web server, one per websocket. The backlog comes from the
environment (``DATABASE_URL``, set by the server), never from argv, so no
URL or password shows in the process list. On Linux the process asks the
kernel for SIGTERM when its server dies, so a killed server leaves no board
behind holding database connections.
"""

from __future__ import annotations

import os
import signal
import sys


def _die_with_parent() -> None:
    """SIGTERM this process when the server that spawned it dies (Linux; elsewhere a no-op)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - no prctl: the server still ends its boards
        return
    parent = os.environ.get("MOSAIC_WEB_SERVER_PID")
    if parent and parent != str(os.getppid()):  # the server died before prctl took effect
        sys.exit(0)


def main() -> int:
    _die_with_parent()
    phase = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] else None
    from mosaic_tui.board import run_board

    return run_board(None, phase=phase)


if __name__ == "__main__":
    sys.exit(main())
