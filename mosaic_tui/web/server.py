"""The web server of ``mosaic-tui serve``: textual-serve's page and protocol, safe by default.

textual-serve gives the browser side (its xterm.js page, static assets and
wire protocol) and :class:`~textual_serve.app_service.AppService`, which runs
one app process per websocket. This module subclasses both instead of
patching them, and changes what a board on a shared machine needs:

- a token on every page and websocket (always off loopback; on loopback too
  unless ``--no-token``), compared in constant time; the websocket carries it
  in its path because textual.js appends ``?width=..`` to the URL it is given;
- a loopback server answers only to loopback host names (no DNS rebinding);
  a websocket must come from this server's own page (``Origin`` equal to
  ``http://`` + the ``Host`` it was sent to), else it is refused before any
  process starts;
- the page is our own template: the font is served from the bundled files
  (no font CDN), a Content-Security-Policy keeps every request on this
  server, static files have no directory listing, the download route is gone;
- the board process is ``python -m mosaic_tui.web.session`` run without a
  shell; the database URL reaches it in its environment (``DATABASE_URL``),
  never argv, and the server's token is not passed on;
- its stderr is logged with the database password and the token scrubbed;
  the access log shows paths without tokens;
- a closed tab ends its board: asked to quit, then SIGTERM, then SIGKILL,
  and reaped; the server's shutdown ends every board.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import os
import re
import secrets
import signal
import sys
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

import jinja2
import textual_serve
from aiohttp import WSMsgType, web
from aiohttp.abc import AbstractAccessLogger
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int
from yarl import URL

from mosaic_tui.errors import InvalidInput, MosaicError, Unavailable

log = logging.getLogger("mosaic_tui.web")

STATIC = Path(textual_serve.__file__).resolve().parent / "static"
TEMPLATE = Path(__file__).resolve().parent / "index.html"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
MIN_TOKEN = 16
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9._~-]{%d,512}" % MIN_TOKEN)
QUIT_GRACE = 5.0  # seconds a board gets to quit before SIGTERM, then as long again before SIGKILL
STDERR_LINES = 200  # per session: a board that floods stderr does not flood the log


@dataclass
class Settings:
    """What the server needs; built by :func:`make_settings` (which checks everything)."""

    db_url: str = field(repr=False)  # the full URL, password included: only ever put in a child's env
    db_display: str  # the URL without its password
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = field(default=None, repr=False)
    token_generated: bool = False
    phase: str | None = None
    max_sessions: int = 8

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def secrets(self) -> list[str]:
        """Strings that must never reach a log: the database passwords (raw and quoted; the URLs' of the
        environment too) and the token."""
        from mosaic_tui.db.url import secrets

        out = list(secrets(self.db_url, os.environ.get("MOSAIC_LISTEN_URL"), os.environ.get("MOSAIC_READ_URL")))
        if self.token:
            out.append(self.token)
        return [s for s in out if s]


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def make_settings(
    db: str | None,
    *,
    host: str,
    port: int,
    token: str | None,
    no_token: bool,
    phase: str | None,
    max_sessions: int,
) -> Settings:
    """Check the options, open the backlog once (migrating it), and settle the token."""
    from mosaic_tui.db.url import resolve
    from mosaic_tui.repository import Backlog

    if not host.strip():
        raise InvalidInput("--host: give an address to listen on (default 127.0.0.1)")
    if not 0 <= port <= 65535:
        raise InvalidInput(f"--port: {port} is not a port (0-65535; 0 picks a free one)")
    if max_sessions < 1:
        raise InvalidInput("--max-sessions: at least 1")
    token = token if token is not None else (os.environ.get("MOSAIC_WEB_TOKEN") or None)
    if no_token and token:
        raise InvalidInput("--no-token and a token (--token or MOSAIC_WEB_TOKEN) contradict each other")
    if no_token and not is_loopback(host):
        raise InvalidInput(f"--no-token is refused off loopback: {host} would serve the board to anyone who can reach it")
    if token is not None and not TOKEN_SHAPE.fullmatch(token):
        raise InvalidInput(f"the token must be at least {MIN_TOKEN} characters of A-Z a-z 0-9 . _ ~ - (it goes in URLs)")
    generated = False
    if token is None and not no_token:
        token, generated = secrets.token_urlsafe(24), True

    target = resolve(db)
    url = target.raw if target.backend == "postgresql" else target.display()  # SQLite: the file's absolute URL
    try:
        backlog = Backlog.open(url)  # migrates on first use: once here, not in every tab's process
        try:
            backlog.last_event_id()
        finally:
            backlog.close()
    except MosaicError:
        raise
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        raise Unavailable(f"cannot open the backlog {target.display()}: {type(exc).__name__}") from None
    return Settings(
        db_url=url, db_display=target.display(), host=host, port=port, token=token,
        token_generated=generated, phase=phase, max_sessions=max_sessions,
    )


class Scrubber:
    """Replaces every secret in a text by ``***`` (:func:`mosaic_tui.db.url.scrub`, the one scrubber),
    and any other URL's password."""

    def __init__(self, secrets_: list[str]):
        self.secrets = set(secrets_)

    def __call__(self, text: str) -> str:
        from mosaic_tui.db.url import scrub

        return scrub(text, self.secrets)


def printable(text: str, limit: int = 200) -> str:
    """A request's text for a log line: control characters escaped (no terminal tricks), clipped."""
    out = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text[:limit])
    return out + ("…" if len(text) > limit else "")


class AccessLog(AbstractAccessLogger):
    """One line per request: method, path (a token in it replaced), status. No query string."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        path = request.path
        if path.startswith("/ws/"):
            path = "/ws/***"
        self.logger.info("%s %s %s %.0fms", printable(request.method, 20), printable(path), response.status, time * 1000)


class BoardSession(AppService):
    """One tab's board process: spawned without a shell, the URL in its environment, always reaped."""

    def __init__(self, server: WebBoard, number: int, **kw):
        super().__init__(command="mosaic_tui.web.session", **kw)
        self.server = server
        self.number = number
        self.ended = asyncio.Event()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        env = super()._build_environment(width=width, height=height)
        for name in ("MOSAIC_WEB_TOKEN", "TEXTUAL", "TEXTUAL_LOG"):
            env.pop(name, None)
        env["DATABASE_URL"] = self.server.settings.db_url
        env["MOSAIC_WEB_SERVER_PID"] = str(os.getpid())
        return env

    async def _open_app_process(self, width: int = 80, height: int = 24):
        argv = [sys.executable, "-m", "mosaic_tui.web.session"]
        if self.server.settings.phase:
            argv.append(self.server.settings.phase)
        self._process = process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._build_environment(width=width, height=height),
            start_new_session=True,  # Ctrl+C reaches the server, which ends the boards in order
        )
        self._stdin = process.stdin
        log.info("session %d: board process %d started", self.number, process.pid)
        return process

    async def run(self) -> None:
        """Relay the board's output to the browser until it ends; then close the tab's websocket."""
        process = self._process
        assert process is not None and process.stdout is not None and process.stderr is not None
        stdout = process.stdout
        stderr_task = asyncio.create_task(self._log_stderr(process.stderr))
        try:
            ready = False
            for _ in range(10):  # the prelude, so we know it is a Textual app
                line = await stdout.readline()
                if not line:
                    break
                if line == b"__GANGLION__\n":
                    ready = True
                    break
            if not ready:
                log.warning("session %d: the board did not start", self.number)
            while ready:
                kind = await stdout.readexactly(1)
                size = int.from_bytes(await stdout.readexactly(4), "big")
                payload = await stdout.readexactly(size)
                if kind == b"D":
                    await self.on_data(payload)
                elif kind == b"M":
                    await self.on_meta(payload)
                # b"P" (file delivery chunks): this server offers no downloads.
        except (asyncio.IncompleteReadError, ConnectionResetError):
            pass
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # noqa: BLE001 - e.g. the browser went away mid-send
            log.info("session %d: relay ended: %s", self.number, self.server.scrub(f"{type(exc).__name__}: {exc}"))
        finally:
            try:
                await asyncio.wait_for(stderr_task, QUIT_GRACE)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                stderr_task.cancel()
            self.ended.set()
        try:
            await self.remote_close()  # the page shows "Session ended"
        except Exception:  # noqa: BLE001 - already closed
            pass

    async def on_meta(self, data: bytes) -> None:
        try:
            meta = json.loads(data)
        except ValueError:
            return
        if isinstance(meta, dict) and meta.get("type") == "exit":
            await self.remote_close()
        # Nothing else is relayed: no open_url to the browser, no file deliveries.

    async def _log_stderr(self, stderr: asyncio.StreamReader) -> None:
        shown = 0
        while True:
            line = await stderr.readline()
            if not line:
                return
            shown += 1
            if shown <= STDERR_LINES:
                text = self.server.scrub(line.decode("utf-8", "replace").rstrip())
                if text:
                    log.warning("session %d: board: %s", self.number, text[:500])
            elif shown == STDERR_LINES + 1:
                log.warning("session %d: board: (more output not shown)", self.number)

    async def send_meta(self, data: dict) -> bool:
        if self._process is None or self._process.returncode is not None or self.ended.is_set():
            return False
        return await super().send_meta(data)

    async def send_bytes(self, data: bytes) -> bool:
        if self._process is None or self._process.returncode is not None or self.ended.is_set():
            return False
        return await super().send_bytes(data)

    async def stop(self) -> None:
        """End the board: ask it to quit, then SIGTERM, then SIGKILL; always reap it."""
        task, self._task = self._task, None
        process = self._process
        if task is None or process is None:
            return
        how = "exited" if process.returncode is not None or self.ended.is_set() else "quit"
        await self.send_meta({"type": "quit"})
        for step in ("terminate", "kill", None):
            try:
                await asyncio.wait_for(asyncio.shield(process.wait()), QUIT_GRACE)
                break
            except asyncio.TimeoutError:
                if step is None:
                    break
                how = step
                try:
                    getattr(process, step)()
                except ProcessLookupError:
                    pass
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(task, QUIT_GRACE)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            task.cancel()
        log.info("session %d: board process %d ended (%s, exit %s)", self.number, process.pid, how, process.returncode)


class WebBoard(Server):
    """textual-serve's server with our routes, page, checks and sessions."""

    def __init__(self, settings: Settings):
        super().__init__(command="mosaic_tui.web.session", host=settings.host, port=settings.port, title="mosaic board")
        self.settings = settings
        self.scrub = Scrubber(settings.secrets())
        self.sessions: dict[int, BoardSession] = {}
        self._numbers = count(1)
        self._template = jinja2.Environment(autoescape=True).from_string(TEMPLATE.read_text(encoding="utf-8"))

    # -- the application ----------------------------------------------------
    async def _make_app(self) -> web.Application:
        return self.make_app()

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        app.add_routes([
            web.get("/", self.handle_index, name="index"),
            web.get("/ws", self.handle_websocket),
            web.get("/ws/{token}", self.handle_websocket, name="websocket"),
            web.static("/static", STATIC, show_index=False, follow_symlinks=False, name="static"),
        ])
        app.on_shutdown.append(self.on_shutdown)
        return app

    # -- checks --------------------------------------------------------------
    def _host_ok(self, host_header: str) -> bool:
        """On loopback, only loopback names on our port (a DNS-rebound name is refused)."""
        if not self.settings.loopback:
            return True
        try:
            u = URL(f"http://{host_header}")
        except ValueError:
            return False
        names = {*LOOPBACK_NAMES, self.settings.host.strip("[]").lower()}
        return (u.host or "").lower() in names and u.port == self.port

    def _token_ok(self, given: str | None) -> tuple[bool, int]:
        if self.settings.token is None:
            return True, 200
        if not given:
            return False, 401
        return hmac.compare_digest(given.encode("utf-8"), self.settings.token.encode("utf-8")), 403

    def _origin_ok(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if not origin:
            return False  # a browser always sends one on a websocket; anything else is not our page
        try:
            o, h = URL(origin), URL(f"http://{request.host}")
        except ValueError:
            return False
        return o.scheme == "http" and (o.host or "").lower() == (h.host or "").lower() and o.port == h.port

    @web.middleware
    async def _guard(self, request: web.Request, handler):
        if not self._host_ok(request.host):
            log.warning("refused a request for Host %r (not a loopback name on port %d)", request.host, self.port)
            return web.Response(status=421, text="This server answers only to its loopback address.\n")
        response = await handler(request)
        if not response.prepared:
            h = response.headers
            h.setdefault("X-Content-Type-Options", "nosniff")
            h.setdefault("Referrer-Policy", "no-referrer")
            h.setdefault("X-Frame-Options", "DENY")
            h.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        return response

    # -- handlers -------------------------------------------------------------
    async def handle_index(self, request: web.Request) -> web.Response:
        ok, status = self._token_ok(request.query.get("token"))
        if not ok:
            log.warning("refused the page: %s token", "no" if status == 401 else "wrong")
            return web.Response(
                status=status,
                text="mosaic-tui serve: open the address printed by the server (it ends in ?token=...).\n",
                headers={"Cache-Control": "no-store"},
            )
        nonce = secrets.token_urlsafe(16)
        ws_path = "/ws" if self.settings.token is None else f"/ws/{self.settings.token}"
        html = self._template.render(
            title="mosaic board",
            static="/static/",
            websocket_url=f"ws://{request.host}{ws_path}",
            font_size=max(6, min(to_int(request.query.get("fontsize", "16"), 16), 64)),
            nonce=nonce,
        )
        csp = (
            "default-src 'none'; "
            f"script-src 'self' 'nonce-{nonce}'; "
            "style-src 'self' 'unsafe-inline'; "
            "font-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' ws://{request.host}; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )
        return web.Response(
            text=html, content_type="text/html",
            headers={"Content-Security-Policy": csp, "Cache-Control": "no-store"},
        )

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        ok, status = self._token_ok(request.match_info.get("token"))
        if not ok:
            log.warning("refused a websocket: %s token", "no" if status == 401 else "wrong")
            return web.Response(status=status, text="token required\n")
        if not self._origin_ok(request):
            log.warning("refused a websocket from Origin %r (this server is http://%s)",
                        self.scrub(request.headers.get("Origin", "")), request.host)
            return web.Response(status=403, text="foreign origin\n")
        if len(self.sessions) >= self.settings.max_sessions:
            log.warning("refused a websocket: %d boards already open (--max-sessions)", len(self.sessions))
            return web.Response(status=503, text="too many boards open\n")

        width = max(20, min(to_int(request.query.get("width", "80"), 80), 1000))
        height = max(5, min(to_int(request.query.get("height", "24"), 24), 500))
        websocket = web.WebSocketResponse(heartbeat=15, max_msg_size=1 << 20)
        number = next(self._numbers)
        session = BoardSession(
            self, number,
            write_bytes=websocket.send_bytes, write_str=websocket.send_str, close=websocket.close,
            download_manager=self.download_manager,
        )
        self.sessions[number] = session  # counted before the first await: --max-sessions holds under a burst
        try:
            await websocket.prepare(request)
            await session.start(width, height)
            await self._process_messages(websocket, session)
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # noqa: BLE001 - one line, never a traceback
            log.warning("session %d: %s", number, self.scrub(f"{type(exc).__name__}: {exc}"))
        finally:
            try:
                await session.stop()
            finally:
                self.sessions.pop(number, None)
                await websocket.close()
        return websocket

    async def _process_messages(self, websocket: web.WebSocketResponse, app_service: AppService) -> None:
        """The browser's messages, checked: stdin text, resize within bounds, ping, focus, blur; nothing else."""
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                envelope = json.loads(message.data)
            except ValueError:
                continue
            if not (isinstance(envelope, list) and envelope and isinstance(envelope[0], str)):
                continue
            kind, data = envelope[0], envelope[1] if len(envelope) > 1 else None
            if kind == "stdin" and isinstance(data, str):
                await app_service.send_bytes(data.encode("utf-8", "replace"))
            elif kind == "resize" and isinstance(data, dict):
                w, h = data.get("width"), data.get("height")
                if isinstance(w, int) and isinstance(h, int) and 1 <= w <= 1000 and 1 <= h <= 500:
                    await app_service.set_terminal_size(w, h)
            elif kind == "ping" and isinstance(data, str) and len(data) <= 64:
                await websocket.send_json(["pong", data])
            elif kind == "blur":
                await app_service.blur()
            elif kind == "focus":
                await app_service.focus()

    async def on_shutdown(self, app: web.Application) -> None:
        await asyncio.gather(*(s.stop() for s in list(self.sessions.values())), return_exceptions=True)

    async def on_startup(self, app: web.Application) -> None:  # textual-serve prints a banner here
        return None


def open_url(settings: Settings, port: int) -> str:
    host = settings.host
    if host in ("0.0.0.0", "::", ""):
        import socket

        host = socket.gethostname()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def _setup_logging(scrub: Scrubber) -> None:
    class _Scrubbed(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.msg = scrub(record.getMessage())
            record.args = ()
            return True

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s mosaic-tui serve: %(message)s", "%H:%M:%S"))
    handler.addFilter(_Scrubbed())
    for name in ("mosaic_tui.web", "aiohttp.access", "aiohttp.server", "aiohttp.web", "textual-serve"):
        lg = logging.getLogger(name)
        lg.handlers[:] = [handler]
        lg.setLevel(logging.INFO if name in ("mosaic_tui.web", "aiohttp.access") else logging.WARNING)
        lg.propagate = False


async def _serve(settings: Settings) -> int:
    board = WebBoard(settings)
    _setup_logging(board.scrub)
    runner = web.AppRunner(board.make_app(), handle_signals=False, access_log_class=AccessLog, shutdown_timeout=QUIT_GRACE * 3)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise Unavailable(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from None
    port = runner.addresses[0][1]
    board.port = port
    url = open_url(settings, port)
    out = sys.stdout
    out.write(f"mosaic-tui serve: the board of {settings.db_display}\n")
    if settings.token is None:
        out.write(f"open {url}  (no token: anyone on this machine can open it)\n")
    elif settings.token_generated:
        out.write(f"open {url}?token={settings.token}\n")
    else:
        out.write(f"open {url}?token=...  (the token you gave: --token or MOSAIC_WEB_TOKEN)\n")
    out.write("Ctrl+C to stop.\n")
    out.flush()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - not on Windows
            pass
    await stop.wait()
    log.info("stopping: ending %d board(s)", len(board.sessions))
    await runner.cleanup()
    return 0


def run(settings: Settings) -> int:
    return asyncio.run(_serve(settings))
