"""The command group, the options every command takes, and ``run``, which maps failures to exit codes.

Cold start matters (an agent runs one process per command): the hot verbs
with ``--json`` do not come here at all (:mod:`mosaic_tui.cli.oneshot`), and the
CLI imports click and nothing else heavy at the top: the repository
(SQLAlchemy, SQLModel, the driver) is imported inside the commands, Alembic
only if the schema needs migrating, Textual only by the board. Every failure
is reported as one line (or one JSON object with ``--json``) and the exit code
of its ``code`` in :data:`mosaic_tui.errors.EXIT_CODES`; nothing a user does
prints a traceback.

A command module registers its commands on :data:`cli` with
``@cli.command(...)`` and ``@common``; ``mosaic_tui/cli/commands.py`` imports
it (one line per module).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

from mosaic_tui.cli import output as out
from mosaic_tui.errors import EXIT_MEANINGS, exit_code_for

if TYPE_CHECKING:
    from mosaic_tui.repository import Backlog

MAIN_HELP = """A backlog of record for fleets of AI coding agents.

With no command, opens the board. Every command takes --db URL (a
postgresql:// URL, sqlite:///path or a file path; default: $DATABASE_URL, else
the embedded SQLite backlog under $MOSAIC_HOME), --json (stdout is exactly
one JSON document; errors become {"error": {"code", "message"}} on stderr) and
--wait SECONDS (how long to retry a full Postgres server, "too many clients",
and to ride a failover: the server down, no writable primary yet) and
--read-url URL (a read replica for the read verbs and the board; writes and
claims always go to --db).

\b
An agent's loop:
  while card=$(mosaic-tui claim --owner "$ME" --json) && [ "$card" != null ]; do
    id=$(jq -r .id <<<"$card")
    ...work, running: mosaic-tui heartbeat "$id" --owner "$ME"
    mosaic-tui complete "$id" --owner "$ME"
  done
"""

EXIT_EPILOG = "\b\nExit codes:\n" + "\n".join(f"  {k}  {v}" for k, v in EXIT_MEANINGS.items())


# --------------------------------------------------------------------------- options and state
class State:
    """Options that may come before or after the command name."""

    def __init__(self) -> None:
        self.db: str | None = None
        self.json = False
        self.phase: str | None = None
        self.wait: float | None = None
        self.listen_url: str | None = None
        self.read_url: str | None = None
        self.secrets: set[str] = set()

    def note(self, url: str | None) -> None:
        self.secrets |= out.passwords(url)


def state() -> State:
    return click.get_current_context().ensure_object(State)


def json_mode() -> bool:
    """Was --json given (before or after the command name)?"""
    return state().json


def _url_option(attr: str):
    """The callback of a URL option (--db, --listen-url, --read-url): remembered, its password kept secret."""

    def callback(ctx: click.Context, _param, value):
        if value is not None:
            st = ctx.ensure_object(State)
            setattr(st, attr, value)
            st.note(value)
        return value

    return callback


def _set_json(ctx: click.Context, _param, value):
    if value:
        ctx.ensure_object(State).json = True
    return value


def _set_wait(ctx: click.Context, _param, value):
    if value is not None:
        ctx.ensure_object(State).wait = value
    return value


_db_option = click.option(
    "--db", "db", metavar="URL", expose_value=False, callback=_url_option("db"),
    help="The backlog: postgresql://..., sqlite:///path or a file path. Default: $DATABASE_URL, else embedded.",
)
_json_option = click.option(
    "--json", "as_json", is_flag=True, expose_value=False, callback=_set_json,
    help="Print exactly one JSON document on stdout (errors: one JSON object on stderr).",
)


_wait_option = click.option(
    "--wait", type=click.FloatRange(0, 3600), metavar="SECONDS", expose_value=False, callback=_set_wait,
    help="While the Postgres server is full (too many clients), retry connecting for SECONDS "
         "(default 5; 0: fail at once with code busy); given, also ride a failover that long "
         "(the server down, no writable primary yet).",
)
_read_option = click.option(
    "--read-url", metavar="URL", expose_value=False, callback=_url_option("read_url"),
    help="A read replica: the read verbs and the board read there (your own writes show at once); "
         "writes and claims go to --db. Default: $MOSAIC_READ_URL, else --db.",
)
listen_option = click.option(
    "--listen-url", metavar="URL", expose_value=False, callback=_url_option("listen_url"),
    help="Where the change feed LISTENs (the server itself or a pooler's session mode) when --db "
         "goes through a transaction pooler. Default: $MOSAIC_LISTEN_URL, else --db.",
)


def common(f):
    """--db, --json, --wait and --read-url, on every command."""
    return _db_option(_json_option(_wait_option(_read_option(f))))


class Ordered(click.Group):
    """Lists the commands in the order they were registered (the modules' import order)."""

    def list_commands(self, ctx):
        return list(self.commands)


class Open:
    """``with Open() as b:`` opens the backlog (--db, else the default) and always disposes of its engine."""

    def __init__(self, url: str | None = None):
        self.url = url

    @classmethod
    def at(cls, url: str) -> Open:
        return cls(url)

    def __enter__(self) -> Backlog:
        from mosaic_tui.repository import Backlog

        st = state()
        if self.url is not None:
            self.b = Backlog.open(self.url, wait=st.wait)
        else:
            st.note(os.environ.get("DATABASE_URL"))
            st.note(os.environ.get("MOSAIC_LISTEN_URL"))
            st.note(os.environ.get("MOSAIC_READ_URL"))
            self.b = Backlog.open(st.db, wait=st.wait, listen_url=st.listen_url, read_url=st.read_url)
        return self.b

    def __exit__(self, *exc):
        self.b.close()


# --------------------------------------------------------------------------- the group
@click.group(
    cls=Ordered, invoke_without_command=True, help=MAIN_HELP, epilog=EXIT_EPILOG,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@common
@listen_option
@click.option("--phase", metavar="PHASE", help="With no command: open the board filtered to PHASE.")
@click.version_option(package_name="mosaic-tui", prog_name="mosaic-tui")
@click.pass_context
def cli(ctx: click.Context, phase: str | None) -> int | None:
    ctx.ensure_object(State).phase = phase
    if ctx.invoked_subcommand is None:
        return open_board(phase)
    return None


def open_board(phase: str | None) -> int:
    st = state()
    try:
        from mosaic_tui.board import run_board
    except ImportError as exc:
        if exc.name != "mosaic_tui.board":
            raise
        ctx = click.get_current_context().find_root()
        sys.stdout.write(
            "The board is not available in this build; use the commands:\n\n" + ctx.get_help() + "\n"
        )
        return 0
    return run_board(st.db, phase=phase, listen_url=st.listen_url, read_url=st.read_url) or 0


# --------------------------------------------------------------------------- entry point
def _wants_json(argv: list[str]) -> bool:
    for a in argv:
        if a == "--":
            return False
        if a == "--json":
            return True
    return False


def run(argv: list[str]) -> int:
    """Run one command through click (the full CLI); every failure becomes one line and an exit code.

    The console script (:func:`mosaic_tui.cli.oneshot.main`) comes here for everything but the agent's
    hot verbs with --json.
    """
    st = State()
    secrets = out.passwords(*argv, *out.url_variables())

    def fail(code: str, message: str, exit_code: int | None = None) -> int:
        out.error(code, out.scrub(message, secrets | st.secrets), as_json=st.json or _wants_json(argv))
        return exit_code_for(code) if exit_code is None else exit_code

    try:
        rv = cli.main(args=argv, prog_name="mosaic-tui", standalone_mode=False, obj=st)
        return rv if isinstance(rv, int) else 0
    except click.exceptions.NoArgsIsHelpError as exc:  # pragma: no cover - not used by our commands
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        return exit_code_for("usage")
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "mosaic-tui"
        return fail("usage", f"{exc.format_message()} (see: {where} --help)")
    except click.ClickException as exc:  # click's own exit code (e.g. 1 for a file it cannot open)
        return fail("usage", exc.format_message(), exc.exit_code or exit_code_for("usage"))
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        return fail("interrupted", "interrupted")
    except BrokenPipeError:
        return out.stdout_gone()
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - never a traceback
        return out.report(exc, secrets | st.secrets, as_json=st.json or _wants_json(argv))
