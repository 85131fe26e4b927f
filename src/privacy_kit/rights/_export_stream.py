"""An export as an iterator of byte chunks: a zip made while it is read, with no file on disk.

:func:`iter_export` checks its arguments and finds the subject's entries at once (so a bad
argument fails before a response starts), then returns an :class:`ExportStream`: iterating it
writes the bundle, handing on the zip's bytes as they are made (a chunk after each piece of a
member). Memory stays bounded: records are read in batches into temporary files that spill to
disk, and each chunk is at most one piece of a member (64 KiB of input) compressed. A web
framework streams it as the response body (``StreamingResponse(stream)`` in Starlette/FastAPI,
a ``StreamingHttpResponse`` in Django, a WSGI body).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Literal

from .._errors import PlanError
from .._scope import Scope
from ..audit._log import AuditLog
from ..lifecycle._disclosures import DisclosureLog
from ..model._policy import Policy
from ._bundle import Bundle, StreamSink
from ._export import RECORD_FORMATS, ExportResult, PreparedExport

__all__ = ["ExportStream", "iter_export"]

MEDIA_TYPE = "application/zip"


class ExportStream:
    """A subject's export bundle (a zip) as an iterator of ``bytes`` chunks, made as it is read.

    Iterate it once, to the end: then :attr:`result` holds the :class:`ExportResult` (counts,
    and the SHA-256 and size of every byte yielded) and ``export.completed`` is audited. A
    consumer that stops early (a client that disconnects) leaves :attr:`result` ``None`` and
    nothing audited: what it received is not a readable zip (the central directory comes
    last). An error while writing is raised from the iteration, never reported as done.

    Attributes:
        media_type: ``"application/zip"``.
        filename: a file name for the download (``export-<reference>.zip``).

    Example:
        >>> import datetime as dt, io, zipfile, privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> mem = InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})
        >>> _ = mem.insert("users", [{"id": 7, "name": "Bo", "email": "bo@example.com"}])
        >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, mem, verify=False)
        >>> stream = engine.export_stream(pk.Subject.of("customer", user_id=7),
        ...                               now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        >>> data = b"".join(stream)
        >>> stream.result.counts["users"], stream.result.size == len(data)
        (1, True)
        >>> "records/users.json" in zipfile.ZipFile(io.BytesIO(data)).namelist()
        True
    """

    media_type = MEDIA_TYPE

    def __init__(self, job: PreparedExport) -> None:
        self._job = job
        self._started = False
        self.result: ExportResult | None = None
        self.filename = f"export-{job.scope.reference}.zip"

    def __iter__(self) -> Iterator[bytes]:
        if self._started:
            raise PlanError("an ExportStream can be read once; make another for a new copy")
        self._started = True
        return self._chunks()

    def _chunks(self) -> Iterator[bytes]:
        pending: list[bytes] = []
        sink = StreamSink(pending.append)
        bundle = Bundle(sink, "zip", compression_level=self._job.level)
        try:
            for _ in self._job.write(bundle):
                if pending:
                    chunk = b"".join(pending)
                    pending.clear()
                    yield chunk
            bundle.close()
        except BaseException:
            # Failed or abandoned (GeneratorExit): the zip is never finished or reported.
            sink.abort()
            bundle.close()
            raise
        if pending:
            chunk = b"".join(pending)
            pending.clear()
            yield chunk
        # Only once the consumer has taken the last chunk is the export done.
        self.result = self._job.finish(bundle, path=None, sha256=sink.sha256, size=sink.size)

    def __repr__(self) -> str:
        state = "done" if self.result is not None else "read" if self._started else "not read"
        return f"<ExportStream {self.filename} ({state})>"


def iter_export(
    scope: Scope,
    *,
    policy: Policy,
    now: dt.datetime,
    audit: AuditLog | None = None,
    disclosures: DisclosureLog | None = None,
    batch_size: int = 1000,
    lang: str = "en",
    formats: Sequence[str] = RECORD_FORMATS,
    compression_level: int | None = None,
) -> ExportStream:
    """``subject``'s export bundle as an iterator of zip bytes (see :class:`ExportStream`).

    The arguments are those of :func:`~privacy_kit.rights.export_subject` (a zip only, so no
    ``destination`` or ``format``); ``engine.export_stream(subject, now=...)`` resolves the
    subject and calls this.

    Raises:
        ConfigurationError: a bad batch size, record format or compression level (at once,
            before anything is read).
        ValueError: ``now`` is naive.

    Example:
        >>> import datetime as dt, privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> mem = InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})
        >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, mem, verify=False)
        >>> scope = engine.scope(pk.Subject.of("customer", user_id=8))
        >>> stream = iter_export(scope, policy=engine.policy, now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        >>> sum(map(len, stream)) == stream.result.size, stream.result.nothing_held
        (True, True)
    """
    format_: Literal["zip"] = "zip"
    job = PreparedExport.prepare(
        scope,
        policy=policy,
        now=now,
        audit=audit,
        disclosures=disclosures,
        format=format_,
        batch_size=batch_size,
        lang=lang,
        formats=formats,
        compression_level=compression_level,
    )
    return ExportStream(job)
