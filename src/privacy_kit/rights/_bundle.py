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
import hashlib
import html
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

__all__ = ["Bundle", "RecordWriters", "iter_bundle_records", "neutralise_formula"]

SPOOL = 1 << 20  # bytes a temporary file keeps in memory before it spills to disk
_OPTIONS = orjson.OPT_NON_STR_KEYS


def json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"cannot export a value of type {type(value).__name__}")


def _json(value: Any) -> bytes:
    return orjson.dumps(value, default=json_default, option=_OPTIONS)


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


class _Sink:
    """A binary output that counts and hashes what passes through it."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.out.write(data)
        self.hash.update(data)
        self.size += len(data)


class RecordWriters:
    """Writes one record type's records to JSON, NDJSON and CSV at once, record by record."""

    def __init__(self, outputs: Mapping[str, IO[bytes]], columns: Sequence[str]) -> None:
        self.sinks = {kind: _Sink(out) for kind, out in outputs.items()}
        self.columns = list(columns)
        # Picks exactly the exported columns, in order, from whatever the adapter returned: a
        # field the adapter sends but was not asked for (another party's) never reaches a file.
        getter = operator.itemgetter(*self.columns) if self.columns else None
        if getter is None:
            self._values: Callable[[Mapping[str, Any]], tuple[Any, ...]] = lambda _r: ()
        elif len(self.columns) == 1:
            self._values = lambda r: (getter(r),)
        else:
            self._values = getter
        self.count = 0
        self._row = io.StringIO()
        self._csv = csv.writer(self._row, lineterminator="\r\n")
        if "json" in self.sinks:
            self.sinks["json"].write(b"[")
        if "csv" in self.sinks:
            self._csv_line(self.columns)

    def _csv_line(self, cells: Sequence[str]) -> None:
        self._row.seek(0)
        self._row.truncate()
        self._csv.writerow(cells)
        self.sinks["csv"].write(self._row.getvalue().encode("utf-8"))

    def write(self, record: Mapping[str, Any]) -> None:
        self.write_batch([record])

    def write_batch(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Write a batch: one write per format (the per-record work is serialising only)."""
        if not records:
            return
        columns = self.columns
        sinks = self.sinks
        try:
            ordered = [dict(zip(columns, self._values(record), strict=True)) for record in records]
        except KeyError:  # an adapter left a field out: it is exported as null
            ordered = [{c: record.get(c) for c in columns} for record in records]
        if "json" in sinks or "ndjson" in sinks:
            data = [_json(o) for o in ordered]
            if "json" in sinks:
                sinks["json"].write(
                    (b"\n  " if self.count == 0 else b",\n  ") + b",\n  ".join(data)
                )
            if "ndjson" in sinks:
                sinks["ndjson"].write(b"\n".join(data) + b"\n")
        if "csv" in sinks:
            self._row.seek(0)
            self._row.truncate()
            self._csv.writerows([[_csv_cell(o[c]) for c in columns] for o in ordered])
            sinks["csv"].write(self._row.getvalue().encode("utf-8"))
        self.count += len(records)

    def close(self) -> None:
        if "json" in self.sinks:
            self.sinks["json"].write(b"\n]\n" if self.count else b"]\n")


def summary_html(manifest: Mapping[str, Any]) -> bytes:
    e = html.escape
    subject = manifest["subject"]
    rows = []
    for item in manifest["record_types"]:
        retention = item["retention"]
        kept = "—"
        if retention is not None:
            kept = retention["description"] or retention["rule"]
        redacted = ", ".join(r["field"] for r in item["redacted"]) or "—"
        rows.append(
            "<tr>"
            f"<td>{e(item['name'])}<br><small>{e(item['description'] or '')}</small></td>"
            f"<td>{item['count']}</td>"
            f"<td>{e(', '.join(c['name'] for c in item['categories']))}</td>"
            f"<td>{e(', '.join(str(p['name']) for p in item['purposes']))}</td>"
            f"<td>{e(', '.join(str(r['name']) for r in item['recipients']) or '—')}</td>"
            f"<td>{e(kept)}</td>"
            f"<td>{e(redacted)}</td>"
            "</tr>"
        )
    received = ""
    if manifest.get("disclosures") is not None:
        items = "".join(
            f"<li>{e(str(d['name'] or d['recipient']))}: {e(', '.join(d['categories']))} "
            f"({d['count']} time(s), last {e(d['last'][:10])})</li>"
            for d in manifest["disclosures"]
        )
        received = "<h2>Who received your data</h2><ul>" + (items or "<li>No one.</li>") + "</ul>"
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Your data held by {e(manifest['policy']['controller'])}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .5em;"
        "vertical-align:top;text-align:start}</style></head><body>"
        f"<h1>Your data held by {e(manifest['policy']['controller'])}</h1>"
        f"<p>Made {e(manifest['generated_at'])} under privacy policy version "
        f"{e(manifest['policy']['version'])}, for the {e(subject['kind'])} "
        f"identified by {e(', '.join(subject['identities']))}. "
        f"{manifest['total_records']} record(s) in all; the files in <code>records/</code> hold "
        "them as JSON, NDJSON and CSV.</p>"
        "<table><tr><th>What</th><th>Records</th><th>Kinds of data</th><th>Why we use it</th>"
        "<th>Shared with</th><th>How long we keep it</th><th>Left out (another person's data)</th>"
        "</tr>" + "".join(rows) + "</table>" + received + "</body></html>\n"
    )
    return page.encode("utf-8")


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


class Bundle:
    """Writes the bundle's files into a zip or a folder, hashing each one."""

    def __init__(self, target: Path, fmt: str) -> None:
        self.target = target
        self.fmt = fmt
        self.zip = (
            zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) if fmt == "zip" else None
        )
        self.files: dict[str, dict[str, Any]] = {}

    def _open(self, name: str) -> IO[bytes]:
        parts = name.split("/")
        if name.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ConfigurationError(f"refusing to write bundle member {name!r} (not a plain path)")
        if self.zip is not None:
            return self.zip.open(name, "w", force_zip64=True)
        path = self.target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("wb")

    def add_stream(self, name: str, source: IO[bytes]) -> None:
        source.seek(0)
        digest = hashlib.sha256()
        size = 0
        with self._open(name) as out:
            while chunk := source.read(1 << 16):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        self.files[name] = {"sha256": digest.hexdigest(), "bytes": size}

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
