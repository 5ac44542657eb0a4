"""Error classes shared by every floor, and the one table of exit codes.

Each error carries a short machine-readable ``code`` (the CLI's JSON
``{"error": {"code": ...}}``); :data:`EXIT_CODES` maps every code to the
process exit code, so the entry floor can report any failure as one line (or
one JSON object) and an exit code without knowing where it came from.
"""

from __future__ import annotations

#: The one table: an error ``code`` -> the process exit code.
EXIT_CODES: dict[str, int] = {
    "error": 1,  # a MosaicError without a more precise class
    "internal": 1,  # an unexpected exception (reported in one line)
    "verify_failed": 1,  # a migrate whose copy did not verify
    "usage": 2,  # click: unknown command or option, missing argument
    "invalid_input": 2,
    "not_found": 3,
    "conflict": 4,
    "unavailable": 5,
    "busy": 5,  # the server (or its pooler) is full: too many clients; retry later
    "read_only": 5,  # the server is a read-only standby: writes need the primary
    "database_error": 1,  # the server could not run a statement (never "unreachable")
    "interrupted": 130,  # Ctrl-C
}

#: What each exit code means, for people (the CLI's --help).
EXIT_MEANINGS: dict[int, str] = {
    0: "ok (also: nothing to claim, which prints null with --json)",
    1: "unexpected internal error",
    2: "bad usage or bad input; nothing was written",
    3: "not found (no such card, no such edge)",
    4: "conflict (cycle, not the owner, duplicate id, wrong status, non-empty target); several ids: some refused",
    5: "database unreachable, or not a backlog; JSON code busy: the server is full, retried for --wait seconds; "
       "read_only: the server is a read-only standby, writes need the primary",
}


def exit_code_for(code: str) -> int:
    """The exit code of an error ``code`` (1 for a code the table does not know)."""
    return EXIT_CODES.get(code, 1)


class MosaicError(Exception):
    """Base of every error a user can cause or meet; never shown as a traceback."""

    code = "error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    @property
    def exit_code(self) -> int:
        return exit_code_for(self.code)

    def __str__(self) -> str:  # one line, always
        return " ".join(self.message.split()) if "\n" in self.message else self.message


class InvalidInput(MosaicError):
    """Bad usage or bad input: nothing was written."""

    code = "invalid_input"


class NotFound(MosaicError):
    code = "not_found"


class Conflict(MosaicError):
    """The backlog's state forbids it: a cycle, not the owner, a duplicate id, a wrong status."""

    code = "conflict"


class Unavailable(MosaicError):
    """The database cannot be reached, or is not a backlog."""

    code = "unavailable"


class Busy(Unavailable):
    """The database server (or the pooler in front of it) has no connection to spare: retry later.

    A kind of Unavailable (same exit code) with its own code, so an agent can
    tell a full server from a down one.
    """

    code = "busy"
    retryable = True


class ReadOnly(Unavailable):
    """The server is a read-only standby (a hot standby, or a replica given as the backlog): it
    answers reads but refuses every write. A kind of Unavailable (same exit code) with its own code."""

    code = "read_only"


class DatabaseFailure(MosaicError):
    """The server could not run a statement, on a connection that is still there (e.g. a pooler
    that mixed up sessions' state): not "unreachable", and not worth retrying as such."""

    code = "database_error"
