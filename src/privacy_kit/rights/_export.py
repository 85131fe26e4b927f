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

import datetime as dt
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import attrs
import orjson

from .._errors import ConfigurationError, WrongTypeError
from .._scope import Scope, ScopeEntry
from .._types import normalize_language, require_aware
from ..audit._log import AuditLog
from ..lifecycle._disclosures import DisclosureLog
from ..model._policy import Policy
from ._bundle import (
    COMPRESSION_LEVEL,
    SPOOL,
    Bundle,
    RecordWriters,
    StreamSink,
    file_sha256,
    json_default,
    prepare_destination,
    publish,
)
from ._export_describe import Entry, Words, describe_entry, disclosures, entries
from ._export_summary import summary_html, summary_notes
from ._observe import LOGGER

__all__ = ["EXPORT_FORMAT", "BinaryDestination", "ExportResult", "export_subject"]


EXPORT_FORMAT = "privacy_kit.export/1"
"""The bundle format written in every manifest (bumped on incompatible changes)."""
RECORD_FORMATS: tuple[str, ...] = ("json", "ndjson", "csv")
"""The record file formats an export can write."""


EntrySource = Callable[[ScopeEntry, Entry, Bundle], Generator[None, None, int]]
"""Writes one entry's record files into a bundle and returns its record count."""


class BinaryDestination(Protocol):
    """A writable binary stream: what an export writes its zip to when not given a path (an
    open file, :class:`io.BytesIO`, a socket's file, a response body writer...). Only ``write``
    is required; ``flush`` is called when present."""

    def write(self, data: bytes, /) -> object:
        """Take ``data`` (a short write returns how many bytes it took)."""


@attrs.frozen
class ExportResult:
    """What an export wrote.

    Attributes:
        path: the zip file or the folder; ``None`` when the zip went to a stream or an
            iterator.
        format: ``"zip"`` or ``"folder"``.
        subject_reference: the subject's keyed reference.
        generated_at: the ``now`` of the export.
        counts: records exported per entry (``bookings``, or ``bookings.host`` when the subject
            has several roles in a record type).
        redacted: fields left out per entry (another party's).
        files: the files in the bundle, in order.
        sha256: for a zip, the SHA-256 of the file; for a folder, of its ``manifest.json``
            (which holds the SHA-256 of every other file).
        searched: every record type and role that was searched (``bookings (invitee)``), so
            an empty bundle says where nothing was found.
        size: bytes written: the zip (what ``sha256`` hashes), or a folder's files in all.
        notes: what the bundle could not do as asked (a language without a phrase table: the
            summary's fixed text in English); also in the manifest and the audit entry.
    """

    path: Path | None
    format: str
    subject_reference: str
    generated_at: dt.datetime
    counts: dict[str, int]
    redacted: dict[str, tuple[str, ...]]
    files: tuple[str, ...]
    sha256: str
    searched: tuple[str, ...] = ()
    size: int = 0
    notes: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        """Records exported in all."""
        return sum(self.counts.values())

    @property
    def nothing_held(self) -> bool:
        """Whether no record of the subject was found anywhere that was searched."""
        return self.total == 0

    def to_pandas(self) -> Any:
        """:meth:`to_records` as a ``pandas.DataFrame`` (same columns, even with no rows).

        Raises:
            ConfigurationError: if pandas is not installed (``pip install pandas``).
        """
        from .._html import data_frame  # noqa: PLC0415
        from ._views import EXPORT_COLUMNS  # noqa: PLC0415

        return data_frame(EXPORT_COLUMNS, self.to_records(), of=type(self).__name__)

    def to_records(self) -> list[dict[str, object]]:
        """One flat row per entry: ``entry``, ``records`` and ``redacted`` (fields joined by ``"; "``)."""
        from .._html import records  # noqa: PLC0415
        from ._views import EXPORT_COLUMNS  # noqa: PLC0415

        entries = dict.fromkeys([*self.counts, *self.redacted])
        rows = [
            {"entry": e, "records": self.counts.get(e, 0), "redacted": self.redacted.get(e, ())}
            for e in entries
        ]
        return records(EXPORT_COLUMNS, rows)

    def __repr__(self) -> str:
        path = getattr(self, "path", None)
        return (
            f"ExportResult(path={None if path is None else str(path)!r}, "
            f"format={self.format!r}, records={self.total}, files={len(self.files)}, "
            f"sha256={self.sha256[:12]!r}...)"
        )

    def _repr_html_(self) -> str:
        from .._html import html_table, join_html  # noqa: PLC0415

        facts = [
            ("path", getattr(self, "path", None)),
            ("format", self.format),
            ("subject", self.subject_reference),
            ("generated at", self.generated_at.isoformat()),
            ("records", self.total),
            ("files", len(self.files)),
            ("sha256", self.sha256),
            ("searched", self.searched),
        ]
        caption = "no record of the subject was found" if self.nothing_held else None
        rows = [tuple(r.values()) for r in self.to_records()]
        return join_html(
            html_table("Export", ["", ""], facts, caption=caption),
            html_table("Per entry", ["entry", "records", "redacted fields"], rows),
        )


def _stream_entry(
    found: ScopeEntry,
    entry: Entry,
    bundle: Bundle,
    batch_size: int,
    *,
    kinds: tuple[str, ...] = RECORD_FORMATS,
) -> Generator[None, None, int]:
    rt = entry.record_type
    columns = [f.name for f in entry.exported]
    adapter, selection = found.adapter, found.selection
    temps = {k: tempfile.SpooledTemporaryFile(max_size=SPOOL) for k in kinds}  # noqa: SIM115
    try:
        writers = RecordWriters(temps, columns)
        # Only the exported fields are read: another party's fields never leave the store.
        for batch in adapter.iter_records(rt, selection, fields=columns, batch_size=batch_size):
            writers.write_batch(batch)
            del batch
        writers.close()
        for k in kinds:
            yield from bundle.iter_add_stream(f"records/{entry.name}.{k}", temps[k])
        return writers.count
    finally:
        for t in temps.values():
            t.close()


def export_subject(
    scope: Scope,
    destination: str | os.PathLike[str] | BinaryDestination,
    *,
    policy: Policy,
    now: dt.datetime,
    audit: AuditLog | None = None,
    disclosures: DisclosureLog | None = None,
    format: Literal["zip", "folder"] = "zip",  # noqa: A002 - the name users expect
    batch_size: int = 1000,
    lang: str = "en",
    formats: Sequence[str] = RECORD_FORMATS,
    compression_level: int | None = None,
) -> ExportResult:
    """Write ``subject``'s data as a portable bundle (GDPR Art. 15 access, Art. 20 portability).

    Args:
        scope: the subject, resolved (``Engine.scope``): where their records are.
        destination: the zip file to create (``format="zip"``), or the folder to create or fill
            (``format="folder"``, which must be empty). Nothing is overwritten; the bundle
            appears only when complete. Or a writable binary stream (any object with
            ``write``: an open file, :class:`io.BytesIO`, a response body): the zip is written
            to it front to back as it is made; if the export fails, the stream is left without
            the zip's central directory (not a readable zip), no result is returned and
            nothing is audited. For an iterator of chunks see
            :func:`~privacy_kit.rights.iter_export`.
        policy: the policy (what the manifest says about each record type).
        now: the time of the export (written in the manifest).
        audit: where ``export.completed`` is recorded (``None``: nowhere).
        disclosures: the disclosure log, for the bundle's list of recipients (``None``: the
            bundle says no log was kept).
        format: ``"zip"`` or ``"folder"``.
        batch_size: records read per round trip (memory stays bounded by it).
        lang: language of the texts in the manifest and summary (a BCP 47 tag: ``ar``,
            ``pt-BR``): the policy's words in it where the policy has them, else in English
            and listed in the manifest's ``untranslated`` (marked ``[en]`` on the summary page);
            the summary's fixed phrases from the phrase table, in English where it lacks the
            language (and ``notes`` says so).
        formats: which record files to write, any of ``"json"``, ``"ndjson"`` and ``"csv"``
            (default all three); the manifest and summary are always written.
        compression_level: the zip's deflate level, 0 (stored, uncompressed) to 9 (smallest,
            slowest); ``None`` is :data:`~privacy_kit.rights.COMPRESSION_LEVEL` (1, the
            fastest: record files are text that compresses well even so). Ignored for a
            folder.

    Returns:
        What was written, with counts and the SHA-256.

    Raises:
        ConfigurationError: an unknown format, a bad batch size or compression level, a
            malformed language tag, a destination that exists, a closed stream, or a folder
            asked of a stream.
        WrongTypeError: the destination is neither a path nor a writable binary stream
            (a text stream included).
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
    job = PreparedExport.prepare(
        scope,
        policy=policy,
        now=now,
        audit=audit,
        disclosures=disclosures,
        format=format,
        batch_size=batch_size,
        lang=lang,
        formats=formats,
        compression_level=compression_level,
    )
    if isinstance(destination, str | os.PathLike):
        return _export_to_path(job, Path(destination))
    return _export_to_stream(job, writable_stream(destination))


def writable_stream(destination: object) -> BinaryDestination:
    """``destination`` checked as a writable binary stream.

    Raises:
        WrongTypeError: it is not a path and has no ``write``, or it is a text stream.
        ConfigurationError: it is closed.
    """
    write = getattr(destination, "write", None)
    if not callable(write):
        raise WrongTypeError(
            "an export's destination is a path (str or os.PathLike) or a writable binary "
            f"stream (an object with write()), not {type(destination).__name__}"
        )
    if isinstance(destination, io.TextIOBase):
        raise WrongTypeError(
            f"an export is binary (a zip); {type(destination).__name__} is a text stream: "
            "open the file in binary mode ('wb') or pass io.BytesIO()"
        )
    if getattr(destination, "closed", False) is True:
        raise ConfigurationError("the export's destination stream is closed")
    try:  # a zero-byte write: refused by text streams that are not TextIOBase, harmless otherwise
        write(b"")
    except TypeError as exc:
        raise WrongTypeError(
            f"the export's destination {type(destination).__name__} does not take bytes "
            f"({exc}); pass a binary stream"
        ) from None
    return destination  # type: ignore[return-value]


def _export_to_path(
    job: PreparedExport,
    destination: Path,
    *,
    before_publish: Callable[[ExportResult], None] | None = None,
) -> ExportResult:
    target = prepare_destination(destination, job.format)
    bundle = Bundle(target, job.format, compression_level=job.level)
    try:
        for _ in job.write(bundle):
            pass
        bundle.close()
    except BaseException:
        bundle.close()
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)
        raise
    # The hash is taken of the file this export wrote, before it is published under its name.
    if job.format == "zip":
        sha, size = file_sha256(target), target.stat().st_size
    else:
        sha = bundle.files["manifest.json"]["sha256"]
        size = sum(int(f["bytes"]) for f in bundle.files.values())
    result = job.result(bundle, path=destination, sha256=sha, size=size)
    if before_publish is not None:
        before_publish(result)  # e.g. recorded, so a rerun after publishing finds it
    publish(target, destination, job.format)
    record_export(job.audit, result, {"lang": job.lang, **job.audit_details})
    return result


def _export_to_stream(job: PreparedExport, destination: BinaryDestination) -> ExportResult:
    if job.format != "zip":
        raise ConfigurationError(
            "a folder cannot be written to a stream; use format='zip' or give a path"
        )
    flush = getattr(destination, "flush", None)
    sink = StreamSink(destination.write, flush if callable(flush) else None)
    bundle = Bundle(sink, "zip", compression_level=job.level)
    try:
        for _ in job.write(bundle):
            pass
        bundle.close()
    except BaseException:
        # Nothing more reaches the stream: the zip is left without its central directory.
        sink.abort()
        bundle.close()
        raise
    return job.finish(bundle, path=None, sha256=sink.sha256, size=sink.size)


@attrs.define
class PreparedExport:
    """One export, checked and resolved, written by :meth:`write` into any :class:`Bundle`."""

    scope: Scope
    policy: Policy
    now: dt.datetime
    audit: AuditLog | None
    disclosures: DisclosureLog | None
    format: str
    batch_size: int
    lang: str
    kinds: tuple[str, ...]
    level: int
    entries: list[tuple[Entry, ScopeEntry]]
    searched: list[str]
    described: list[dict[str, Any]] = attrs.Factory(list)
    notes: list[str] = attrs.Factory(list)
    source: EntrySource | None = None
    audit_details: dict[str, Any] = attrs.Factory(dict)

    @classmethod
    def prepare(
        cls,
        scope: Scope,
        *,
        policy: Policy,
        now: dt.datetime,
        audit: AuditLog | None,
        disclosures: DisclosureLog | None,
        format: str,  # noqa: A002 - the name users expect
        batch_size: int,
        lang: str,
        formats: Sequence[str],
        compression_level: int | None,
        present: Callable[[ScopeEntry], bool] | None = None,
    ) -> PreparedExport:
        """Check the arguments and find the entries to write (before anything is written).

        ``present``: whether an entry goes in the bundle (default: :func:`listed`).
        """
        require_aware(now)
        level, kinds = export_options(format, batch_size, compression_level, formats)
        try:
            lang = normalize_language(lang)
        except ValueError as exc:
            raise ConfigurationError(f"export: lang {lang!r} is not a language tag: {exc}") from exc
        kind = scope.subject.kind
        found_entries = entries(
            [
                found
                for found in scope
                if (listed(found, kind) if present is None else present(found))
            ]
        )
        return cls(
            scope=scope,
            policy=policy,
            now=now,
            audit=audit,
            disclosures=disclosures,
            format=format,
            batch_size=batch_size,
            lang=lang,
            kinds=kinds,
            level=level,
            entries=found_entries,
            searched=[f"{found.record_type.name} ({found.role})" for found in scope],
        )

    def write(self, bundle: Bundle) -> Iterator[None]:
        """Write the bundle's files, yielding after each piece that reached the bundle."""
        scope, policy, kinds = self.scope, self.policy, self.kinds
        subject, resolved, reference = scope.subject, scope.resolved, scope.reference
        described = self.described
        words = Words(self.lang)
        for entry, found in self.entries:
            count = yield from (
                _stream_entry(found, entry, bundle, self.batch_size, kinds=kinds)
                if self.source is None
                else self.source(found, entry, bundle)
            )
            at = f"record_types[{len(described)}]"
            item = describe_entry(policy, entry, entry.link.kind, words, at)
            item["count"] = count
            item["files"] = {
                k: {
                    "path": f"records/{entry.name}.{k}",
                    **bundle.files[f"records/{entry.name}.{k}"],
                }
                for k in kinds
            }
            described.append(item)
            LOGGER.debug("export: %s written (%d records)", entry.name, count)
        manifest: dict[str, Any] = {
            "format": EXPORT_FORMAT,
            "generated_at": self.now.isoformat(),
            "policy": {
                "version": policy.version,
                "effective": policy.effective.isoformat(),
                "title": words.text(policy.title, "policy.title"),
                "controller": policy.controller.name,
                "contacts": [
                    {"kind": c.kind, "value": c.value} for c in policy.controller.contacts
                ],
            },
            "subject": {
                "kind": subject.kind,
                "kind_name": words.name(
                    policy.vocabulary, "subject_kinds", subject.kind, "subject.kind_name"
                ),
                "kinds": sorted({found.link.kind for _e, found in self.entries} | {subject.kind}),
                "identities": [k for k, _ in resolved.identities],
                "reference": reference,
            },
            "total_records": sum(d["count"] for d in described),
            "nothing_held": not any(d["count"] for d in described),
            "searched": self.searched,
            "record_types": described,
            "disclosures": disclosures(self.disclosures, reference, subject.kind, words),
        }
        self.notes[:] = summary_notes(self.lang)
        manifest["lang"] = self.lang
        manifest["untranslated"] = words.listed()
        manifest["notes"] = list(self.notes)
        yield from bundle.iter_add_stream("summary.html", io.BytesIO(summary_html(manifest)))
        yield from bundle.iter_add_stream(
            "manifest.json",
            io.BytesIO(orjson.dumps(manifest, default=json_default, option=orjson.OPT_INDENT_2)),
        )

    def finish(self, bundle: Bundle, *, path: Path | None, sha256: str, size: int) -> ExportResult:
        """The result of a bundle written whole and closed; ``export.completed`` is recorded."""
        result = self.result(bundle, path=path, sha256=sha256, size=size)
        record_export(self.audit, result, {"lang": self.lang, **self.audit_details})
        return result

    def result(self, bundle: Bundle, *, path: Path | None, sha256: str, size: int) -> ExportResult:
        """The result of a bundle written whole and closed (nothing recorded)."""
        described = self.described
        return ExportResult(
            path=path,
            format=self.format,
            subject_reference=self.scope.reference,
            generated_at=self.now,
            counts={d["name"]: d["count"] for d in described},
            redacted={d["name"]: tuple(r["field"] for r in d["redacted"]) for d in described},
            files=tuple(bundle.files),
            sha256=sha256,
            searched=tuple(self.searched),
            size=size,
            notes=tuple(self.notes),
        )


def record_export(
    audit: AuditLog | None, result: ExportResult, extra: dict[str, Any] | None = None
) -> None:
    """Record ``export.completed`` for ``result`` in ``audit`` (with ``extra`` details) and log it."""
    if audit is not None:
        audit.record(
            "export.completed",
            now=result.generated_at,
            subject=result.subject_reference,
            details={
                "format": result.format,
                "destination": "path" if result.path is not None else "stream",
                "counts": result.counts,
                "total": result.total,
                "redacted": {k: list(v) for k, v in result.redacted.items() if v},
                "sha256": result.sha256,
                "bytes": result.size,
                "nothing_held": result.nothing_held,
                "searched": list(result.searched),
                "notes": list(result.notes),
                **(extra or {}),
            },
        )
    LOGGER.info(
        "export written: %s, %d bytes, %d records in %d record types (subject %s)",
        result.path if result.path is not None else "a stream",
        result.size,
        result.total,
        len(result.counts),
        result.subject_reference,
    )


def listed(found: ScopeEntry, kind: str) -> bool:
    """Whether an entry of the scope of a subject of ``kind`` goes in their bundle.

    The subject's own roles always do; another kind's role (the same person found through a
    person identity) only where it holds records, so bundles keep their names.
    """
    return found.link.kind == kind or bool(found.adapter.count(found.record_type, found.selection))


def export_options(
    format: str,  # noqa: A002 - the name users expect
    batch_size: int,
    compression_level: int | None,
    formats: Sequence[str],
) -> tuple[int, tuple[str, ...]]:
    """Check an export's options; return the zip's compression level and the record formats.

    Raises:
        ConfigurationError: an unknown format, a bad batch size or compression level.
    """
    if format not in ("zip", "folder"):
        raise ConfigurationError(f"unknown export format {format!r}; expected 'zip' or 'folder'")
    if batch_size < 1:
        raise ConfigurationError(f"batch_size must be at least 1, got {batch_size}")
    level = COMPRESSION_LEVEL if compression_level is None else compression_level
    if type(level) is not int or not 0 <= level <= 9:
        raise ConfigurationError(
            f"compression_level must be an integer from 0 (stored) to 9, got {compression_level!r}"
        )
    kinds = tuple(dict.fromkeys(formats))
    unknown = [k for k in kinds if k not in RECORD_FORMATS]
    if unknown or not kinds:
        raise ConfigurationError(
            f"unknown record format(s) {unknown!r}; choose one or more of {list(RECORD_FORMATS)}"
            if unknown
            else f"formats must name at least one of {list(RECORD_FORMATS)}"
        )
    return level, kinds
