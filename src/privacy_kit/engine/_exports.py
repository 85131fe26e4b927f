"""The engine's access and portability methods: a subject's bundle to a path, a stream or chunks.

:class:`Exports` is a base of :class:`~privacy_kit.Engine`. Each method resolves the subject once
(every role the person has, for an export) and hands the scope to :mod:`privacy_kit.rights`
(:func:`~privacy_kit.rights.export_subject`, :func:`~privacy_kit.rights.iter_export`) with the
policy, the audit log and the disclosure log.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from ..model._policy import Policy
from ._collaborators import Collaborators
from ._resolve import SubjectResolver

if TYPE_CHECKING:  # pragma: no cover - for type checkers only (imported on use)
    from .._scope import Subject
    from ..lifecycle._disclosures import DisclosureLog
    from ..rights._export import BinaryDestination, ExportResult
    from ..rights._export_stream import ExportStream

__all__ = ["Exports"]


class Exports(Collaborators):
    """``export`` and ``export_stream`` (a base of the Engine)."""

    policy: Policy
    disclosures: DisclosureLog | None
    _resolver: SubjectResolver

    def export(
        self,
        subject: Subject,
        destination: str | os.PathLike[str] | BinaryDestination,
        *,
        now: datetime.datetime,
        format: Literal["zip", "folder"] = "zip",  # noqa: A002 - the name users expect
        batch_size: int = 1000,
        lang: str = "en",
        formats: Iterable[str] = ("json", "ndjson", "csv"),
        compression_level: int | None = None,
    ) -> ExportResult:
        """Write ``subject``'s data as a portable bundle (access, portability).

        ``destination`` is a path (a zip file or a folder, published only when complete) or
        a writable binary stream (any object with ``write``: the zip is written to it as it is
        made). See :func:`privacy_kit.rights.export_subject` (arguments, bundle layout,
        redaction, what a failure leaves behind).

        Raises:
            WrongTypeError: ``destination`` is neither a path nor a writable binary stream.
            ConfigurationError: a bad argument, a destination that exists, a closed stream.

        Example:
            >>> import datetime as dt, io, tempfile, pathlib, privacy_kit as pk
            >>> from privacy_kit.adapters import InMemoryAdapter
            >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> mem = InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})
            >>> _ = mem.insert("users", [{"id": 7, "name": "Bo", "email": "bo@example.com"}])
            >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, mem, verify=False)
            >>> out = pathlib.Path(tempfile.mkdtemp()) / "bo"
            >>> engine.export(pk.Subject.of("customer", user_id=7), out, format="folder",
            ...               now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)).counts["users"]
            1
            >>> buffer = io.BytesIO()
            >>> result = engine.export(pk.Subject.of("customer", user_id=7), buffer,
            ...                        now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
            >>> result.path is None, result.size == len(buffer.getvalue())
            (True, True)
        """
        from ..rights._export import export_subject  # noqa: PLC0415 - on use

        return export_subject(
            self._resolver.scope(subject, every_role=True),
            destination,
            now=now,
            format=format,
            batch_size=batch_size,
            lang=lang,
            formats=tuple(formats),
            compression_level=compression_level,
            policy=self.policy,
            audit=self.audit,
            disclosures=self.disclosures,
        )

    def export_stream(
        self,
        subject: Subject,
        *,
        now: datetime.datetime,
        batch_size: int = 1000,
        lang: str = "en",
        formats: Iterable[str] = ("json", "ndjson", "csv"),
        compression_level: int | None = None,
    ) -> ExportStream:
        """``subject``'s bundle as an iterator of zip bytes, made as it is read (no file).

        The subject is resolved and the arguments checked now; the records are read while the
        stream is iterated. Hand it to a streaming response (``StreamingResponse(stream,
        media_type=stream.media_type)``); after the last chunk ``stream.result`` holds the
        :class:`~privacy_kit.ExportResult` and ``export.completed`` is audited. See
        :class:`privacy_kit.rights.ExportStream`.

        Raises:
            SubjectError: an unknown kind or identity (before anything is read).
            ConfigurationError: a bad argument.

        Example:
            >>> import datetime as dt, privacy_kit as pk
            >>> from privacy_kit.adapters import InMemoryAdapter
            >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> mem = InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})
            >>> _ = mem.insert("users", [{"id": 7, "name": "Bo", "email": "bo@example.com"}])
            >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, mem, verify=False)
            >>> stream = engine.export_stream(pk.Subject.of("customer", user_id=7),
            ...                               now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
            >>> chunks = list(stream)
            >>> stream.result.total, stream.media_type
            (1, 'application/zip')
        """
        from ..rights._export_stream import iter_export  # noqa: PLC0415 - on use

        return iter_export(
            self._resolver.scope(subject, every_role=True),
            now=now,
            batch_size=batch_size,
            lang=lang,
            formats=tuple(formats),
            compression_level=compression_level,
            policy=self.policy,
            audit=self.audit,
            disclosures=self.disclosures,
        )
