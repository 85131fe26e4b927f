"""An export as a value: :class:`ExportJob`, which a queue can carry to another process.

``engine.export_job(subject, destination, now=...)`` checks the options and records the policy
version and data-map digest; ``job.to_json()`` / ``ExportJob.from_json(text)`` carry it across
processes; ``engine.apply(job)`` writes the bundle (refused under another policy version or data
map), exactly as :meth:`Engine.export <privacy_kit.Engine.export>` would have.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Literal

import attrs

from .._scope import Subject
from .._types import require_aware
from ..retention._plan_codec import (
    Reader,
    instant_to_data,
    open_document,
    value_to_json,
    write_document,
)
from ._export import RECORD_FORMATS, export_options

__all__ = ["ExportJob", "subject_from", "subject_to_data"]


def subject_to_data(subject: Subject, where: str = "subject") -> dict[str, Any]:
    """``subject`` as JSON-able data: its kind and identities (:func:`subject_from` reads it).

    Raises:
        ConfigurationError: an identity value JSON cannot carry.
    """
    return {
        "kind": subject.kind,
        "identities": [
            [name, value_to_json(value, f"{where}.identities.{name}")]
            for name, value in subject.identities
        ],
    }


def subject_from(who: Reader) -> Subject:
    """The subject :func:`subject_to_data` wrote (``PlanFormatError`` naming the field)."""
    identities = {}
    for i, (name, value) in enumerate(who.pairs("identities")):
        pair = Reader({"name": name, "value": value}, f"{who.at('identities')}[{i}]")
        identities[pair.text("name")] = pair.value("value")
    return Subject(who.text("kind"), identities)


def _names(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


@attrs.frozen(kw_only=True)
class ExportJob:
    """A subject's export, planned: what :meth:`Engine.apply <privacy_kit.Engine.apply>` writes.

    Attributes:
        subject: the data subject (kind and identities: the document holds them, so keep it as
            you keep the request itself).
        destination: the zip file or folder to create (relative paths are the applying
            process's); nothing is overwritten.
        now: the time of the export (written in the manifest).
        format: ``"zip"`` or ``"folder"``.
        formats: the record files to write (``json``, ``ndjson``, ``csv``).
        batch_size: records read per round trip.
        lang: language of the manifest's texts.
        compression_level: the zip's deflate level (``None``: the default).
        policy_version: the policy version it was made under (applying under another is refused).
        datamap_digest: the data map's digest it was made under (likewise).
        parts: for an export collected store by store (:meth:`Engine.collect_export_part
            <privacy_kit.Engine.collect_export_part>`), the folder every worker shares where
            each store's part is written; ``None``: the job is written in one go.
        stores: the stores that hold the subject's records, one part each (with ``parts``).

    Raises:
        ConfigurationError: an unknown format, a bad batch size or compression level.
        NaiveDatetimeError: ``now`` without a timezone.

    Example:
        >>> import datetime as dt, privacy_kit as pk
        >>> job = pk.ExportJob(subject=pk.Subject.of("customer", user_id=7), destination="out.zip",
        ...                    now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC), policy_version="1",
        ...                    datamap_digest="0" * 64)
        >>> pk.ExportJob.from_json(job.to_json()) == job
        True
    """

    subject: Subject
    destination: str = attrs.field(converter=str)
    now: dt.datetime
    format: Literal["zip", "folder"] = "zip"
    formats: tuple[str, ...] = attrs.field(default=RECORD_FORMATS, converter=_names)
    batch_size: int = 1000
    lang: str = "en"
    compression_level: int | None = None
    policy_version: str | None = None
    datamap_digest: str | None = None
    parts: str | None = None
    stores: tuple[str, ...] = attrs.field(default=(), converter=_names)

    def __attrs_post_init__(self) -> None:
        require_aware(self.now)
        export_options(self.format, self.batch_size, self.compression_level, self.formats)

    def to_json(self) -> str:
        """The job as a JSON document (:meth:`from_json` reads it back, in any process).

        Raises:
            ConfigurationError: no policy version or data-map digest (not made by an engine), or
                an identity value JSON cannot carry.
        """
        body = {
            "subject": subject_to_data(self.subject, "plan.subject"),
            "destination": self.destination,
            "now": instant_to_data(self.now),
            "format": self.format,
            "formats": list(self.formats),
            "batch_size": self.batch_size,
            "lang": self.lang,
            "compression_level": self.compression_level,
            "parts": self.parts,
            "stores": list(self.stores),
        }
        return write_document(
            "export", body, policy_version=self.policy_version, digest=self.datamap_digest
        )

    @classmethod
    def from_json(cls, data: str | bytes | bytearray | memoryview) -> ExportJob:
        """Load a job written by :meth:`to_json`.

        Raises:
            PlanFormatError: the document is corrupt or truncated (the error names where), of
                another kind, or of a newer format version.
        """
        head, r = open_document(data, "export")
        subject = subject_from(r.obj("subject"))
        fmt = r.text("format")
        if fmt not in ("zip", "folder"):
            r.fail("format", f"expected 'zip' or 'folder', got {fmt!r}")
        level = r.raw("compression_level")
        # "parts" and "stores" came later: a job written before them is written in one go
        parts = r.opt_text("parts") if "parts" in r.data else None
        stores = r.texts("stores") if "stores" in r.data else ()
        return r.build(
            "plan",
            lambda: cls(
                subject=subject,
                destination=r.text("destination"),
                now=r.instant("now"),
                format="zip" if fmt == "zip" else "folder",
                formats=r.texts("formats"),
                batch_size=r.integer("batch_size"),
                lang=r.text("lang"),
                compression_level=None if level is None else r.integer("compression_level"),
                policy_version=head.text("policy_version"),
                datamap_digest=head.text("datamap_digest"),
                parts=parts,
                stores=stores,
            ),
        )
