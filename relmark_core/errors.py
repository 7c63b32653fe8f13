"""The few exceptions Relmark raises on purpose.

Every message is written for a marketer: which file, which row, which column, what to do.
Pages show ``str(error)``; the CLI prints it and exits with ``error.exit_code``.
"""

from __future__ import annotations

__all__ = [
    "RelmarkError",
    "InputRefused",
    "DatabaseBusy",
    "NotAllowed",
    "EXIT_OK",
    "EXIT_INTERNAL",
    "EXIT_USAGE",
    "EXIT_REFUSED",
    "EXIT_BUSY",
]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_BUSY = 4


class RelmarkError(Exception):
    """A problem the user can act on. The message is shown as-is."""

    exit_code = EXIT_REFUSED


class InputRefused(RelmarkError):
    """A file, value or definition was refused; nothing was stored."""

    exit_code = EXIT_REFUSED


class DatabaseBusy(RelmarkError):
    """Another program kept the database file busy for longer than we wait."""

    exit_code = EXIT_BUSY


class NotAllowed(RelmarkError):
    """The acting user's role does not allow this change."""

    exit_code = EXIT_REFUSED
