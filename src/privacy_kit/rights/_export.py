"""Access and portability: a subject's data as a portable, machine-readable bundle.

:func:`export_subject` (``engine.export``) writes a zip file (or a folder) with:

- ``manifest.json``: the policy version, when the bundle was made, the subject (kind, identity
  names and keyed reference, never the identity values), and for each record type the categories
  (with their names), purposes (with their legal basis), recipients, sources, retention (the
  governing rule, trigger, duration and exceptions), the record count, the files and their
  SHA-256, and what was redacted and why; plus "who received my data" when the engine has a
  disclosure log;
- ``records/<record type>.json``, ``.ndjson`` and ``.csv`` (orjson; datetimes in RFC 3339);
- ``summary.html``: a short page a person can read: what is held, why, and for how long.

It streams: records are read through the adapters in batches and written as they arrive (a JSON
array written element by element, zip entries written through ``ZipFile.open(name, "w")``), so
memory stays bounded whatever the volume. The three formats of a record type are written in one
pass over the store: each to its own temporary file (spilling to disk past 1 MiB), then copied
into the bundle.

In records that concern two parties (a booking concerns its host and its invitee), the other
party's fields (``party`` set to another role) are never read: they are left out of the files,
and the manifest lists them with the reason, the policy's "would reveal another user's personal
data" (:attr:`~privacy_kit.RefusalReason.REVEALS_OTHER_USER_DATA`). Fields that are not personal
(internal ids, the record's creation time) are exported.
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
from typing import IO, TYPE_CHECKING, Any, Literal

import attrs
import orjson

from .._errors import ConfigurationError
from .._types import require_aware
from ..model._datamap import FieldSpec, RecordType, SubjectLink
from ..model._policy_rights import RefusalReason

if TYPE_CHECKING:
    from ..engine._engine import Engine, Subject

__all__ = ["EXPORT_FORMAT", "ExportResult", "export_subject", "iter_bundle_records"]

EXPORT_FORMAT = "privacy_kit.rights._export/1"
"""The bundle format written in every manifest (bumped on incompatible changes)."""
RECORD_FORMATS: tuple[str, ...] = ("json", "ndjson", "csv")
"""The record file formats an export can write."""

_SPOOL = 1 << 20  # bytes a temporary file keeps in memory before it spills to disk
_OPTIONS = orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"cannot export a value of type {type(value).__name__}")


def _json(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=_OPTIONS)


def _csv_cell(value: Any) -> str:
    kind = type(value)
    if kind is str:  # the common cases first: this runs once per exported cell
        return value  # type: ignore[no-any-return]
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
    return str(value)


@attrs.frozen
class ExportResult:
    """What an export wrote.

    Attributes:
        path: the zip file or the folder.
        format: ``"zip"`` or ``"folder"``.
        subject_reference: the subject's keyed reference.
        generated_at: the ``now`` of the export.
        counts: records exported per entry (``bookings``, or ``bookings.host`` when the subject
            has several roles in a record type).
        redacted: fields left out per entry (another party's).
        files: the files in the bundle, in order.
        sha256: for a zip, the SHA-256 of the file; for a folder, of its ``manifest.json``
            (which holds the SHA-256 of every other file).
    """

    path: Path
    format: str
    subject_reference: str
    generated_at: dt.datetime
    counts: dict[str, int]
    redacted: dict[str, tuple[str, ...]]
    files: tuple[str, ...]
    sha256: str

    @property
    def total(self) -> int:
        """Records exported in all."""
        return sum(self.counts.values())


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


class _RecordWriters:
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


@attrs.frozen
class _Entry:
    """One (record type, role) the subject appears in."""

    name: str
    record_type: RecordType
    link: SubjectLink
    exported: tuple[FieldSpec, ...]
    redacted: tuple[FieldSpec, ...]


def _entries(engine: Engine, subject: Subject) -> list[tuple[_Entry, Any]]:
    found = list(engine.links(subject))
    per_type: dict[str, int] = {}
    for rt, _link, _sel in found:
        per_type[rt.name] = per_type.get(rt.name, 0) + 1
    out = []
    for rt, link, selection in found:
        role = link.role_name
        name = rt.name if per_type[rt.name] == 1 else f"{rt.name}.{role}"
        exported = tuple(f for f in rt.fields if f.party is None or f.party == role)
        redacted = tuple(f for f in rt.fields if f.party is not None and f.party != role)
        out.append((_Entry(name, rt, link, exported, redacted), selection))
    return out


def _text(value: Any, lang: str) -> str | None:
    if value is None:
        return None
    get = getattr(value, "get_text", None)
    return str(get(lang)) if callable(get) else str(value)


def _describe_entry(engine: Engine, entry: _Entry, subject: Subject, lang: str) -> dict[str, Any]:
    policy = engine.policy
    vocabulary = policy.vocabulary
    kind = subject.kind
    categories = sorted({c for f in entry.exported for c in f.categories})
    cats = []
    for key in categories:
        name = vocabulary.category(key).name if vocabulary.has_category(key) else None
        cats.append(
            {
                "key": key,
                "name": _text(name, lang) or key,
                "fields": [f.name for f in entry.exported if key in f.categories],
            }
        )
    purposes: dict[str, dict[str, Any]] = {}
    sources: set[str] = set()
    recipients: dict[str, dict[str, Any]] = {}
    for key in categories:
        for coll in policy.collections_for(key):
            if coll.subjects and kind not in coll.subjects:
                continue
            sources.add(coll.source.value)
            for p in coll.purposes:
                if p in purposes or not vocabulary.has_purpose(p):
                    continue
                purpose = vocabulary.purpose(p)
                purposes[p] = {
                    "key": p,
                    "name": _text(purpose.name, lang),
                    "legal_basis": purpose.legal_basis.value,
                    "article": purpose.legal_basis.article,
                }
        for r in policy.recipients_of(key):
            if r.subjects and kind not in r.subjects:
                continue
            item = recipients.setdefault(
                r.key,
                {
                    "key": r.key,
                    "kind": r.kind.value,
                    "name": _text(r.name, lang),
                    "purposes": list(r.purposes),
                    "countries": list(r.countries),
                    "categories": [],
                },
            )
            item["categories"].append(key)
    rule = engine.rule_for(entry.record_type)
    retention: dict[str, Any] | None = None
    if rule is not None:
        retention = {
            "rule": rule.key,
            "description": _text(rule.description, lang),
            "trigger": rule.trigger.value,
            "duration": str(rule.duration) if rule.duration is not None else None,
            "action": rule.action.value,
            "customer_configurable": rule.override is not None,
            "exceptions": [
                {
                    "kind": e.kind.value,
                    "reason": _text(e.reason, lang),
                    "duration": str(e.duration) if e.duration is not None else None,
                    "citation": e.citation,
                }
                for e in rule.exceptions
            ],
        }
    refusal = RefusalReason.REVEALS_OTHER_USER_DATA
    return {
        "name": entry.name,
        "record_type": entry.record_type.name,
        "description": _text(entry.record_type.description, lang),
        "role": entry.link.role_name,
        "fields": [f.name for f in entry.exported],
        "categories": cats,
        "purposes": sorted(purposes.values(), key=lambda p: str(p["key"])),
        "recipients": sorted(recipients.values(), key=lambda r: str(r["key"])),
        "source": sorted(sources),
        "retention": retention,
        "redacted": [
            {
                "field": f.name,
                "party": f.party,
                "reason": refusal.value,
                "explanation": (
                    f"this field belongs to the {f.party} of the record; showing it would "
                    "reveal another user's personal data"
                ),
            }
            for f in entry.redacted
        ],
    }


def _disclosures(
    engine: Engine, reference: str, kind: str, lang: str
) -> list[dict[str, Any]] | None:
    log = getattr(engine, "disclosures", None)
    if log is None:
        return None
    return [
        {
            "recipient": r.recipient,
            "name": _text(r.name, lang),
            "kind": r.kind,
            "categories": list(r.categories),
            "purposes": list(r.purposes),
            "record_types": list(r.record_types),
            "first": r.first.isoformat(),
            "last": r.last.isoformat(),
            "count": r.count,
        }
        for r in log.received_by(reference, kind=kind)
    ]


def _summary_html(manifest: Mapping[str, Any]) -> bytes:
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


def _prepare_destination(destination: Path, fmt: str) -> Path:
    if fmt == "zip":
        if destination.is_dir():
            raise ConfigurationError(
                f"{destination} is a directory; give the path of the zip file to write"
            )
        if destination.exists():
            raise ConfigurationError(f"{destination} exists; an export never overwrites a file")
        destination.parent.mkdir(parents=True, exist_ok=True)
        return destination.with_name(destination.name + ".partial")
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise ConfigurationError(f"{destination} exists and is not an empty directory")
    destination.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=destination.name + ".partial-", dir=destination.parent))


class _Bundle:
    """Writes the bundle's files into a zip or a folder, hashing each one."""

    def __init__(self, target: Path, fmt: str) -> None:
        self.target = target
        self.fmt = fmt
        self.zip = (
            zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) if fmt == "zip" else None
        )
        self.files: dict[str, dict[str, Any]] = {}

    def _open(self, name: str) -> IO[bytes]:
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


def _stream_entry(
    engine: Engine,
    entry: _Entry,
    selection: Any,
    bundle: _Bundle,
    batch_size: int,
    *,
    kinds: tuple[str, ...] = RECORD_FORMATS,
) -> int:
    rt = entry.record_type
    columns = [f.name for f in entry.exported]
    adapter = engine.adapter_for(rt)
    temps = {k: tempfile.SpooledTemporaryFile(max_size=_SPOOL) for k in kinds}  # noqa: SIM115
    try:
        writers = _RecordWriters(temps, columns)
        # Only the exported fields are read: another party's fields never leave the store.
        for batch in adapter.iter_records(rt, selection, fields=columns, batch_size=batch_size):
            writers.write_batch(batch)
            del batch
        writers.close()
        for k in kinds:
            bundle.add_stream(f"records/{entry.name}.{k}", temps[k])
        return writers.count
    finally:
        for t in temps.values():
            t.close()


def export_subject(
    engine: Engine,
    subject: Subject,
    destination: str | os.PathLike[str],
    *,
    now: dt.datetime,
    format: Literal["zip", "folder"] = "zip",  # noqa: A002 - the name users expect
    batch_size: int = 1000,
    lang: str = "en",
    formats: Sequence[str] = RECORD_FORMATS,
) -> ExportResult:
    """Write ``subject``'s data as a portable bundle (GDPR Art. 15 access, Art. 20 portability).

    Args:
        engine: the engine.
        subject: the subject (other identities are filled in with ``engine.resolve``).
        destination: the zip file to create (``format="zip"``), or the folder to create or fill
            (``format="folder"``, which must be empty). Nothing is overwritten; the bundle
            appears only when complete.
        now: the time of the export (written in the manifest).
        format: ``"zip"`` or ``"folder"``.
        batch_size: records read per round trip (memory stays bounded by it).
        lang: language of the texts in the manifest and summary.
        formats: which record files to write, any of ``"json"``, ``"ndjson"`` and ``"csv"``
            (default all three); the manifest and summary are always written.

    Returns:
        What was written, with counts and the SHA-256.

    Raises:
        ConfigurationError: an unknown format, a bad batch size, or a destination that exists.
        AdapterError: the store failed.
        ValueError: ``now`` is naive.

    Example:
        >>> import datetime as dt, json, tempfile, zipfile, pathlib, privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> mem = InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})
        >>> _ = mem.insert("bookings", [{"id": 1, "host_id": 7, "invitee_email": "ann@example.com",
        ...                              "host_notes": "VIP", "start_at": dt.datetime(2025, 1, 2, tzinfo=dt.UTC)}])
        >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, mem, verify=False)
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "ann.zip"
        >>> result = engine.export(pk.Subject.of("end_user", email="ann@example.com"), out,
        ...                        now=dt.datetime(2025, 3, 1, tzinfo=dt.UTC))
        >>> result.counts
        {'bookings': 1}
        >>> with zipfile.ZipFile(out) as z:
        ...     rows = json.loads(z.read("records/bookings.json"))
        ...     manifest = json.loads(z.read("manifest.json"))
        >>> "host_notes" in rows[0], rows[0]["start_at"]
        (False, '2025-01-02T00:00:00+00:00')
        >>> [r["field"] for r in manifest["record_types"][0]["redacted"]]
        ['host_id', 'host_notes', 'meeting_url']
    """
    require_aware(now)
    if format not in ("zip", "folder"):
        raise ConfigurationError(f"unknown export format {format!r}; expected 'zip' or 'folder'")
    if batch_size < 1:
        raise ConfigurationError(f"batch_size must be at least 1, got {batch_size}")
    kinds = tuple(dict.fromkeys(formats))
    unknown = [k for k in kinds if k not in RECORD_FORMATS]
    if unknown or not kinds:
        raise ConfigurationError(
            f"unknown record format(s) {unknown!r}; choose one or more of {list(RECORD_FORMATS)}"
            if unknown
            else f"formats must name at least one of {list(RECORD_FORMATS)}"
        )
    destination = Path(destination)
    reference = engine.reference(subject)
    resolved = engine.resolve(subject)
    entries = _entries(engine, resolved)
    target = _prepare_destination(destination, format)
    bundle = _Bundle(target, format)
    described: list[dict[str, Any]] = []
    try:
        for entry, selection in entries:
            count = _stream_entry(engine, entry, selection, bundle, batch_size, kinds=kinds)
            item = _describe_entry(engine, entry, resolved, lang)
            item["count"] = count
            item["files"] = {
                k: {
                    "path": f"records/{entry.name}.{k}",
                    **bundle.files[f"records/{entry.name}.{k}"],
                }
                for k in kinds
            }
            described.append(item)
        policy = engine.policy
        manifest: dict[str, Any] = {
            "format": EXPORT_FORMAT,
            "generated_at": now.isoformat(),
            "policy": {
                "version": policy.version,
                "effective": policy.effective.isoformat(),
                "title": _text(policy.title, lang),
                "controller": policy.controller.name,
                "contacts": [
                    {"kind": c.kind, "value": c.value} for c in policy.controller.contacts
                ],
            },
            "subject": {
                "kind": subject.kind,
                "identities": [k for k, _ in resolved.identities],
                "reference": reference,
            },
            "total_records": sum(d["count"] for d in described),
            "record_types": described,
            "disclosures": _disclosures(engine, reference, subject.kind, lang),
        }
        bundle.add_bytes("summary.html", _summary_html(manifest))
        bundle.add_bytes(
            "manifest.json", orjson.dumps(manifest, default=_default, option=orjson.OPT_INDENT_2)
        )
        bundle.close()
    except BaseException:
        bundle.close()
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)
        raise
    if format == "zip":
        os.replace(target, destination)
        sha = _file_sha256(destination)
    else:
        if destination.exists():
            destination.rmdir()  # empty, checked above
        os.replace(target, destination)
        sha = bundle.files["manifest.json"]["sha256"]
    result = ExportResult(
        path=destination,
        format=format,
        subject_reference=reference,
        generated_at=now,
        counts={d["name"]: d["count"] for d in described},
        redacted={d["name"]: tuple(r["field"] for r in d["redacted"]) for d in described},
        files=tuple(bundle.files),
        sha256=sha,
    )
    audit = getattr(engine, "audit", None)
    if audit is not None:
        audit.record(
            "export.completed",
            now=now,
            subject=reference,
            details={
                "format": format,
                "counts": result.counts,
                "total": result.total,
                "redacted": {k: list(v) for k, v in result.redacted.items() if v},
                "sha256": sha,
            },
        )
    return result


def _file_sha256(path: Path) -> str:
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
