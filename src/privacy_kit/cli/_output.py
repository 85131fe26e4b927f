"""How the command line shows things: JSON documents, progress on stderr, the terminal's width.

Results go to standard output; progress goes to standard error, so ``privacy-kit demo --json |
jq`` and ``privacy-kit demo > report.txt`` keep a clean output while the person waiting still
sees each step. On a terminal, with rich installed (the ``cli`` extra), progress is a live bar;
otherwise it is one plain line per step, with what the step counted.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

import orjson

__all__ = ["EXIT_INPUT", "Lines", "Progress", "dumps", "terminal_width"]

EXIT_INPUT = 2
"""The exit code for bad input: a file that cannot be read, parsed or written, or a request
privacy_kit refuses."""


def dumps(document: Mapping[str, Any]) -> str:
    """``document`` as indented JSON (paths and dates as strings)."""
    return orjson.dumps(document, option=orjson.OPT_INDENT_2, default=str).decode()


def terminal_width(stream: TextIO, *, smallest: int = 50) -> int | None:
    """The terminal's columns when ``stream`` is one (``COLUMNS`` wins), else ``None``.

    Never less than ``smallest``: a narrower terminal gets lines it wraps itself.
    """
    isatty = getattr(stream, "isatty", None)
    if isatty is None or not isatty():
        return None
    return max(smallest, shutil.get_terminal_size().columns)


def _console(stream: TextIO, fancy: bool | None) -> Any:
    """A rich console on ``stream`` when it is to be fancy (default: a terminal), else ``None``
    (so also without rich, the ``cli`` extra)."""
    if fancy is None:
        isatty = getattr(stream, "isatty", None)
        fancy = bool(isatty and isatty())
    if not fancy:
        return None
    try:
        from rich.console import Console  # noqa: PLC0415 - optional, the cli extra
    except ImportError:  # without the cli extra: plain lines
        return None
    return Console(file=stream, highlight=False, soft_wrap=True)


class Lines:
    """Result lines on ``stream``: styled by rich on a terminal, plain text otherwise.

    The colour rules of every command: colour only where a person reads a terminal (rich
    installed, the ``cli`` extra; rich honours ``NO_COLOR`` and ``TERM=dumb``), never in a file
    or a pipe, where the same words are written plainly.

    Args:
        stream: where the lines go.
        fancy: style them (default: when rich is installed and ``stream`` is a terminal).

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> Lines(out).write("problem: a store failed", style="bold red")
        >>> out.getvalue()
        'problem: a store failed\\n'
    """

    def __init__(self, stream: TextIO, *, fancy: bool | None = None) -> None:
        self.stream = stream
        self._console: Any = _console(stream, fancy)
        self.fancy = self._console is not None

    def write(self, text: str, *, style: str | None = None) -> None:
        """One line (``style``: a rich style such as ``"bold red"``, shown on a terminal only)."""
        if self._console is not None:
            self._console.print(text, style=style, markup=False)
        else:
            self.stream.write(text + "\n")


class Progress:
    """Steps of long work, shown on ``stream`` (standard error): a rich bar or plain lines.

    Args:
        stream: where progress goes.
        total: how many steps.
        label: what is working (the plain lines start with it).
        fancy: a rich live bar (default: when rich is installed and ``stream`` is a terminal).

    Example:
        >>> import io
        >>> err = io.StringIO()
        >>> progress = Progress(err, total=2, label="privacy-kit demo", fancy=False)
        >>> with progress.step("Load"):
        ...     pass
        >>> progress.done("Load", 0.5, "12 records")
        >>> err.getvalue()
        'privacy-kit demo: [1/2] Load: 12 records (0.50s)\\n'
    """

    def __init__(self, stream: TextIO, *, total: int, label: str, fancy: bool | None = None):
        self.stream = stream
        self.total = total
        self.label = label
        self.number = 0
        self._bar: Any = None
        self._task: Any = None
        console = _console(stream, fancy)
        if console is not None:
            from rich.progress import (  # noqa: PLC0415 - there with rich.console
                BarColumn,
                MofNCompleteColumn,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as Bar  # noqa: PLC0415

            self._bar = Bar(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
        self.fancy = console is not None

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        """One step is under way (the bar names it; plain lines wait for :meth:`done`)."""
        self.number += 1
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=f"{self.label}: {title}")
        yield

    def done(self, title: str, seconds: float, counted: str) -> None:
        """A step finished: ``counted`` says what it did (its first result line)."""
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task)  # the results stream prints the step and its counts
            return
        self.stream.write(
            f"{self.label}: [{self.number}/{self.total}] {title}: {counted} ({seconds:.2f}s)\n"
        )
        self.stream.flush()
