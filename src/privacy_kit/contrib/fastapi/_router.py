"""The router: a caller's export, requests, identity verification and ``Sec-GPC``, behind FastAPI.

Who the caller is stays the host's business: it passes a dependency that returns the
authenticated :class:`~privacy_kit.Subject`. Each route is there only when the host gives what it
needs (a place to keep requests, a way to send a code, where the caller lives), so nothing is
accepted and then dropped.
"""

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ..._errors import ConfigurationError, PrivacyKitError, SubjectError
from ..._scope import Subject
from ...engine import Engine
from ...interop.gpc import GpcDecision
from ...rights import Challenge, DataSubjectRequest, Decision, RequestType
from ._identity import add_verification_routes, gpc_dependency, gpc_view
from ._threads import AsyncEngine, export_response, run_sync

__all__ = ["RequestBody", "privacy_router"]


class RequestBody(BaseModel):
    """What ``POST /requests`` takes: what is asked for, and where the requester lives.

    Example:
        >>> RequestBody(type="erasure", country="FR").by_agent
        False
    """

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
    find_request: Callable[[uuid.UUID], DataSubjectRequest | None] | None = None,
    send_code: Callable[[Subject, Challenge], object] | None = None,
    code_proves: str = "email",
    country: Callable[..., str] | None = None,
    clock: Callable[[], dt.datetime] = _now,
    lang: str = "en",
) -> APIRouter:
    """An ``APIRouter`` with the caller's export and, given what each needs, their requests,
    identity verification and Global Privacy Control.

    Args:
        engine: the engine.
        subject: a FastAPI dependency returning the authenticated caller as a
            :class:`~privacy_kit.Subject` (the host's authentication: raise
            ``HTTPException(401)`` there for an anonymous caller).
        save_request: where a recorded :class:`~privacy_kit.DataSubjectRequest` is kept (a
            database write, a queue); called again with the same ``id`` when the request
            changes (verified), so it must replace. Without it there is no ``POST /requests``
            route, so a request is never accepted and then lost.
        find_request: the kept request with an id, or ``None``; with ``save_request``, lets
            ``POST /verification/check`` mark the caller's request verified.
        send_code: how a verification code reaches the caller (an e-mail or text message to
            what you hold for them): called with the subject and the
            :class:`~privacy_kit.Challenge`. Without it there are no verification routes.
        code_proves: the piece of information a right code proves (the address the code was
            sent to), checked against the policy's ``requests.identity`` rules.
        country: a dependency returning where the caller lives (ISO 3166: ``US-CA``, ``FR``).
            With it, every route of the router honours ``Sec-GPC`` (:func:`gpc_dependency`) and
            ``GET /gpc`` says what the signal meant.
        clock: the time of each operation (default: the UTC clock).
        lang: language of the bundle's manifest and summary.

    Routes:
        ``GET /export``: the caller's bundle, streamed (200, ``application/zip``).
        ``POST /requests``: a :class:`RequestBody`; the request is recorded under the law the
        policy owes a requester in ``country`` (audited as ``request.received``), handed to
        ``save_request``, and answered 201 with its id, status, jurisdiction, citation and due
        date (422 for a country that is not ISO 3166 or an unknown type).
        ``POST /verification``: a code is issued (``verification.issued``) and sent through
        ``send_code``; 201 with the ``challenge_id`` and ``expires_at`` (never the code).
        ``POST /verification/check``: a :class:`ChallengeAnswer`; 200 when the code is right
        (``verification.passed``), 403 saying why when not (``wrong`` with the attempts left,
        ``expired``, ``locked``, ``reused``, ``tampered``, ``mismatch``). With ``request_id``,
        the caller's request is moved to ``verified`` (under the policy's identity rules: 422
        naming what is missing; 409 if it is not awaiting verification) and saved.
        ``GET /gpc``: the caller's ``Sec-GPC`` decision and whether sale or sharing is allowed.

    A subject the engine cannot resolve (an unknown kind or identity from the host's
    dependency) is a 400 naming the problem.

    Raises:
        ConfigurationError: ``find_request`` without ``save_request``.

    Example:
        >>> import privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> mem = InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})
        >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, mem, secret=b"k" * 32,
        ...                    verify=False)
        >>> saved, sent = [], []
        >>> router = privacy_router(engine, subject=lambda: pk.Subject.of("customer", user_id=7),
        ...                         save_request=saved.append,
        ...                         send_code=lambda who, challenge: sent.append(challenge),
        ...                         country=lambda: "US-CA")
        >>> sorted(route.path for route in router.routes)
        ['/export', '/gpc', '/requests', '/verification', '/verification/check']
    """
    if find_request is not None and save_request is None:
        raise ConfigurationError(
            "privacy_router: find_request without save_request: a request marked verified "
            "would not be kept; pass save_request too"
        )
    honour = (
        None
        if country is None
        else gpc_dependency(engine, subject=subject, country=country, clock=clock)
    )
    router = APIRouter(tags=["privacy"], dependencies=[] if honour is None else [Depends(honour)])
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

    if honour is not None:
        gpc_of = honour

        @router.get("/gpc", summary="What your browser's Global Privacy Control signal meant")
        async def gpc(
            decision: GpcDecision | None = Depends(gpc_of),  # noqa: B008
            who: Subject = Depends(subject),  # noqa: B008
        ) -> dict[str, Any]:
            if decision is None:  # the host's subject dependency let an anonymous caller in
                raise HTTPException(status_code=401, detail="no caller to answer for")
            sale = await run_sync(_may_sell, who)
            return {**gpc_view(decision), "sale_allowed": sale.allowed, "sale": sale.reason}

        def _may_sell(who: Subject) -> Decision:
            return engine.preferences.may_sell(engine.reference(who), now=clock())

    if send_code is not None:
        add_verification_routes(
            router,
            engine,
            subject=subject,
            send_code=send_code,
            find_request=find_request,
            save_request=save_request,
            code_proves=code_proves,
            clock=clock,
        )

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
