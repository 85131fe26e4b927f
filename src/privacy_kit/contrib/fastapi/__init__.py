"""FastAPI (and any Starlette app): a subject's rights behind endpoints that never block the loop.

The optional extra ``fastapi`` (``pip install 'privacy-kit[fastapi]'``). The pieces:

- :func:`run_sync` and :class:`AsyncEngine` (``_threads``): the engine's operations are blocking
  (they read and write stores); from an ``async def`` endpoint they run in a worker thread
  (:func:`anyio.to_thread.run_sync`), so the event loop keeps serving other requests.
- :func:`export_response` (``_threads``): an :class:`~privacy_kit.ExportStream` as a
  ``StreamingResponse`` (``application/zip``, ``Content-Disposition: attachment``); Starlette
  reads the stream in its thread pool, chunk by chunk, with no file on disk and memory bounded
  by a batch.
- :func:`privacy_router` (``_router``): an ``APIRouter`` with ``GET /export`` (the caller's own
  bundle), ``POST /requests`` (a data-subject request recorded under the law the policy owes
  the caller), ``POST /verification`` and ``POST /verification/check`` (a code sent out of band,
  then answered, and the caller's request marked verified), and ``GET /gpc``, every route
  honouring ``Sec-GPC``. Who the caller is stays the host's business: it passes a dependency
  that returns the authenticated :class:`~privacy_kit.Subject`.
- :func:`gpc_dependency` (``_identity``): ``Sec-GPC`` honoured on any route of the app.

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

try:
    import anyio.to_thread  # noqa: F401 - checked here so a missing extra fails with the hint
    import fastapi  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    # ``name`` stays the missing module's, so tools that skip on a missing extra still can.
    raise ImportError(
        f"privacy_kit.contrib.fastapi needs FastAPI: pip install 'privacy-kit[fastapi]' ({exc})",
        name=exc.name,
    ) from exc

from ._identity import ChallengeAnswer, gpc_dependency
from ._router import RequestBody, privacy_router
from ._threads import AsyncEngine, export_response, run_sync

__all__ = [
    "AsyncEngine",
    "ChallengeAnswer",
    "RequestBody",
    "export_response",
    "gpc_dependency",
    "privacy_router",
    "run_sync",
]
