"""The subcommands of ``ce-conformance`` (``conformance.cli`` lists them), one module each.

``CliError`` lives here, not in ``conformance.cli``, so that a command raises it without
importing the command line that imports the commands.
"""

from __future__ import annotations

__all__ = ["CliError"]


class CliError(Exception):
    """An expected failure: its message is printed as one line and the exit status is 2."""
