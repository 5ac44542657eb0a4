"""The MCP server (entry floor): the backlog as tools for agents, over stdio.

``mosaic-tui mcp [--owner NAME] [--db URL]`` (or ``python -m mosaic_tui.mcp.server``)
serves the tools of :mod:`mosaic_tui.mcp.tools` with the official ``mcp`` SDK's
low-level server. One process per client, long-lived:

* the backlog is opened once (``--db`` > ``DATABASE_URL`` > the embedded
  default); every tool call is one repository operation, i.e. one
  transaction, run in a worker thread so the stdio loop never waits on the
  database; nothing is held between calls but the connection pool (no
  session state: fine behind a transaction pooler);
* pooled Postgres connections are tested before use, so a call after the
  server restarted, or after it dropped our connection, just works; a call
  while the database is down is an ``unavailable`` tool error, and the next
  one after it is back works;
* a failure is a tool error (``isError``) whose one text block is
  ``{"error": {"code", "message"}}``, with the CLI's codes, and which has no
  structured content (see :meth:`MosaicMCP._error`); a call with
  arguments that do not fit the tool's input schema is ``invalid_input``;
* nothing is written to stdout but the protocol; stderr gets one line at
  start (the backlog, password hidden) and one line per internal error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from typing import Any

import anyio
import anyio.to_thread
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from mosaic_tui import __version__
from mosaic_tui.db.url import Target, redact, scrub, secrets
from mosaic_tui.errors import MosaicError
from mosaic_tui.mcp.tools import BY_NAME, TOOLS, ToolSpec, description, input_schema
from mosaic_tui.repository import Backlog, check_owner

PROG = "mosaic-tui mcp"
CONCURRENT_CALLS = 8  # worker threads running tool calls at once (the pool opens connections as needed)

INSTRUCTIONS = """\
mosaic-tui: the backlog of record shared by a fleet of agents (each card is claimed by one agent at a time).
An agent's loop: `claim` -> {"card": null} means nothing to do now; otherwise work on the card, calling
`heartbeat` with its id before the lease (ttl seconds) ends, then `complete` it and `claim` again. `release`
a card you cannot finish; `block` one that needs a person. Grooming: `create`, `link`/`unlink` (dependencies),
`list`, `show`, `stats`, `events`. Tool results use the keys of `mosaic-tui <command> --json`; an error
(isError) has as its text {"error": {"code", "message"}}, with the CLI's codes (not_found, conflict,
invalid_input, unavailable)."""



def _say(line: str) -> None:
    sys.stderr.write(f"{PROG}: {line}\n")
    sys.stderr.flush()


class MosaicMCP:
    """The tools of one backlog, on an MCP low-level server."""

    def __init__(self, backlog: Backlog, owner: str | None = None):
        self.backlog = backlog
        self.owner = owner
        db = backlog.db
        self._secrets = secrets(db.target.raw, *(t.raw for t in (db.listen, db.replica and db.replica.target) if t))
        self._limiter = anyio.CapacityLimiter(CONCURRENT_CALLS)
        self.tools = [
            types.Tool(
                name=spec.name,
                description=description(spec),
                input_schema=input_schema(spec.params),
                output_schema=spec.output,
                annotations=types.ToolAnnotations(
                    read_only_hint=spec.read_only, destructive_hint=spec.destructive,
                    idempotent_hint=spec.idempotent, open_world_hint=False,
                ),
            )
            for spec in TOOLS
        ]
        self.server: Server[Any] = Server(
            "mosaic-tui", version=__version__, instructions=INSTRUCTIONS,
            on_list_tools=self._list_tools, on_call_tool=self._call_tool,
        )

    # -- the handlers -----------------------------------------------------------
    async def _list_tools(self, _ctx, _params) -> types.ListToolsResult:
        return types.ListToolsResult(tools=self.tools)

    async def _call_tool(self, _ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        spec = BY_NAME.get(params.name)
        if spec is None:  # a protocol error, as MCP asks for an unknown tool
            raise MCPError(types.INVALID_PARAMS, f"unknown tool {params.name!r} (tools: {', '.join(BY_NAME)})")
        return await self.call(spec, params.arguments or {})

    async def call(self, spec: ToolSpec, arguments: dict[str, Any]) -> types.CallToolResult:
        """Run one tool: validate, run in a worker thread, turn any failure into a tool error."""
        try:
            args = spec.params.model_validate(arguments)
            structured, text = await anyio.to_thread.run_sync(
                spec.run, self.backlog, args, self.owner, limiter=self._limiter,
            )
        except ValidationError as exc:
            return self._error("invalid_input", _invalid(exc))
        except MosaicError as exc:
            return self._error(exc.code, str(exc))
        except Exception as exc:  # noqa: BLE001 - a tool error, never a crash of the server
            message = self._scrub(f"internal error: {type(exc).__name__}: {exc}")
            _say(f"{spec.name}: {message}")
            if os.environ.get("MOSAIC_DEBUG") == "1":
                traceback.print_exc(file=sys.stderr)
            return self._error("internal", message)
        return types.CallToolResult(content=[_text(text)], structured_content=structured)

    def _error(self, code: str, message: str) -> types.CallToolResult:
        """The one place a tool error is built: ``isError``, the error object as the text, no structured content.

        No ``structuredContent``: a client checks structured content against the tool's ``outputSchema`` (the
        success shape), and the TypeScript SDK does so on error results too, turning any error object there into
        protocol error -32602; the text alone reaches every client.
        """
        body = {"error": {"code": code, "message": self._scrub(message)}}
        return types.CallToolResult(content=[_text(body)], is_error=True)

    def _scrub(self, message: str) -> str:
        return scrub(message, self._secrets)  # the one scrubber (mosaic_tui.db.url)

    # -- serving ------------------------------------------------------------------
    def _warm_up(self) -> None:
        """Reach the database once at start (first use migrates it); say so if it cannot be reached."""
        try:
            self.backlog.db.ensure_schema()
        except MosaicError as exc:
            _say(f"warning: {self._scrub(str(exc))} (tool calls answer 'unavailable' until it is reachable)")
        except Exception as exc:  # noqa: BLE001 - only a warning: the calls report for themselves
            _say(f"warning: {self._scrub(f'{type(exc).__name__}: {exc}')}")

    async def serve_stdio(self) -> None:
        async with stdio_server() as (read_stream, write_stream), anyio.create_task_group() as tg:
            tg.start_soon(anyio.to_thread.run_sync, self._warm_up)
            await self.server.run(read_stream, write_stream, self.server.create_initialization_options())
            tg.cancel_scope.cancel()


def _text(value: Any) -> types.TextContent:
    return types.TextContent(type="text", text=json.dumps(value, ensure_ascii=False))


_BRANCHES = {"str", "int", "bool", "float", "none", "dict", "list"}


def _invalid(exc: ValidationError) -> str:
    """A pydantic validation error in one line: ``ttl: Input should be greater than or equal to 1; ...``."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        # the path of the argument, without pydantic's names of union branches ("list[...]", "str")
        loc = err["loc"]
        where = ".".join(str(p) for p in loc[:1] + tuple(
            p for p in loc[1:] if not (isinstance(p, str) and (p in _BRANCHES or "[" in p))))
        parts.append(f"{where}: {err['msg']}" if where else err["msg"])
    return "; ".join(dict.fromkeys(parts))


def given_url(target: Target, flag: str | None) -> str:
    """The backlog as the user named it (``--db``, ``DATABASE_URL``, or the default file), password hidden.

    Not ``target.display()``: that is the URL the engine was given, with the driver the database floor chose
    (``postgresql+psycopg://``), a name the user never wrote.
    """
    raw = {"flag": flag, "DATABASE_URL": os.environ.get("DATABASE_URL")}.get(target.source)
    return redact(raw.strip()) if raw else str(target.path or target.display())


def serve(db: str | None = None, owner: str | None = None) -> int:
    """Serve the backlog at ``db`` over stdio until the client closes it. Raises MosaicError on a bad start."""
    owner = owner if owner is not None else (os.environ.get("MOSAIC_AGENT") or None)
    if owner is not None:
        check_owner(owner)
    backlog = Backlog.open(db)
    try:
        app = MosaicMCP(backlog, owner)
        target = backlog.db.target
        _say(f"serving {given_url(target, db)} (from {target.source}); "
             f"default owner: {owner if owner is not None else 'none (pass owner to claim)'}")
        anyio.run(app.serve_stdio)
    except KeyboardInterrupt:
        pass
    finally:
        backlog.close()
    return 0


def main(argv: list[str] | None = None) -> None:
    """``python -m mosaic_tui.mcp.server [--db URL] [--owner NAME]``."""
    ap = argparse.ArgumentParser(prog=PROG, description="Serve the backlog as MCP tools over stdio.")
    ap.add_argument("--db", metavar="URL", help="The backlog (default: $DATABASE_URL, else the embedded one).")
    ap.add_argument("--owner", metavar="NAME", help="The default owner of claims (default: $MOSAIC_AGENT).")
    args = ap.parse_args(argv)
    try:
        sys.exit(serve(args.db, args.owner))
    except MosaicError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
