"""``mosaic-tui serve``: the board in a real headless browser, and the server's refusals.

The server runs as the real console entry (``python -m mosaic_tui serve``) in
a subprocess. Browser tests drive Debian's chromium (``/usr/bin/chromium``,
never a downloaded browser) through Playwright: the board draws, ``b`` blocks
the selected card and the database shows it, closing the tab ends its board
process. The text on screen is read from xterm.js's own buffer (the page
draws on a canvas), exposed by patching textual.js in the test's route only.
Refusals are checked at the HTTP/websocket level with aiohttp's client.

Without chromium or Playwright these tests skip, and fail with
MOSAIC_REQUIRE_PG=1 (CI), as the Postgres tests do.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from mosaic_tui.repository import Backlog

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
PASSWORD = "Pw-7f3kq9-NOT-LEAKED"
# textual.js keeps its xterm Terminal private; the test (only) hands it to the page's window.
TERM_NEEDLE = "this.terminal.open(e),"
SCREEN_JS = """() => {
  const t = window.__mosaicTerm; if (!t) return "";
  const b = t.buffer.active; const out = [];
  for (let y = 0; y < b.length; y++) { const l = b.getLine(y); if (l) out.push(l.translateToString(true)); }
  return out.join("\\n");
}"""


# --------------------------------------------------------------------------- the server
class Served:
    """A running ``mosaic-tui serve``: its address, token, and everything it printed."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._pump, args=(proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._pump, args=(proc.stderr, self.err), daemon=True),
        ]
        for t in self._readers:
            t.start()
        line = self.wait_for(self.out, r"^open (http://\S+)", 60)
        self.url = line.split()[1]
        self.base = self.url.split("?")[0].rstrip("/")
        self.hostport = self.base.split("//", 1)[1]
        m = re.search(r"\?token=([A-Za-z0-9_-]{16,})$", self.url)
        self.token = m.group(1) if m else None

    @staticmethod
    def _pump(stream, into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))

    def wait_for(self, lines: list[str], pattern: str, timeout: float, start: int = 0) -> str:
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while time.monotonic() < deadline:
            for line in lines[start:]:
                if rx.search(line):
                    return line
            if self.proc.poll() is not None and not any(t.is_alive() for t in self._readers):
                break
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r}; stdout={self.out} stderr={self.err}")

    def board_pids(self, start: int = 0) -> list[int]:
        return [int(m.group(1)) for line in self.err[start:] if (m := re.search(r"board process (\d+) started", line))]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(30)
        for t in self._readers:
            t.join(5)
        return rc

    def logs(self) -> str:
        return "\n".join(self.out + self.err)


@contextmanager
def serve(db: str | None, *args: str, env: dict | None = None) -> Iterator[Served]:
    cmd = [sys.executable, "-m", "mosaic_tui", "serve", "--port", "0", *args]
    if db is not None:
        cmd[4:4] = ["--db", db]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    served = None
    try:
        served = Served(proc)
        yield served
    finally:
        if served is not None:
            served.stop()
        elif proc.poll() is None:
            proc.kill()
            proc.wait()


def children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (zombies included: a child not reaped is still a leak)."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(d.name))
    return found


def gone(pid: int, timeout: float) -> bool:
    """True once ``pid`` no longer exists (exited and reaped by its parent)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.05)
    return False


def seed(url: str) -> None:
    b = Backlog.open(url)
    try:
        b.create("W-1", "First card", priority=3)
        b.create("W-2", "Second card")
        b.create("W-3", "Third card", depends_on=["W-1"])
    finally:
        b.close()


def status_of(url: str, card_id: str) -> str:
    b = Backlog.open(url)
    try:
        return b.get(card_id).status
    finally:
        b.close()


def with_password(url: str) -> str:
    """The same Postgres database, named with a password (the test server trusts, so any password works)."""
    return make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


def run(coro):
    """An aiohttp client coroutine, in a thread of its own (Playwright's sync API owns this one's loop)."""
    box: dict = {}

    def target():
        try:
            box["v"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            box["e"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(300)
    assert not t.is_alive(), "the client coroutine did not finish within 300 s"
    if "e" in box:
        raise box["e"]
    return box.get("v")


# --------------------------------------------------------------------------- the browser
def _browser_problem() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no browser at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def browser():
    problem = _browser_problem()
    if problem:
        if os.environ.get("MOSAIC_REQUIRE_PG") == "1":
            pytest.fail(f"MOSAIC_REQUIRE_PG=1 (CI) needs the browser tests: {problem}")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def open_board(browser, served: Served, requests: list[str]):
    """A new tab on the board; every request it makes is recorded; returns (page, response)."""
    page = browser.new_page(viewport={"width": 1400, "height": 800})
    page.on("request", lambda r: requests.append(r.url))

    def expose_terminal(route):
        response = route.fetch()
        body = response.text()
        assert TERM_NEEDLE in body, "textual.js changed: the test cannot reach the terminal's buffer"
        route.fulfill(response=response, body=body.replace(TERM_NEEDLE, TERM_NEEDLE + "window.__mosaicTerm=this.terminal,", 1))

    page.route("**/static/js/textual.js", expose_terminal)
    response = page.goto(served.url)
    return page, response


def screen(page) -> str:
    return page.evaluate(SCREEN_JS)


def wait_screen(page, *needles: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = screen(page)
        if all(n in text for n in needles):
            return text
        time.sleep(0.1)
    raise AssertionError(f"the board never showed {needles!r}; the screen was:\n{text}")


# --------------------------------------------------------------------------- browser tests
@pytest.mark.parametrize("backend", ["sqlite", "pg"])
def test_browser_board_draws_blocks_a_card_and_ends_with_its_tab(backend, browser, request, tmp_path):
    if backend == "pg":
        url = with_password(request.getfixturevalue("pg_url"))
    else:
        url = str(tmp_path / "backlog.db")
    seed(url)
    # The URL (and its password) reach the server the recommended way, through its environment.
    with serve(None, env={"DATABASE_URL": url}) as served:
        requests: list[str] = []
        page, response = open_board(browser, served, requests)
        assert response.status == 200
        html = response.text()

        # The board draws: the columns, the cards, the footer.
        text = wait_screen(page, "ready (3)", "blocked (0)", "W-1", "First card", "W-3")
        assert "claimed (0)" in text and "done (0)" in text

        # A key press blocks the selected card (W-1: first in claim order), and the database shows it.
        page.focus(".xterm-helper-textarea")  # keyboard focus, without a click that would pick a card
        page.keyboard.press("b")
        deadline = time.monotonic() + 60
        while status_of(url, "W-1") != "blocked" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert status_of(url, "W-1") == "blocked"
        assert status_of(url, "W-2") == "ready"
        wait_screen(page, "blocked (1)", "ready (2)")

        # The board process got the URL through its environment, not its command line.
        [pid] = served.board_pids()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode().replace("\0", " ")
        assert "mosaic_tui.web.session" in cmdline
        assert url not in cmdline and "backlog.db" not in cmdline and PASSWORD not in cmdline
        environ = [e.decode() for e in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")]
        [given] = [e.split("=", 1)[1] for e in environ if e.startswith("DATABASE_URL=")]
        if backend == "pg":
            assert make_url(given).password == PASSWORD and make_url(given).database == make_url(url).database
        else:
            assert given == f"sqlite:///{url}"
        assert not any(e.startswith("MOSAIC_WEB_TOKEN=") for e in environ)

        # Every request the page made went to this server: no CDN, no font service.
        assert requests and all(r.startswith(served.base + "/") for r in requests), requests
        assert any("/static/fonts/RobotoMono" in r for r in requests)  # the bundled font, served locally
        assert PASSWORD not in html and PASSWORD not in page.content() and PASSWORD not in text

        # Closing the tab ends its board process (exited and reaped).
        page.close()
        assert gone(pid, 60), f"board process {pid} still there after its tab closed"
        served.wait_for(served.err, rf"board process {pid} ended", 30)
        assert children(served.proc.pid) == []

        assert served.stop() == 0
    logs = served.logs()
    assert PASSWORD not in logs
    assert served.token and logs.count(served.token) == 1  # printed once, in the address to open


# --------------------------------------------------------------------------- refusals (no browser)
@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    path = str(tmp_path_factory.mktemp("web") / "backlog.db")
    seed(path)
    with serve(path, "--max-sessions", "1") as s:
        yield s


async def _get(url: str, **headers) -> tuple[int, str, dict]:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers=headers, allow_redirects=False) as r:
            return r.status, await r.text(), dict(r.headers)


async def _ws(url: str, origin: str | None, *, frames: int = 0, hold: float = 0.0, extra=None) -> int:
    """Open a websocket; the handshake's status (101 when accepted, after reading ``frames`` frames)."""
    import aiohttp

    async with aiohttp.ClientSession() as http:
        try:
            async with http.ws_connect(url, origin=origin) as ws:
                for _ in range(frames):
                    msg = await asyncio.wait_for(ws.receive(), 30)
                    assert msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT), msg
                if extra is not None:
                    await extra()
                await asyncio.sleep(hold)
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status


def ws_url(served: Served, token: str | None) -> str:
    return f"ws://{served.hostport}/ws" + (f"/{token}" if token is not None else "")


def test_page_needs_the_token(served):
    assert run(_get(served.base + "/"))[0] == 401
    assert run(_get(served.base + "/?token="))[0] == 401
    status, body, _ = run(_get(served.base + "/?token=" + "x" * len(served.token)))
    assert status == 403 and served.token not in body
    assert run(_get(served.url))[0] == 200


def test_websocket_refusals_spawn_nothing(served):
    start = len(served.err)
    origin = served.base
    assert run(_ws(ws_url(served, None), origin)) == 401
    assert run(_ws(ws_url(served, "x" * 32), origin)) == 403
    assert run(_ws(ws_url(served, served.token[:-1]), origin)) == 403
    assert run(_ws(ws_url(served, served.token), "http://evil.example")) == 403
    assert run(_ws(ws_url(served, served.token), "http://evil.example:" + served.hostport.split(":")[1])) == 403
    port = int(served.hostport.split(":")[1])
    assert run(_ws(ws_url(served, served.token), f"http://127.0.0.1:{port + 1}")) == 403
    assert run(_ws(ws_url(served, served.token), f"https://{served.hostport}")) == 403
    assert run(_ws(ws_url(served, served.token), None)) == 403  # no Origin: not our page
    # Each refusal is logged before its answer, but reaches us through the server's stderr pipe and a
    # reader thread: wait until all eight have been read (then nothing the server did is still unread).
    deadline = time.monotonic() + 30
    while len([line for line in served.err[start:] if "refused a websocket" in line]) < 8:
        assert time.monotonic() < deadline, served.err[start:]
        time.sleep(0.05)
    time.sleep(0.3)
    assert served.board_pids(start) == [] and children(served.proc.pid) == []
    refused = [line for line in served.err[start:] if "refused a websocket" in line]
    assert len(refused) == 8, served.err[start:]


def test_websocket_from_its_own_page_runs_a_board_ignores_garbage_one_too_many_refused_q_closes(served):
    import aiohttp

    start = len(served.err)

    async def session() -> list:
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(ws_url(served, served.token) + "?width=120&height=40", origin=served.base) as ws:
                first = await asyncio.wait_for(ws.receive(), 60)
                assert first.type == aiohttp.WSMsgType.BINARY
                # --max-sessions 1: while this board runs, another websocket is refused before any spawn.
                assert await _ws(ws_url(served, served.token), served.base) == 503
                # Whatever the browser side sends, the server neither fails nor passes it on unchecked.
                for junk in ("not json", "{}", "[]", "[5]", '["stdin", 5]', '["resize", {"width": "x", "height": 1}]',
                             '["resize", {"width": 100000000, "height": 3}]', '["ping", {"a": 1}]', '["quit"]'):
                    await ws.send_str(junk)
                await ws.send_bytes(b"\x00\xff")
                await ws.send_str('["ping", "still-there"]')
                replies = []
                while not replies or replies[-1] != ["pong", "still-there"]:
                    msg = await asyncio.wait_for(ws.receive(), 30)
                    assert msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT), msg
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        replies.append(json.loads(msg.data))
                # `q` quits the board; the server then closes the tab's websocket ("Session ended").
                await ws.send_str('["stdin", "q"]')
                while True:
                    msg = await asyncio.wait_for(ws.receive(), 30)
                    if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                        break
                return replies

    replies = run(session())
    assert replies == [["pong", "still-there"]]  # no pong for the bad ping, nothing else relayed
    [pid] = served.board_pids(start)
    assert gone(pid, 60)
    served.wait_for(served.err, rf"board process {pid} ended \((exited|quit), exit 0\)", 30, start)
    assert "Traceback" not in served.logs()


def test_log_lines_escape_what_a_request_sends(served):
    start = len(served.err)
    assert run(_get(served.base + "/%1b[31mred%07"))[0] == 404
    line = served.wait_for(served.err, r"GET /.*red", 30, start)
    assert "\x1b" not in line and "\x07" not in line and "\\x1b[31mred\\x07" in line


def test_host_header_of_another_name_is_refused(served):
    """A DNS-rebound name (evil.example resolving to 127.0.0.1) reaches a loopback server with its own Host."""
    assert run(_get(served.url, Host=f"evil.example:{served.hostport.split(':')[1]}"))[0] == 421
    assert run(_get(served.url.replace("127.0.0.1", "localhost")))[0] == 200


def test_no_directory_listing(served):
    for path in ("/static/", "/static/js/", "/static/fonts/", "/static/..%2f..%2fserver.py", "/static/%2e%2e/server.py"):
        status, body, _ = run(_get(served.base + path))
        assert status in (403, 404), (path, status)
        assert "textual.js" not in body and "RobotoMono" not in body
    assert run(_get(served.base + "/static/js/textual.js"))[0] == 200
    assert run(_get(served.base + "/download/anything"))[0] == 404  # textual-serve's download route is not offered


def test_page_names_no_other_host_and_forbids_leaving(served):
    status, html, headers = run(_get(served.url))
    assert status == 200
    hosts = set(re.findall(r"(?:https?|wss?)://([^/\"'\s<>]+)", html))
    assert hosts <= {served.hostport}, hosts
    assert "fonts.googleapis" not in html and "fonts/RobotoMono-VariableFont_wght.ttf" in html
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "connect-src 'self' ws://" + served.hostport in csp
    assert headers["Cache-Control"] == "no-store" and headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"


# --------------------------------------------------------------------------- options and the rest
def test_server_stop_ends_every_board(tmp_path):
    path = str(tmp_path / "backlog.db")
    seed(path)
    with serve(path) as s:
        pids: list[int] = []

        async def stop_the_server():
            s.wait_for(s.err, r"board process \d+ started", 60)
            pids.extend(s.board_pids())
            s.proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.2)

        run(_ws(ws_url(s, s.token), s.base, frames=1, extra=stop_the_server))
        assert s.stop() == 0
    assert len(pids) == 1 and gone(pids[0], 60)


def test_token_from_the_environment_and_no_token_on_loopback(tmp_path):
    path = str(tmp_path / "backlog.db")
    token = "env-token-0123456789abcdef"
    with serve(path, env={"MOSAIC_WEB_TOKEN": token}) as s:
        assert s.token is None and token not in s.logs()  # a token given is never printed
        assert run(_get(f"{s.base}/?token={token}"))[0] == 200
        assert run(_get(s.base + "/"))[0] == 401
    with serve(path, "--no-token") as s:
        assert s.token is None
        assert run(_get(s.base + "/"))[0] == 200
        assert run(_ws(ws_url(s, None), "http://evil.example")) == 403  # the Origin check still holds


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "0.0.0.0", "--no-token"], "--no-token is refused off loopback"),
        (["--token", "short"], "at least 16"),
        (["--token", "a/b?c#d e%f0123456789"], "at least 16"),
        (["--token", "a" * 20, "--no-token"], "contradict"),
    ],
)
def test_bad_options_one_line_nothing_served(args, message, tmp_path, capsys):
    from mosaic_tui.cli import run as cli

    assert cli(["serve", "--db", str(tmp_path / "b.db"), *args]) == 2
    out, err = capsys.readouterr()
    assert out == "" and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "b.db").exists()


def test_unreachable_database_one_line_without_password(monkeypatch, capsys):
    from mosaic_tui.cli import run as cli

    monkeypatch.setenv("DATABASE_URL", f"postgresql://u:{PASSWORD}@127.0.0.1:9/x?connect_timeout=2")
    assert cli(["serve", "--port", "0"]) == 5
    out, err = capsys.readouterr()
    assert out == "" and "127.0.0.1:9" in err
    assert PASSWORD not in err and len(err.strip().splitlines()) == 1


def test_other_commands_and_the_board_process_load_no_web_server(tmp_path):
    code = (
        "import sys\n"
        "from mosaic_tui.cli import run\n"
        f"assert run(['list', '--db', {str(tmp_path / 'b.db')!r}, '--json']) == 0\n"
        "import mosaic_tui.web, mosaic_tui.web.session\n"
        "print(sorted(m for m in ('aiohttp', 'textual_serve', 'jinja2') if m in sys.modules))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"


STUBBORN = """
import pathlib, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
pathlib.Path(sys.argv[1]).touch()
sys.stdout.write("__GANGLION__\\n"); sys.stdout.flush()
time.sleep(120)
"""


def test_a_board_that_ignores_quit_and_sigterm_is_killed_and_reaped(monkeypatch, tmp_path, caplog):
    """A closed tab always ends its board: quit, then SIGTERM, then SIGKILL (here: a board that ignores both)."""
    from mosaic_tui.web import server as web_server

    monkeypatch.setattr(web_server, "QUIT_GRACE", 0.5)
    marker = tmp_path / "ignoring"

    class Stubborn(web_server.BoardSession):
        async def _open_app_process(self, width: int = 80, height: int = 24):
            self._process = p = await asyncio.create_subprocess_exec(
                sys.executable, "-c", STUBBORN, str(marker),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            self._stdin = p.stdin
            return p

    board = web_server.WebBoard(web_server.Settings(db_url="sqlite:////nowhere.db", db_display="sqlite:////nowhere.db"))

    async def scenario():
        async def nothing(*_a):
            return None

        session = Stubborn(board, 1, write_bytes=nothing, write_str=nothing, close=nothing,
                           download_manager=board.download_manager)
        await session.start(80, 24)
        while not marker.exists():
            await asyncio.sleep(0.02)
        await session.stop()
        return session._process

    with caplog.at_level("INFO", logger="mosaic_tui.web"):
        process = run(scenario())
    assert process.returncode == -signal.SIGKILL
    assert gone(process.pid, 5)
    assert any(f"board process {process.pid} ended (kill, exit -9)" in r.getMessage() for r in caplog.records)


def test_what_a_board_prints_on_stderr_is_logged_without_password_or_token(caplog):
    from mosaic_tui.web import server as web_server

    url = f"postgresql://me:{PASSWORD}@db.example/backlog"
    settings = web_server.Settings(db_url=url, db_display="postgresql://me:***@db.example/backlog", token="t" * 32)
    board = web_server.WebBoard(settings)

    async def scenario():
        reader = asyncio.StreamReader()
        reader.feed_data(f"Traceback: url={url!r} token={'t' * 32}\nother=postgresql://x:hunter2@h/d\n".encode())
        reader.feed_eof()
        session = web_server.BoardSession(board, 7, write_bytes=None, write_str=None, close=None,
                                          download_manager=board.download_manager)
        await session._log_stderr(reader)

    with caplog.at_level("INFO", logger="mosaic_tui.web"):
        run(scenario())
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "session 7: board: Traceback: url='postgresql://me:***@db.example/backlog' token=***" in text
    assert PASSWORD not in text and "t" * 32 not in text and "hunter2" not in text
