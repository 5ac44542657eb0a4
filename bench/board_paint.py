"""Benchmark: the board's first full paint with 1,000 / 10,000 / 100,000 cards, and its peak memory.

Each run starts a fresh ``python`` process on a pseudo-terminal (160x45) that
opens the board on an embedded SQLite backlog; the board notes the wall time
of its first full paint (counts, first pages and stats drawn) and leaves.
Figure: from just before the process is spawned to that paint. Baseline in
the same run: a process that only imports what the board imports (Python,
Textual, SQLAlchemy) and exits — the floor no board can go under.

Also: cursor keys at 100,000 cards, in-process (Pilot, headless), per key.

Run: ``python bench/board_paint.py [--runs 5] [--sizes 1000,10000,100000]``.
The backlogs are built once in ``$TMPDIR/mosaic-bench-board/`` and reused.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import pty
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(tempfile.gettempdir()) / "mosaic-bench-board"
BOARD = "import sys; from mosaic_tui.board import run_board; sys.exit(run_board(sys.argv[1]))"
IMPORTS = "import textual.app, textual.scroll_view, textual.widgets, mosaic_tui.repository"


def build(n: int) -> Path:
    """A backlog of ``n`` cards: 60% ready (a tenth of them waiting), 10% claimed, 10% blocked, 20% done."""
    from mosaic_tui.db.models import Card
    from mosaic_tui.repository import Backlog

    HERE.mkdir(exist_ok=True)
    path = HERE / f"board-{n}.db"
    if path.exists():
        b = Backlog.open(str(path))
        try:
            if b.count() == n:
                return path
        finally:
            b.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    b = Backlog.open(str(path))
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(n):
        r = i % 10
        status = "ready" if r < 6 else "claimed" if r == 6 else "blocked" if r == 7 else "done"
        deps = [f"B{i - 7:06d}"] if r == 0 and i >= 7 else []
        ts = t0 + timedelta(seconds=i)
        rows.append(dict(
            id=f"B{i:06d}", title=f"Card number {i} of the benchmark backlog", body=None, phase=f"P{i % 7}",
            priority=(i * 7919) % 10, status=status, depends_on=deps, attempts=1 if status == "claimed" else 0,
            claim_owner=f"agent-{i % 13}" if status == "claimed" else None,
            claim_ttl_seconds=900 if status == "claimed" else None, claimed_at=ts if status == "claimed" else None,
            created_at=ts, updated_at=ts,
        ))
    with b.db.write() as conn:
        for k in range(0, n, 5000):
            conn.execute(Card.__table__.insert(), rows[k:k + 5000])
    b.close()
    return path


def paint_once(path: Path, code: str = BOARD) -> tuple[float, int]:
    """Seconds from spawn to first full paint (or to exit, for the baseline), and peak RSS in MiB."""
    out = Path(tempfile.mkstemp(prefix="paint-")[1])
    out.unlink()
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 45, 160, 0, 0))
    env = dict(os.environ, MOSAIC_BOARD_PAINTED=str(out), TERM="xterm-256color", COLUMNS="160", LINES="45")

    def drain() -> None:
        try:
            while os.read(master, 65536):
                pass
        except OSError:
            pass

    threading.Thread(target=drain, daemon=True).start()
    t0 = time.time()
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    _, status, usage = os.wait4(proc.pid, 0)
    t_end = time.time()
    proc.returncode = os.waitstatus_to_exitcode(status)
    os.close(master)
    if code == BOARD:
        if proc.returncode != 0 or not out.exists():
            raise SystemExit(f"board run failed (exit {proc.returncode})")
        t_paint = float(out.read_text())
        out.unlink()
    else:
        t_paint = t_end
    return t_paint - t0, usage.ru_maxrss // 1024


async def cursor_keys(path: Path, keys: int = 60) -> tuple[float, float]:
    """Milliseconds per cursor move at this size (headless, in-process), and the same loop without moves.

    Each step moves the cursor (down, page down, up) and lets the app settle
    (repaint, graph pane worker); the second figure is the harness alone.
    """
    from mosaic_tui.board import make_app
    from mosaic_tui.repository import Backlog

    backlog = Backlog.open(str(path))
    app = make_app(backlog)
    async with app.run_test(size=(160, 45)) as pilot:
        for _ in range(3):
            await pilot.pause()
            await app.workers.wait_for_complete()
        col = app.columns["ready"]
        moves = ([col.action_cursor_down] * 20 + [col.action_page_down] * 10 + [col.action_cursor_up] * 30)[:keys]

        async def step(move) -> None:
            if move is not None:
                move()
            await pilot.pause()
            await app.workers.wait_for_complete()

        t0 = time.perf_counter()
        for move in moves:
            await step(move)
        with_moves = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in moves:
            await step(None)
        harness = time.perf_counter() - t0
    backlog.close()
    return with_moves / len(moves) * 1000, harness / len(moves) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sizes", default="1000,10000,100000")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})")
    paths = {n: build(n) for n in sizes}
    results: dict[str, list[tuple[float, int]]] = {"imports only (baseline)": []}
    for n in sizes:
        results[f"{n:,} cards"] = []
    paint_once(paths[sizes[0]])  # warm the OS caches once
    for _ in range(args.runs):  # interleaved, so a busy moment hits every size alike
        results["imports only (baseline)"].append(paint_once(paths[sizes[0]], IMPORTS))
        for n in sizes:
            results[f"{n:,} cards"].append(paint_once(paths[n]))
    print(f"\n{'':26} {'first paint (median)':>21} {'min':>7} {'max':>7} {'peak RSS':>9}")
    med = {}
    for name, runs in results.items():
        times = [t for t, _ in runs]
        med[name] = statistics.median(times)
        print(f"{name:26} {med[name]:>19.3f} s {min(times):>6.3f}s {max(times):>6.3f}s {max(m for _, m in runs):>6} MiB")
    if len(sizes) > 1:
        small, big = f"{sizes[0]:,} cards", f"{sizes[-1]:,} cards"
        print(f"\n{big} / {small}: {med[big] / med[small]:.2f}x (aim <= 1.3x); {big}: {med[big]:.3f} s (aim <= 1.5 s)")
    for n in (sizes[0], sizes[-1]):
        ms, harness = asyncio.run(cursor_keys(paths[n]))
        print(f"cursor move at {n:,} cards (headless, repaint + graph pane): {ms:.1f} ms per move (harness alone {harness:.1f} ms)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
