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
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import attrs
import orjson

from .._errors import ConfigurationError
from .._scope import Scope, ScopeEntry
from .._types import require_aware
from ..audit._log import AuditLog
from ..lifecycle._disclosures import DisclosureLog
from ..model._check import rule_for_record_type
from ..model._check_retention import retention_choices
from ..model._datamap import FieldSpec, RecordType, SubjectLink
from ..model._policy import Policy
from ..model._policy_rights import RefusalReason
from ._bundle import (
    COMPRESSION_LEVEL,
    SPOOL,
    Bundle,
    RecordWriters,
    file_sha256,
    json_default,
    prepare_destination,
    publish,
    summary_html,
)

__all__ = ["EXPORT_FORMAT", "ExportResult", "export_subject"]

EXPORT_FORMAT = "privacy_kit.export/1"
"""The bundle format written in every manifest (bumped on incompatible changes)."""
RECORD_FORMATS: tuple[str, ...] = ("json", "ndjson", "csv")
"""The record file formats an export can write."""


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
        searched: every record type and role that was searched (``bookings (invitee)``), so
            an empty bundle says where nothing was found.
    """

    path: Path
    format: str
    subject_reference: str
    generated_at: dt.datetime
    counts: dict[str, int]
    redacted: dict[str, tuple[str, ...]]
    files: tuple[str, ...]
    sha256: str
    searched: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        """Records exported in all."""
        return sum(self.counts.values())

    @property
    def nothing_held(self) -> bool:
        """Whether no record of the subject was found anywhere that was searched."""
        return self.total == 0

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


@attrs.frozen
class _Entry:
    """One (record type, role) the subject appears in."""

    name: str
    record_type: RecordType
    link: SubjectLink
    exported: tuple[FieldSpec, ...]
    redacted: tuple[FieldSpec, ...]


def _entries(scope: Sequence[ScopeEntry]) -> list[tuple[_Entry, ScopeEntry]]:
    per_type: dict[str, int] = {}
    for found in scope:
        per_type[found.record_type.name] = per_type.get(found.record_type.name, 0) + 1
    out = []
    for found in scope:
        rt, link = found.record_type, found.link
        role = link.role_name
        name = rt.name if per_type[rt.name] == 1 else f"{rt.name}.{role}"
        exported = tuple(f for f in rt.fields if f.party is None or f.party == role)
        redacted = tuple(f for f in rt.fields if f.party is not None and f.party != role)
        out.append((_Entry(name, rt, link, exported, redacted), found))
    return out


def _text(value: Any, lang: str) -> str | None:
    if value is None:
        return None
    get = getattr(value, "get_text", None)
    return str(get(lang)) if callable(get) else str(value)


def _describe_entry(policy: Policy, entry: _Entry, kind: str, lang: str) -> dict[str, Any]:
    vocabulary = policy.vocabulary
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
    rule = rule_for_record_type(policy, entry.record_type)
    retention: dict[str, Any] | None = None
    if rule is not None:
        retention = {
            "rule": rule.key,
            "description": _text(rule.description, lang),
            "trigger": rule.trigger.value,
            "duration": "forever"
            if rule.indefinite
            else str(rule.duration)
            if rule.duration is not None
            else None,
            "action": rule.action.value,
            "customer_configurable": rule.override is not None,
            "exceptions": [
                {
                    "kind": e.kind.value,
                    "reason": _text(e.reason, lang),
                    "duration": "forever"
                    if e.indefinite
                    else str(e.duration)
                    if e.duration is not None
                    else None,
                    "citation": e.citation,
                }
                for e in rule.exceptions
            ],
        }
    if rule is None and entry.record_type.is_conditional:
        states = [
            {
                "when": c.describe(),
                "rule": c.rule.key,
                "description": _text(c.rule.description, lang),
                "trigger": c.rule.trigger.value,
                "duration": str(c.rule.duration) if c.rule.duration is not None else None,
                "action": c.rule.action.value,
            }
            for c in retention_choices(policy, entry.record_type)
        ]
        retention = {
            "rule": ", ".join(s["rule"] or "" for s in states),
            "description": "; ".join(f"{s['when']}: {s['description']}" for s in states),
            "by_state": states,
        }
    refusal = RefusalReason.REVEALS_OTHER_USER_DATA
    return {
        "name": entry.name,
        "record_type": entry.record_type.name,
        "description": _text(entry.record_type.description, lang),
        "role": entry.link.role_name,
        "kind": entry.link.kind,
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
    log: DisclosureLog | None, reference: str, kind: str, lang: str
) -> list[dict[str, Any]] | None:
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


def _stream_entry(
    found: ScopeEntry,
    entry: _Entry,
    bundle: Bundle,
    batch_size: int,
    *,
    kinds: tuple[str, ...] = RECORD_FORMATS,
) -> int:
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
            bundle.add_stream(f"records/{entry.name}.{k}", temps[k])
        return writers.count
    finally:
        for t in temps.values():
            t.close()


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


def export_subject(
    scope: Scope,
    destination: str | os.PathLike[str],
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
            appears only when complete.
        policy: the policy (what the manifest says about each record type).
        now: the time of the export (written in the manifest).
        audit: where ``export.completed`` is recorded (``None``: nowhere).
        disclosures: the disclosure log, for the bundle's list of recipients (``None``: the
            bundle says no log was kept).
        format: ``"zip"`` or ``"folder"``.
        batch_size: records read per round trip (memory stays bounded by it).
        lang: language of the texts in the manifest and summary.
        formats: which record files to write, any of ``"json"``, ``"ndjson"`` and ``"csv"``
            (default all three); the manifest and summary are always written.
        compression_level: the zip's deflate level, 0 (stored, uncompressed) to 9 (smallest,
            slowest); ``None`` is :data:`~privacy_kit.rights.COMPRESSION_LEVEL` (1, the
            fastest: record files are text that compresses well even so). Ignored for a
            folder.

    Returns:
        What was written, with counts and the SHA-256.

    Raises:
        ConfigurationError: an unknown format, a bad batch size or compression level, or a
            destination that exists.
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
    level, kinds = export_options(format, batch_size, compression_level, formats)
    destination = Path(destination)
    subject, resolved, reference = scope.subject, scope.resolved, scope.reference
    searched = [f"{found.record_type.name} ({found.role})" for found in scope]
    # The subject's own roles are always listed; another kind's role (the same person found
    # through a person identity) only where it holds records, so bundles keep their names.
    entries = _entries(
        [
            found
            for found in scope
            if found.link.kind == subject.kind
            or found.adapter.count(found.record_type, found.selection)
        ]
    )
    target = prepare_destination(destination, format)
    bundle = Bundle(target, format, compression_level=level)
    described: list[dict[str, Any]] = []
    try:
        for entry, found in entries:
            count = _stream_entry(found, entry, bundle, batch_size, kinds=kinds)
            item = _describe_entry(policy, entry, entry.link.kind, lang)
            item["count"] = count
            item["files"] = {
                k: {
                    "path": f"records/{entry.name}.{k}",
                    **bundle.files[f"records/{entry.name}.{k}"],
                }
                for k in kinds
            }
            described.append(item)
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
                "kinds": sorted({found.link.kind for _entry, found in entries} | {subject.kind}),
                "identities": [k for k, _ in resolved.identities],
                "reference": reference,
            },
            "total_records": sum(d["count"] for d in described),
            "nothing_held": not any(d["count"] for d in described),
            "searched": searched,
            "record_types": described,
            "disclosures": _disclosures(disclosures, reference, subject.kind, lang),
        }
        bundle.add_bytes("summary.html", summary_html(manifest))
        bundle.add_bytes(
            "manifest.json",
            orjson.dumps(manifest, default=json_default, option=orjson.OPT_INDENT_2),
        )
        bundle.close()
    except BaseException:
        bundle.close()
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)
        raise
    # The hash is taken of the file this export wrote, before it is published under its name.
    sha = file_sha256(target) if format == "zip" else bundle.files["manifest.json"]["sha256"]
    publish(target, destination, format)
    result = ExportResult(
        path=destination,
        format=format,
        subject_reference=reference,
        generated_at=now,
        counts={d["name"]: d["count"] for d in described},
        redacted={d["name"]: tuple(r["field"] for r in d["redacted"]) for d in described},
        files=tuple(bundle.files),
        sha256=sha,
        searched=tuple(searched),
    )
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
                "nothing_held": result.nothing_held,
                "searched": list(result.searched),
            },
        )
    return result
