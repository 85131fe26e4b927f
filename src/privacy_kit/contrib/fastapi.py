"""FastAPI (and any Starlette app): stream a subject's export, record requests, never block the loop.

The optional extra ``fastapi`` (``pip install 'privacy-kit[fastapi]'``). Three pieces:

- :func:`run_sync` and :class:`AsyncEngine`: the engine's operations are blocking (they read and
  write stores); from an ``async def`` endpoint they run in a worker thread
  (:func:`anyio.to_thread.run_sync`), so the event loop keeps serving other requests.
- :func:`export_response`: an :class:`~privacy_kit.ExportStream` as a ``StreamingResponse``
  (``application/zip``, ``Content-Disposition: attachment``); Starlette reads the stream in its
  thread pool, chunk by chunk, with no file on disk and memory bounded by a batch.
- :func:`privacy_router`: an ``APIRouter`` with ``GET /export`` (the caller's own bundle) and
  ``POST /requests`` (record a data-subject request under the law the policy owes the caller).
  Who the caller is stays the host's business: it passes a dependency that returns the
  authenticated :class:`~privacy_kit.Subject`.

An adapter used from worker threads must allow it: a :class:`~privacy_kit.adapters.SQLiteAdapter`
over ``sqlite3.connect(path, check_same_thread=False)``, a SQLAlchemy engine (its pool), or the
in-memory adapter.

Example:
    >>> import datetime as dt, privacy_kit as pk
    >>> from fastapi import FastAPI
    >>> from fastapi.testclient import TestClient
    >>> from privacy_kit.adapters import InMemoryAdapter
    >>> from privacy_kit.contrib.fastapi import privacy_router
    >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
    >>> mem = InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})
    >>> _ = mem.insert("users", [{"id": 7, "name": "Bo", "email": "bo@example.com"}])
    >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, mem, secret=b"k" * 32,
    ...                    verify=False)
    >>> def current_subject() -> pk.Subject:  # the host's authentication decides
    ...     return pk.Subject.of("customer", user_id=7)
    >>> app = FastAPI()
    >>> app.include_router(privacy_router(engine, subject=current_subject), prefix="/privacy")
    >>> response = TestClient(app).get("/privacy/export")
    >>> response.status_code, response.headers["content-type"]
    (200, 'application/zip')
"""

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any, TypeVar

try:
    import anyio.to_thread
    from fastapi import APIRouter, Depends, HTTPException
    from fastapi.responses import StreamingResponse
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        f"privacy_kit.contrib.fastapi needs FastAPI: pip install 'privacy-kit[fastapi]' ({exc})"
    ) from exc

from pydantic import BaseModel, ConfigDict, Field

from .._errors import PrivacyKitError, SubjectError
from .._scope import Scope, Subject
from ..engine import Engine
from ..retention import RecordFate, RetentionPlan
from ..rights import (
    DataSubjectRequest,
    ErasurePlan,
    ExportResult,
    ExportStream,
    RequestType,
)

__all__ = [
    "AsyncEngine",
    "RequestBody",
    "export_response",
    "privacy_router",
    "run_sync",
]

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
        >>> import anyio, datetime as dt, privacy_kit as pk
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


class RequestBody(BaseModel):
    """What ``POST /requests`` takes: what is asked for, and where the requester lives."""

    model_config = ConfigDict(extra="forbid")

    type: RequestType
    country: str = Field(description="where the requester lives (ISO 3166 alpha-2)")
    by_agent: bool = False


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def privacy_router(
    engine: Engine,
    *,
    subject: Callable[..., Subject],
    save_request: Callable[[DataSubjectRequest], object] | None = None,
    clock: Callable[[], dt.datetime] = _now,
    lang: str = "en",
) -> APIRouter:
    """An ``APIRouter`` with the caller's export and, given ``save_request``, their requests.

    Args:
        engine: the engine.
        subject: a FastAPI dependency returning the authenticated caller as a
            :class:`~privacy_kit.Subject` (the host's authentication: raise
            ``HTTPException(401)`` there for an anonymous caller).
        save_request: where a recorded :class:`~privacy_kit.DataSubjectRequest` is kept (a
            database write, a queue). Without it there is no ``POST /requests`` route, so a
            request is never accepted and then lost.
        clock: the time of each operation (default: the UTC clock).
        lang: language of the bundle's manifest and summary.

    Routes:
        ``GET /export``: the caller's bundle, streamed (200, ``application/zip``).
        ``POST /requests``: a :class:`RequestBody`; the request is recorded under the law the
        policy owes a requester in ``country`` (audited as ``request.received``), handed to
        ``save_request``, and answered 201 with its id, status, jurisdiction, citation and due
        date (422 for a country that is not ISO 3166 or an unknown type).

    A subject the engine cannot resolve (an unknown kind or identity from the host's
    dependency) is a 400 naming the problem.

    Example:
        >>> import privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> mem = InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})
        >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, mem, secret=b"k" * 32,
        ...                    verify=False)
        >>> saved = []
        >>> router = privacy_router(engine, subject=lambda: pk.Subject.of("customer", user_id=7),
        ...                         save_request=saved.append)
        >>> sorted(route.path for route in router.routes)
        ['/export', '/requests']
    """
    router = APIRouter(tags=["privacy"])
    aengine = AsyncEngine(engine)

    @router.get(
        "/export",
        response_class=StreamingResponse,
        responses={200: {"content": {"application/zip": {}}, "description": "the bundle"}},
        summary="Download your data (access, portability)",
    )
    async def download_export(who: Subject = Depends(subject)) -> StreamingResponse:  # noqa: B008 - FastAPI's idiom
        try:
            stream = await aengine.export_stream(who, now=clock(), lang=lang)
        except SubjectError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        return export_response(stream)

    if save_request is None:
        return router
    keep = save_request

    def _record(who: Subject, body: RequestBody) -> DataSubjectRequest:
        request = DataSubjectRequest.for_policy(
            engine.policy,
            body.type,
            who.kind,
            {k: str(v) for k, v in who.identities},
            country=body.country,
            received_at=clock(),
            by_agent=body.by_agent,
            audit=engine.audit,
            subject_ref=engine.reference(who),
        )
        keep(request)
        return request

    @router.post("/requests", status_code=201, summary="Make a data-subject request")
    async def make_request(body: RequestBody, who: Subject = Depends(subject)) -> dict[str, Any]:  # noqa: B008
        try:
            request = await run_sync(_record, who, body)
        except SubjectError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        except (PrivacyKitError, ValueError) as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        due = request.deadline
        return {
            "id": str(request.id),
            "type": request.type.value,
            "status": request.status.value,
            "jurisdiction": request.jurisdiction,
            "citation": request.citation,
            "due_at": None if due is None else due.isoformat(),
            "deadline_basis": request.deadline_basis,
        }

    return router
