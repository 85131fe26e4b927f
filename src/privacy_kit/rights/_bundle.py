"""The bundle an export writes: record files in three formats, a summary page, a zip or folder.

:class:`RecordWriters` turns batches of records into JSON, NDJSON and CSV in one pass (each to a
temporary file that spills to disk past 1 MiB); :class:`Bundle` collects the files, with their
SHA-256, into a zip (written through ``ZipFile.open(name, "w")``) or a folder that appears only
when complete; :func:`iter_bundle_records` reads a bundle back.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import functools
import hashlib
import io
import operator
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import orjson

from .._errors import ConfigurationError

__all__ = [
    "COMPRESSION_LEVEL",
    "Bundle",
    "RecordWriters",
    "StreamSink",
    "iter_bundle_records",
    "neutralise_formula",
]

SPOOL = 1 << 20  # bytes a temporary file keeps in memory before it spills to disk
COMPRESSION_LEVEL = 1
"""The deflate level of a zip bundle's members by default (0: stored, 1 fastest ... 9 smallest).

Measured on a 100,000-record bundle (62.5 MB of JSON, NDJSON and CSV): level 1 compresses it
7.7x in 0.14 s of CPU, level 6 (zlib's default) 9.5x in 0.56 s, level 9 9.9x in 1.7 s; stored,
nothing is saved. Record files are text that compresses well, so the fastest level keeps most
of the saving at a quarter of the time."""
_OPTIONS = orjson.OPT_NON_STR_KEYS


def json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"cannot export a value of type {type(value).__name__}")


_json = functools.partial(orjson.dumps, default=json_default, option=_OPTIONS)
"""A value as JSON (orjson; datetimes in RFC 3339)."""


_FORMULA_LEADS = frozenset("=+-@\t\r")


def neutralise_formula(text: str) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (the OWASP CSV-injection rule).

    A cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with
    a single quote, which spreadsheets show as text; every other cell is unchanged. Only the CSV
    files get this: JSON and NDJSON keep the exact value.

    Example:
        >>> neutralise_formula("=1+2"), neutralise_formula("Ann")
        ("'=1+2", 'Ann')
    """
    return "'" + text if text and text[0] in _FORMULA_LEADS else text


def _csv_cell(value: Any) -> str:
    kind = type(value)
    if kind is str:  # the common cases first: this runs once per exported cell
        return "'" + value if value and value[0] in _FORMULA_LEADS else value  # type: ignore[no-any-return]
    if kind is int or kind is float:
        return str(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict | list | tuple):
        return _json(value).decode("utf-8")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return neutralise_formula(str(value))


_NONE = type(None)
_PLAIN = frozenset({int, float, _NONE})  # what ``csv`` writes as privacy_kit would ("" for None)
_BOOL_TEXT = {True: "true", False: "false"}
_LEADS = tuple(_FORMULA_LEADS)
_is_formula = operator.methodcaller("startswith", _LEADS)
_iso = dt.datetime.isoformat


def _csv_column(values: tuple[Any, ...]) -> Sequence[Any]:
    """One column of a batch as CSV cells, converted column by column (same text as
    :func:`_csv_cell` gives each cell): the common column types take a path with no Python
    code per cell."""
    kinds = set(map(type, values))
    if kinds <= _PLAIN:
        return values
    kinds.discard(_NONE)
    if len(kinds) == 1:
        kind = kinds.pop()
        if kind is str:
            # filter(None, ...) drops None and "": what is left is checked for a formula lead.
            if any(map(_is_formula, filter(None, values))):
                return [None if v is None else neutralise_formula(v) for v in values]
            return values
        if kind is dt.datetime:
            if None in values:
                return [None if v is None else _iso(v) for v in values]
            return list(map(_iso, values))
        if kind is bool:
            return list(map(_BOOL_TEXT.get, values))
    return list(map(_csv_cell, values))


class RecordWriters:
    """Writes one record type's records to JSON, NDJSON and CSV at once, batch by batch.

    A record the adapter returned with exactly the exported columns, in order (what the
    bundled adapters return), is serialised as it is; any other record is first rebuilt with
    exactly those columns (a field the adapter sends but was not asked for never reaches a
    file; one it left out is exported as null). Every value is converted once per format that
    needs it: JSON and NDJSON share one ``orjson`` serialisation of each record, and the CSV
    cells are converted column by column.
    """

    def __init__(self, outputs: Mapping[str, IO[bytes]], columns: Sequence[str]) -> None:
        self.outputs = dict(outputs)
        self.columns = list(columns)
        self._keys = tuple(self.columns)
        self.count = 0
        self._row = io.StringIO()
        self._csv = csv.writer(self._row, lineterminator="\r\n")
        self._json_out = self.outputs.get("json")
        self._ndjson_out = self.outputs.get("ndjson")
        self._csv_out = self.outputs.get("csv")
        if self._json_out is not None:
            self._json_out.write(b"[")
        if self._csv_out is not None:
            self._csv.writerow(self.columns)
            self._flush_csv(self._csv_out)

    def _flush_csv(self, out: IO[bytes]) -> None:
        out.write(self._row.getvalue().encode("utf-8"))
        self._row.seek(0)
        self._row.truncate()

    def _exact(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The records with exactly the exported columns, in order (as they are, if they are)."""
        keys = self._keys
        if set(map(type, records)) == {dict} and list(map(tuple, records)).count(keys) == len(
            records
        ):
            return records  # type: ignore[return-value]
        columns = self.columns
        return [
            r if type(r) is dict and tuple(r) == keys else {c: r.get(c) for c in columns}
            for r in records
        ]

    def write(self, record: Mapping[str, Any]) -> None:
        """Write one record (see :meth:`write_batch`)."""
        self.write_batch([record])

    def write_batch(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Write a batch: one write per format (the per-record work is serialising only)."""
        if not records:
            return
        rows = self._exact(records)
        if self._json_out is not None or self._ndjson_out is not None:
            data = list(map(_json, rows))
            if self._json_out is not None:
                self._json_out.write(
                    (b"\n  " if self.count == 0 else b",\n  ") + b",\n  ".join(data)
                )
            if self._ndjson_out is not None:
                self._ndjson_out.write(b"\n".join(data) + b"\n")
        if self._csv_out is not None:
            if self.columns:
                cells = [_csv_column(col) for col in zip(*map(dict.values, rows), strict=True)]
                self._csv.writerows(zip(*cells, strict=True))
            else:
                self._csv.writerows([[]] * len(rows))
            self._flush_csv(self._csv_out)
        self.count += len(records)

    def close(self) -> None:
        """Finish the files (the JSON array's closing bracket)."""
        if self._json_out is not None:
            self._json_out.write(b"\n]\n" if self.count else b"]\n")


def prepare_destination(destination: Path, fmt: str) -> Path:
    """A new, private, uniquely named place beside ``destination`` to write the bundle into.

    The zip is written to a file created exclusively (``O_EXCL``: a file or symlink planted at
    that name makes creation fail, it is never followed), the folder into a fresh directory
    (``mkdtemp``); :func:`publish` then moves it into place without overwriting anything.
    Concurrent exports to one destination each write their own file, and at most one is
    published.
    """
    if fmt == "zip":
        if destination.is_dir():
            raise ConfigurationError(
                f"{destination} is a directory; give the path of the zip file to write"
            )
        if destination.exists() or destination.is_symlink():
            raise ConfigurationError(f"{destination} exists; an export never overwrites a file")
        destination.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(
            prefix=f".{destination.name}.", suffix=".partial", dir=destination.parent
        )
        os.close(fd)
        return Path(name)
    if destination.is_symlink() or (
        destination.exists() and (not destination.is_dir() or any(destination.iterdir()))
    ):
        raise ConfigurationError(f"{destination} exists and is not an empty directory")
    destination.parent.mkdir(parents=True, exist_ok=True)
    return Path(
        tempfile.mkdtemp(prefix=f".{destination.name}.", suffix=".partial", dir=destination.parent)
    )


def publish(target: Path, destination: Path, fmt: str) -> None:
    """Move a finished bundle into place, atomically and without overwriting anything.

    A zip is hard-linked to its name (which fails if the name exists, whoever created it in the
    meantime) and its temporary name removed; a folder replaces the empty directory it was asked
    for, or takes a free name.

    Raises:
        ConfigurationError: the destination appeared while the bundle was written.
    """
    try:
        if fmt == "zip":
            try:
                os.link(target, destination)
            except FileExistsError:
                raise
            except OSError:  # a filesystem without hard links: rename, after one more check
                if destination.exists() or destination.is_symlink():
                    raise FileExistsError(destination) from None
                os.rename(target, destination)
                return
            target.unlink()
            return
        if destination.is_symlink():
            raise FileExistsError(destination)
        if destination.exists():
            destination.rmdir()  # empty, checked before writing; fails if something arrived
        os.rename(target, destination)
    except (FileExistsError, OSError) as exc:
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)
        raise ConfigurationError(
            f"{destination} appeared while the export was written; nothing was overwritten "
            f"({type(exc).__name__})"
        ) from None


class StreamSink:
    """Where a zip bundle goes when its destination is not a path: every byte is hashed, counted
    and handed to ``write`` (a stream's ``write``, or a list's ``append`` for an iterator).

    It tells its position but cannot seek, so :mod:`zipfile` writes each member once, front to
    back (sizes in data descriptors), and what was hashed is exactly what was written. After
    :meth:`abort` nothing more is passed on: a failed export never finishes the zip's central
    directory, so what reached the destination is not a readable zip.
    """

    def __init__(
        self, write: Callable[[bytes], Any], flush: Callable[[], Any] | None = None
    ) -> None:
        self._write = write
        self._flush = flush
        self._digest = hashlib.sha256()
        self.size = 0
        self.aborted = False

    def write(self, data: bytes) -> int:
        if self.aborted:
            return len(data)
        data = bytes(data)
        view = memoryview(data)
        while view:
            written = self._write(bytes(view))
            # A raw stream may take part of it (and says how much); None means all of it.
            if written is None or written >= len(view):
                break
            if written <= 0:
                raise OSError(f"the export's destination accepted no bytes ({written!r})")
            view = view[written:]
        self._digest.update(data)
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        if self._flush is not None and not self.aborted:
            self._flush()

    def close(self) -> None:
        """Nothing to do: the destination is its owner's to close."""

    def abort(self) -> None:
        """Pass nothing more on (the export failed)."""
        self.aborted = True

    @property
    def sha256(self) -> str:
        """The SHA-256 of every byte passed on."""
        return self._digest.hexdigest()


class Bundle:
    """Writes the bundle's files into a zip or a folder, hashing each one.

    ``target`` is the zip file or folder to write, or a :class:`StreamSink` (a zip written
    front to back). ``compression_level`` is the zip members' deflate level (0 stores them
    uncompressed).
    """

    def __init__(
        self, target: Path | StreamSink, fmt: str, *, compression_level: int = COMPRESSION_LEVEL
    ) -> None:
        self.target = target
        self.fmt = fmt
        self.zip = (
            zipfile.ZipFile(
                target,
                "w",
                compression=zipfile.ZIP_DEFLATED if compression_level else zipfile.ZIP_STORED,
                compresslevel=compression_level or None,
            )
            if fmt == "zip"
            else None
        )
        self.files: dict[str, dict[str, Any]] = {}

    def _open(self, name: str) -> IO[bytes]:
        parts = name.split("/")
        if name.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ConfigurationError(f"refusing to write bundle member {name!r} (not a plain path)")
        if self.zip is not None:
            return self.zip.open(name, "w", force_zip64=True)
        assert isinstance(self.target, Path)  # a folder is always a path
        path = self.target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("wb")

    def iter_add_stream(self, name: str, source: IO[bytes]) -> Iterator[None]:
        """Copy ``source`` into member ``name``, yielding after each chunk (so an iterator
        export can hand on what the zip wrote so far)."""
        source.seek(0)
        digest = hashlib.sha256()
        size = 0
        with self._open(name) as out:
            while chunk := source.read(1 << 16):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                yield
        self.files[name] = {"sha256": digest.hexdigest(), "bytes": size}
        yield

    def add_stream(self, name: str, source: IO[bytes]) -> None:
        for _ in self.iter_add_stream(name, source):
            pass

    def add_bytes(self, name: str, data: bytes) -> None:
        self.add_stream(name, io.BytesIO(data))

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def iter_bundle_records(path: str | os.PathLike[str], name: str) -> Iterator[dict[str, Any]]:
    """Read back the records of entry ``name`` from a bundle (zip or folder), one at a time.

    It reads the NDJSON file, so the bundle must have been written with ``"ndjson"`` among its
    ``formats`` (the default).

    Args:
        path: the bundle.
        name: the entry, e.g. ``"bookings"``.

    Yields:
        Each record as a ``dict`` (datetimes as RFC 3339 text).

    Example:
        >>> import pathlib, tempfile
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> (folder / "records").mkdir()
        >>> _ = (folder / "records" / "users.ndjson").write_text('{"id": 1}\\n')
        >>> list(iter_bundle_records(folder, "users"))
        [{'id': 1}]
    """
    path = Path(path)
    member = f"records/{name}.ndjson"
    if path.is_dir():
        with (path / member).open("rb") as fh:
            for line in fh:
                if line.strip():
                    yield orjson.loads(line)
        return
    with zipfile.ZipFile(path) as z, z.open(member) as fh:
        for line in fh:
            if line.strip():
                yield orjson.loads(line)
