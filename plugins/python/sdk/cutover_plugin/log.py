"""Logging through the host. Natively (in a plugin's unit tests) lines go to stderr.

The component glue installs the host's `log` function when the plugin is built as a
component; until then (and natively) a line is printed.
"""

import sys

__all__ = ["debug", "info", "warn"]


def _stderr(level, message):
    print(f"[{level}] {message}", file=sys.stderr)


_emit = _stderr


def _install(emit):
    global _emit
    _emit = emit


def debug(message):
    """Logs a debug line to the host."""
    _emit("debug", str(message))


def info(message):
    """Logs an informational line to the host."""
    _emit("info", str(message))


def warn(message):
    """Logs a warning to the host."""
    _emit("warn", str(message))
