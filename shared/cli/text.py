"""Plain-text building blocks for the CLI's human output: width, colour, wrapping, fix commands.

Every report is written line by line (no table frames): prose wraps to the terminal's width with
a hanging indent, and a fix command is always printed whole on a line of its own, never wrapped
or cut, so it can be copied at any width (80 columns included). Colour only on a terminal, and
never with ``NO_COLOR`` set.
"""

from __future__ import annotations

import os
import textwrap
from typing import IO

from shared.model import Status

DEFAULT_WIDTH = 100
_ANSI = {
    "red": "\x1b[1;31m",
    "yellow": "\x1b[33m",
    "magenta": "\x1b[35m",
    "green": "\x1b[32m",
    "dim": "\x1b[2m",
    "bold": "\x1b[1m",
}
STATUS_COLOUR = {
    Status.FAIL: "red",
    Status.WARN: "yellow",
    Status.UNKNOWN: "magenta",
    Status.PASS: "green",
    Status.NOT_APPLICABLE: "dim",
}
STATUS_LABEL = {
    Status.FAIL: "FAIL",
    Status.UNKNOWN: "UNKNOWN",
    Status.WARN: "WARN",
    Status.PASS: "pass",
    Status.NOT_APPLICABLE: "n/a",
}


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def width_of(stream: IO[str]) -> int:
    """``COLUMNS`` when set, else the terminal's width, else 100 (files and pipes)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return max(40, int(columns))
    if _isatty(stream):
        try:
            return max(40, os.get_terminal_size(stream.fileno()).columns)
        except (OSError, ValueError):
            pass
    return DEFAULT_WIDTH


class Writer:
    """Writes lines to one stream: colour on a terminal only, prose wrapped to the width."""

    def __init__(self, stream: IO[str], *, width: int | None = None, colour: bool | None = None) -> None:
        self.stream = stream
        self.width = width or width_of(stream)
        self.colour = colour if colour is not None else (_isatty(stream) and "NO_COLOR" not in os.environ)

    def paint(self, text: str, style: str) -> str:
        return f"{_ANSI[style]}{text}\x1b[0m" if self.colour and style in _ANSI else text

    def line(self, text: str = "") -> None:
        self.stream.write(text + "\n")

    def wrapped(self, text: str, indent: int, *, first: str | None = None) -> None:
        """``text`` wrapped at the width, every line indented by ``indent`` spaces (ids never split);
        ``first``, when given, replaces the indent of the first line (same visible length)."""
        pad = " " * indent
        lines = textwrap.wrap(
            text,
            width=max(20, self.width - indent) + indent,
            initial_indent=pad,
            subsequent_indent=pad,
            break_long_words=False,
            break_on_hyphens=False,
        ) or [pad]
        if first is not None:
            lines[0] = first + lines[0][indent:]
        for text_line in lines:
            self.line(text_line)

    def command(self, command: str, indent: int) -> None:
        """A fix command, each of its lines whole on a line of its own (copyable at any width)."""
        for part in command.strip().splitlines():
            self.line(" " * indent + part.rstrip())

    def status(self, status: Status, *, pad: int = 7) -> str:
        return self.paint(STATUS_LABEL[status].ljust(pad), STATUS_COLOUR[status])


def counts_phrase(counts: dict[str, int]) -> str:
    """``2 fail, 1 warn, 18 pass, 4 n/a`` (zero counts left out), in report order."""
    order = (Status.FAIL, Status.UNKNOWN, Status.WARN, Status.PASS, Status.NOT_APPLICABLE)
    parts = [f"{counts[str(s)]} {STATUS_LABEL[s].lower()}" for s in order if counts.get(str(s))]
    return ", ".join(parts) or "no checks"
