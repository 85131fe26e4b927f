"""The engine's blocking work off the event loop, and an export as a streamed download.

:func:`run_sync` and :class:`AsyncEngine` run the engine's operations (which read and write
stores) in a worker thread (:func:`anyio.to_thread.run_sync`), so the event loop keeps serving
other requests; :func:`export_response` wraps an :class:`~privacy_kit.ExportStream` in a
``StreamingResponse``.
"""

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
from fastapi.responses import StreamingResponse

from ..._errors import PrivacyKitError
from ..._scope import Scope, Subject
from ...engine import Engine
from ...interop.gpc import GpcDecision
from ...retention import RecordFate, RetentionPlan
from ...rights import Challenge, ErasurePlan, ExportResult, ExportStream

__all__ = ["AsyncEngine", "export_response", "run_sync"]

T = TypeVar("T")


async def run_sync(func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Call the blocking ``func(*args, **kwargs)`` in a worker thread and await its result.

    Example:
        >>> import anyio
        >>> anyio.run(run_sync, sorted, [3, 1, 2])
        [1, 2, 3]
    """
    return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs))


class AsyncEngine:
    """An :class:`~privacy_kit.Engine`'s blocking operations as coroutines (each in a thread).

    The arguments are the engine's; ``await aengine.plan_erasure(subject, now=now)`` is
    ``engine.plan_erasure(subject, now=now)`` without blocking the event loop.

    Example:
        >>> import anyio, datetime as dt, functools, privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> mem = InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})
        >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, mem, secret=b"k" * 32,
        ...                    verify=False)
        >>> plan = anyio.run(functools.partial(AsyncEngine(engine).plan_erasure,
        ...     pk.Subject.of("customer", user_id=7), now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)))
        >>> plan.nothing_held
        True
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def scope(self, subject: Subject) -> Scope:
        """:meth:`Engine.scope <privacy_kit.Engine.scope>` in a thread."""
        return await run_sync(self.engine.scope, subject)

    async def reference(self, subject: Subject) -> str:
        """:meth:`Engine.reference <privacy_kit.Engine.reference>` in a thread."""
        return await run_sync(self.engine.reference, subject)

    async def export(self, *args: Any, **kwargs: Any) -> ExportResult:
        """:meth:`Engine.export <privacy_kit.Engine.export>` in a thread."""
        return await run_sync(self.engine.export, *args, **kwargs)

    async def export_stream(self, *args: Any, **kwargs: Any) -> ExportStream:
        """:meth:`Engine.export_stream <privacy_kit.Engine.export_stream>` in a thread (the
        subject is resolved there; the records are read as the stream is iterated)."""
        return await run_sync(self.engine.export_stream, *args, **kwargs)

    async def plan_erasure(self, *args: Any, **kwargs: Any) -> ErasurePlan:
        """:meth:`Engine.plan_erasure <privacy_kit.Engine.plan_erasure>` in a thread."""
        return await run_sync(self.engine.plan_erasure, *args, **kwargs)

    async def plan_retention(self, *args: Any, **kwargs: Any) -> RetentionPlan:
        """:meth:`Engine.plan_retention <privacy_kit.Engine.plan_retention>` in a thread."""
        return await run_sync(self.engine.plan_retention, *args, **kwargs)

    async def apply(self, *args: Any, **kwargs: Any) -> Any:
        """:meth:`Engine.apply <privacy_kit.Engine.apply>` in a thread."""
        return await run_sync(self.engine.apply, *args, **kwargs)

    async def rectify(self, *args: Any, **kwargs: Any) -> int:
        """:meth:`Engine.rectify <privacy_kit.Engine.rectify>` in a thread."""
        return await run_sync(self.engine.rectify, *args, **kwargs)

    async def fate(self, *args: Any, **kwargs: Any) -> RecordFate:
        """:meth:`Engine.fate <privacy_kit.Engine.fate>` in a thread."""
        return await run_sync(self.engine.fate, *args, **kwargs)

    async def issue_challenge(self, *args: Any, **kwargs: Any) -> Challenge:
        """:meth:`Engine.issue_challenge <privacy_kit.Engine.issue_challenge>` in a thread."""
        return await run_sync(self.engine.issue_challenge, *args, **kwargs)

    async def check_challenge(self, *args: Any, **kwargs: Any) -> str:
        """:meth:`Engine.check_challenge <privacy_kit.Engine.check_challenge>` in a thread."""
        return await run_sync(self.engine.check_challenge, *args, **kwargs)

    async def honour_gpc(self, *args: Any, **kwargs: Any) -> GpcDecision:
        """:meth:`Engine.honour_gpc <privacy_kit.Engine.honour_gpc>` in a thread."""
        return await run_sync(self.engine.honour_gpc, *args, **kwargs)


def export_response(stream: ExportStream, *, filename: str | None = None) -> StreamingResponse:
    """``stream`` as a download: ``application/zip``, ``Content-Disposition: attachment``.

    Starlette iterates the stream in its thread pool, so reading the stores never blocks the
    event loop. If the export fails part-way the response is cut short (the client gets no
    readable zip) and nothing is audited as done.

    Example:
        >>> import datetime as dt, privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> mem = InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})
        >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, mem, secret=b"k" * 32,
        ...                    verify=False)
        >>> stream = engine.export_stream(pk.Subject.of("customer", user_id=7),
        ...                               now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        >>> export_response(stream, filename="mine.zip").headers["content-disposition"]
        'attachment; filename="mine.zip"'
    """
    name = filename if filename is not None else stream.filename
    if not name or any(c in name for c in '"\\/\r\n') or not name.isascii():
        raise PrivacyKitError(f"refusing the download name {name!r}: use plain ASCII, no quotes")
    return StreamingResponse(
        stream,
        media_type=stream.media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
