"""Error classes shared by every floor.

Each class carries the CLI exit code and a short machine-readable code, so
the entry floor can report any failure as one line (or one JSON object)
without knowing where it came from.
"""


class MosaicError(Exception):
    """Base of every error a user can cause or meet; never shown as a traceback."""

    code = "error"
    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # one line, always
        return " ".join(self.message.split()) if "\n" in self.message else self.message


class InvalidInput(MosaicError):
    """Bad usage or bad input: nothing was written."""

    code = "invalid_input"
    exit_code = 2


class NotFound(MosaicError):
    code = "not_found"
    exit_code = 3


class Conflict(MosaicError):
    """The backlog's state forbids it: a cycle, not the owner, a duplicate id, a wrong status."""

    code = "conflict"
    exit_code = 4


class Unavailable(MosaicError):
    """The database cannot be reached, or is not a backlog."""

    code = "unavailable"
    exit_code = 5


class Busy(Unavailable):
    """The database server (or the pooler in front of it) has no connection to spare: retry later.

    A kind of Unavailable (same exit code) with its own code, so an agent can
    tell a full server from a down one.
    """

    code = "busy"
    retryable = True


class DatabaseFailure(MosaicError):
    """The server could not run a statement, on a connection that is still there (e.g. a pooler
    that mixed up sessions' state): not "unreachable", and not worth retrying as such."""

    code = "database_error"
    exit_code = 1
