"""Benchmark: the board in a browser (``mosaic-tui serve``) against the same board in a terminal.

Two figures, each with its baseline measured in the same run, interleaved:

- **first frame**: from opening a tab (``page.goto`` on a running server) to
  the browser's terminal showing the board (column titles with counts and the
  stats footer, read from xterm.js's buffer). Baseline: the board spawned on a
  pseudo-terminal (160x45), from spawn to the same text in its output. Both
  include the board process's start (Python, Textual, SQLAlchemy); the web adds
  the page, textual.js, the websocket, the relay and xterm.js's drawing.
- **key to database**: from pressing ``b`` (block the selected card) to the
  card's row reading ``blocked`` in the database (polled on a connection of
  its own). Baseline: the same key written to the terminal board's pty.

Browser: Debian's chromium at /usr/bin/chromium through Playwright (never a
downloaded browser). Also writes the screenshot for docs/web.png (``--shot``).

Run: ``python bench/web.py [--runs 5] [--keys 15] [--pg postgresql://...] [--shot docs/web.png]``.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import signal
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
NEEDLE = "this.terminal.open(e),"
SCREEN_JS = """() => {
  const t = window.__mosaicTerm; if (!t) return "";
  const b = t.buffer.active; const out = [];
  for (let y = 0; y < b.length; y++) { const l = b.getLine(y); if (l) out.push(l.translateToString(true)); }
  return out.join("\\n");
}"""
DRAWN_JS = """(blocked) => {
  const t = window.__mosaicTerm; if (!t) return false;
  const b = t.buffer.active; let s = "";
  for (let y = 0; y < b.length; y++) { const l = b.getLine(y); if (l) s += l.translateToString(true) + "\\n"; }
  return s.includes("ready (") && s.includes("blocked (" + blocked + ")") && s.includes("claimable ");
}"""
CARDS = 60


# --------------------------------------------------------------------------- backlogs
def fresh(url: str) -> None:
    """``CARDS`` ready cards, distinct priorities (the selected card is always the top ready one)."""
    from mosaic_tui.repository import Backlog

    b = Backlog.open(url)
    try:
        from sqlalchemy import text

        b.count()  # migrates a new database
        with b.db.engine.begin() as conn:
            conn.execute(text("DELETE FROM backlog"))
        for i in range(CARDS):
            b.create(f"K-{i:03d}", f"Card {i} of the web benchmark", priority=CARDS - i, phase=f"P{i % 3}")
    finally:
        b.close()


class Poller:
    """How many cards are blocked, read on a connection of its own (cheap enough to spin on)."""

    def __init__(self, url: str):
        self.pg = url.startswith("postgres")
        if self.pg:
            import psycopg
            from sqlalchemy.engine import make_url

            u = make_url(url).set(drivername="postgresql")
            self.conn = psycopg.connect(u.render_as_string(hide_password=False), autocommit=True)
        else:
            self.conn = sqlite3.connect(url, isolation_level=None)

    def blocked(self) -> int:
        return self.conn.execute("SELECT count(*) FROM backlog WHERE status = 'blocked'").fetchone()[0]

    def wait_blocked(self, n: int, timeout: float = 30) -> float:
        deadline = time.perf_counter() + timeout
        while self.blocked() < n:
            if time.perf_counter() > deadline:
                raise SystemExit(f"the card was never blocked ({n})")
            time.sleep(0.001)
        return time.perf_counter()


# --------------------------------------------------------------------------- terminal baseline
def terminal_run(url: str, keys: int) -> tuple[float, list[float]]:
    """The board on a pty: seconds from spawn to the first frame, and ms per ``b`` to the database."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 45, 160, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="160", LINES="45", DATABASE_URL=url)
    buf = bytearray()
    lock = threading.Lock()

    def drain() -> None:
        try:
            while chunk := os.read(master, 65536):
                with lock:
                    buf.extend(chunk)
        except OSError:
            pass

    threading.Thread(target=drain, daemon=True).start()
    poll = Poller(url)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "mosaic_tui", "board"], stdin=slave, stdout=slave, stderr=slave,
                            env=env, close_fds=True, start_new_session=True)
    os.close(slave)

    def shows(*needles: bytes, since: int = 0, timeout: float = 60) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            with lock:
                if all(n in buf[since:] for n in needles):
                    return time.perf_counter()
            time.sleep(0.002)
        raise SystemExit(f"the terminal board never showed {needles}")

    first = shows(b"ready (", b"claimable ") - t0
    time.sleep(1.0)  # let the board settle (stats, graph pane) as a person would before a key
    ms = []
    for k in range(1, keys + 1):
        with lock:
            since = len(buf)
        t = time.perf_counter()
        os.write(master, b"b")
        ms.append((poll.wait_blocked(k) - t) * 1000)
        shows(f"blocked ({k})".encode(), since=since)  # the board has redrawn: the next card is selected
        time.sleep(0.4 - min(0.4, time.perf_counter() - t))
    os.write(master, b"q")
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    os.close(master)
    poll.conn.close()
    return first, ms


# --------------------------------------------------------------------------- the browser
class Server:
    def __init__(self, url: str):
        env = dict(os.environ, DATABASE_URL=url)
        self.proc = subprocess.Popen([sys.executable, "-m", "mosaic_tui", "serve", "--port", "0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        for line in self.proc.stdout:
            if line.startswith("open "):
                self.url = line.split()[1]
                break
        else:
            raise SystemExit("mosaic-tui serve did not start")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(30)


def _patched_js() -> str:
    """textual.js as installed, handing its terminal to the page (read once: no round trip per tab)."""
    import textual_serve

    body = (Path(textual_serve.__file__).parent / "static" / "js" / "textual.js").read_text(encoding="utf-8")
    if NEEDLE not in body:
        raise SystemExit("textual.js changed: cannot read the terminal's buffer")
    return body.replace(NEEDLE, NEEDLE + "window.__mosaicTerm=this.terminal,", 1)


def new_tab(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 800})
    js = _patched_js()
    page.route("**/static/js/textual.js", lambda route: route.fulfill(body=js, content_type="application/javascript"))
    return page


PHASES: dict[str, list[float]] = {"page loaded": [], "websocket open": [], "first byte of the board": []}


def browser_run(browser, server: Server, url: str, keys: int) -> tuple[float, list[float]]:
    poll = Poller(url)
    page = new_tab(browser, server.url)
    marks: dict[str, float] = {}

    def on_websocket(ws) -> None:
        marks.setdefault("websocket open", time.perf_counter())
        ws.on("framereceived", lambda p: isinstance(p, bytes) and marks.setdefault("first byte of the board", time.perf_counter()))

    page.on("websocket", on_websocket)
    t0 = time.perf_counter()
    page.goto(server.url)  # returns on the load event (the font, the stylesheet and textual.js in)
    marks["page loaded"] = time.perf_counter()
    page.wait_for_function(DRAWN_JS, arg=0, polling="raf", timeout=60000)
    first = time.perf_counter() - t0
    for name in PHASES:
        if name in marks:
            PHASES[name].append((marks[name] - t0) * 1000)
    page.focus(".xterm-helper-textarea")  # the app's focus repaints the screen: let it settle before a key
    time.sleep(1.0)
    ms = []
    for k in range(1, keys + 1):
        t = time.perf_counter()
        page.keyboard.press("b")
        ms.append((poll.wait_blocked(k) - t) * 1000)
        page.wait_for_function(DRAWN_JS, arg=k, polling="raf", timeout=30000)
        time.sleep(0.4 - min(0.4, time.perf_counter() - t))
    page.close()
    poll.conn.close()
    return first, ms


def screenshot(browser, out: Path) -> None:
    """A demo backlog (phases, dependencies, a claim, a blocked card) in the browser, for docs/web.png."""
    from mosaic_tui import demo
    from mosaic_tui.repository import Backlog

    path = Path(tempfile.mkdtemp(prefix="mosaic-web-shot-")) / "backlog.db"
    b = Backlog.open(str(path))
    try:
        demo.seed(b)
        first = b.claim("agent-3")
        second = b.claim("agent-7")
        if first is not None:
            b.complete(first.id, "agent-3")
        if second is not None:
            b.block(second.id)
        b.claim("agent-5")
    finally:
        b.close()
    server = Server(str(path))
    try:
        page = browser.new_page(viewport={"width": 1600, "height": 860})
        js = _patched_js()
        page.route("**/static/js/textual.js", lambda route: route.fulfill(body=js, content_type="application/javascript"))
        page.goto(server.url)
        page.wait_for_function(DRAWN_JS, arg=1, polling="raf", timeout=60000)
        page.focus(".xterm-helper-textarea")
        time.sleep(1.0)
        page.keyboard.press("j")
        page.wait_for_function("() => { const t = window.__mosaicTerm; if (!t) return false; const b = t.buffer.active;"
                               " for (let y = 0; y < b.length; y++) { const l = b.getLine(y);"
                               " if (l && l.translateToString(true).includes('Unlocks')) return true; } return false; }",
                               polling=200, timeout=60000)
        time.sleep(1.0)
        page.screenshot(path=str(out))
        page.close()
    finally:
        server.stop()


def summary(name: str, xs: list[float], unit: str) -> str:
    return f"{name:44} median {statistics.median(xs):8.1f} {unit}  min {min(xs):8.1f}  max {max(xs):8.1f}  (n={len(xs)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="first frames per mode and backend")
    ap.add_argument("--keys", type=int, default=15, help="`b` presses per run")
    ap.add_argument("--pg", metavar="URL", help="also on this Postgres database (its backlog table is emptied!)")
    ap.add_argument("--shot", metavar="PNG", help="write a screenshot of the board in the browser here")
    ap.add_argument("--shot-only", action="store_true", help="only the screenshot (no figures)")
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"no browser at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    backends = {} if args.shot_only else {"SQLite": str(Path(tempfile.mkdtemp(prefix="mosaic-web-bench-")) / "backlog.db")}
    if args.pg and not args.shot_only:
        backends["Postgres"] = args.pg
    print(f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for name, url in backends.items():
                fresh(url)
                server = Server(url)
                res: dict[str, tuple[list[float], list[float]]] = {"terminal": ([], []), "browser": ([], [])}
                try:
                    for _ in range(args.runs):  # interleaved: a busy moment hits both alike
                        fresh(url)
                        f, ms = terminal_run(url, args.keys)
                        res["terminal"][0].append(f * 1000)
                        res["terminal"][1].extend(ms)
                        fresh(url)
                        f, ms = browser_run(browser, server, url, args.keys)
                        res["browser"][0].append(f * 1000)
                        res["browser"][1].extend(ms)
                finally:
                    server.stop()
                print(f"\n{name} ({CARDS} cards)")
                for mode in ("terminal", "browser"):
                    label = "terminal board (baseline)" if mode == "terminal" else "browser (mosaic-tui serve)"
                    print(summary(f"first frame, {label}", res[mode][0], "ms"))
                for mode in ("terminal", "browser"):
                    label = "terminal board (baseline)" if mode == "terminal" else "browser (mosaic-tui serve)"
                    print(summary(f"key to database, {label}", res[mode][1], "ms"))
                for phase, xs in PHASES.items():
                    if xs:
                        print(summary(f"  browser: {phase}", xs, "ms"))
                    xs.clear()
                ff = statistics.median(res["browser"][0]) / statistics.median(res["terminal"][0])
                kd = statistics.median(res["browser"][1]) - statistics.median(res["terminal"][1])
                print(f"browser / terminal first frame: {ff:.2f}x; key to database: {kd:+.1f} ms over the terminal")
            if args.shot:
                screenshot(browser, Path(args.shot))
                print(f"\nscreenshot: {args.shot}")
        finally:
            browser.close()
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
