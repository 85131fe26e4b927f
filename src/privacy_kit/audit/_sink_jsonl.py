"""The JSON-lines sink: one canonical entry per line, appended under an exclusive file lock.

Several processes may append to one file: each append opens the file, takes an exclusive
``fcntl.flock`` on it, reads the last line *under the lock*, builds the next entry from it, writes
the whole line and only then releases the lock, so the chain never forks. Readers take the lock
shared just long enough to see how long the file is, and read only that far (whole lines only).
Where ``fcntl`` does not exist (Windows) the lock is not taken: one writing process at a time.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from ._entries import AuditEntry, RawEntry, _canonical, decode_object
from ._sinks import AuditSinkError, MakeEntries, MakeEntry

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows has no flock
    fcntl = None  # type: ignore[assignment]

__all__ = ["JsonlSink"]

_CHUNK = 8192
# Binary, not inherited by child processes (where the platform has these flags).
_OPEN_FLAGS = (
    os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
)
_TORN = "incomplete last line (no newline): a torn write"


def _pread(fd: int, size: int, offset: int) -> bytes:
    """``size`` bytes at ``offset`` (``os.pread`` where it exists; seek and read elsewhere)."""
    if hasattr(os, "pread"):
        return os.pread(fd, size, offset)
    os.lseek(fd, offset, os.SEEK_SET)  # pragma: no cover - Windows
    return os.read(fd, size)  # pragma: no cover - Windows


def _shared_size(fd: int) -> int:
    """The file's size seen under a shared lock: every append before it is whole."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_SH)
    try:
        return os.fstat(fd).st_size
    finally:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)


def _last_line(fd: int, size: int) -> RawEntry | None:
    """The last line of the first ``size`` bytes, read backwards (a full scan only if broken)."""
    if size == 0:
        return None
    pos = size
    tail = b""
    # Read backwards until the start of the last line (a newline before its last byte).
    while pos > 0:
        step = min(_CHUNK, pos)
        pos -= step
        tail = _pread(fd, step, pos) + tail
        if tail.rfind(b"\n", 0, len(tail) - 1) != -1:
            break
    start = tail.rfind(b"\n", 0, len(tail) - 1) + 1
    line = tail[start:]
    if line.endswith(b"\n") and line.strip():
        decoded = decode_object(line, "last line")
        if decoded.error is None:
            return decoded
    # Only a broken tail is worth a full count of newlines, to name its line number.
    newlines = 0
    offset = 0
    while offset < size:
        block = _pread(fd, min(1 << 16, size - offset), offset)
        if not block:
            break
        newlines += block.count(b"\n")
        offset += len(block)
    complete = line.endswith(b"\n")
    location = f"line {newlines if complete else newlines + 1}"
    if not line.strip():
        return RawEntry(location, None, "empty line")
    if not complete:
        return RawEntry(location, None, _TORN)
    return decode_object(line, location)


class JsonlSink:
    """A JSON-lines file: one entry per line, appended under an exclusive lock, optionally fsynced.

    Safe with several writing processes on one machine (POSIX ``flock``; not on network file
    systems that do not honour it, nor on Windows).

    Args:
        path: the file (created on first append).
        fsync: call ``os.fsync`` after each append (durable across power loss; slower).

    Example:
        >>> import datetime as dt
        >>> from privacy_kit.audit import AuditLog
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "audit.jsonl"
        >>> log = AuditLog.jsonl(path)
        >>> _ = log.record("a.b", now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        >>> len(path.read_bytes().splitlines()), log.verify().ok, log.sink.multiprocess_safe
        (1, True, True)
    """

    #: Whether appends from several processes are serialised (``flock`` exists here).
    multiprocess_safe: bool = fcntl is not None

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync

    def _fail(self, operation: str, exc: OSError) -> AuditSinkError:
        return AuditSinkError(f"{self.path}: {exc}", sink="JsonlSink", operation=operation)

    def append(self, entry: AuditEntry) -> None:
        """Append one line as it is (the caller chose its sequence; prefer :meth:`append_next`)."""
        self.append_next(lambda _tail: entry)

    def append_next(self, make: MakeEntry) -> AuditEntry:
        """Lock the file, read its last line, append ``make(last line)``'s entry, unlock.

        A write that fails half-way is cut back off, so the file never keeps a torn line.
        """
        return self.append_next_all(lambda last: [make(last)])[0]

    def append_next_all(self, make: MakeEntries) -> list[AuditEntry]:
        """Like :meth:`append_next`, for the entries ``make(last line)`` returns: their lines
        in one write (and one ``fsync`` with ``fsync=True``)."""
        while True:
            try:
                fd = os.open(self.path, _OPEN_FLAGS, 0o644)
            except OSError as exc:
                raise self._fail("open", exc) from exc
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                opened = os.fstat(fd)
                try:
                    current = os.stat(self.path)
                except FileNotFoundError:
                    continue  # removed or renamed while we waited: open the new one
                if (current.st_dev, current.st_ino) != (opened.st_dev, opened.st_ino):
                    continue  # replaced while we waited
                size = opened.st_size
                entries = make(_last_line(fd, size))
                line = b"".join(_canonical(entry.to_dict()) + b"\n" for entry in entries)
                try:
                    written = 0
                    while written < len(line):
                        written += os.write(fd, line[written:])
                    if self.fsync:
                        os.fsync(fd)
                except OSError as exc:
                    with contextlib.suppress(OSError):  # else the tail is reported as torn
                        os.ftruncate(fd, size)
                    raise self._fail("append", exc) from exc
                return entries
            except OSError as exc:
                raise self._fail("append", exc) from exc
            finally:
                os.close(fd)  # releases the lock

    def read(self) -> Iterator[RawEntry]:
        """Every line appended so far (whole lines only), with its 1-based line number."""
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return
        with handle:
            remaining = _shared_size(handle.fileno())
            for number, raw in enumerate(handle, start=1):
                if remaining <= 0:
                    break  # appended after the read began
                line = raw[:remaining]
                remaining -= len(raw)
                location = f"line {number}"
                if not line.strip():
                    yield RawEntry(location, None, "empty line")
                elif not line.endswith(b"\n"):
                    yield RawEntry(location, None, _TORN)
                else:
                    yield decode_object(line, location)

    def last(self) -> RawEntry | None:
        """The last line, read backwards from the end of the file."""
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return None
        with handle:
            fd = handle.fileno()
            return _last_line(fd, _shared_size(fd))

    def __repr__(self) -> str:
        return f"JsonlSink({str(self.path)!r})"
