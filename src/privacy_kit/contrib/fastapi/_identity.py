"""Who is asking, and what their browser says: identity verification routes and ``Sec-GPC``.

:func:`add_verification_routes` puts ``POST /verification`` (a code sent to the caller out of
band) and ``POST /verification/check`` (the code answered, and the caller's request marked
verified) on a router; :func:`gpc_dependency` makes the dependency that records a request's
Global Privacy Control signal as the caller's opt-out of sale or sharing where the law or the
policy makes it one. Both work through the engine (:meth:`~privacy_kit.Engine.issue_challenge`,
:meth:`~privacy_kit.Engine.check_challenge`, :meth:`~privacy_kit.Engine.honour_gpc`), which
audits each step.
"""

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from ..._errors import InvalidTransitionError, RequestError, SubjectError, VerificationError
from ..._scope import Subject
from ...engine import Engine
from ...interop.gpc import GpcDecision, gpc_decision, gpc_signal
from ...model._jurisdictions import GLOBAL, governing_jurisdiction
from ...rights import Challenge, DataSubjectRequest
from ._threads import AsyncEngine, run_sync

__all__ = ["ChallengeAnswer", "add_verification_routes", "gpc_dependency", "gpc_view"]


class ChallengeAnswer(BaseModel):
    """What ``POST /verification/check`` takes: the challenge, the code, and the request to mark.

    Example:
        >>> ChallengeAnswer(challenge_id="abc.def", code="042137").request_id is None
        True
    """

    model_config = ConfigDict(extra="forbid")

    challenge_id: str = Field(min_length=1, max_length=2000)
    code: str = Field(min_length=1, max_length=16, description="the code as sent: '042137'")
    request_id: uuid.UUID | None = Field(
        default=None, description="a request of the caller's to mark verified"
    )


def gpc_view(decision: GpcDecision) -> dict[str, Any]:
    """A :class:`~privacy_kit.interop.gpc.GpcDecision` as JSON-ready values.

    Example:
        >>> gpc_view(gpc_decision({"Sec-GPC": "1"}, "ccpa"))["opt_out"]
        True
    """
    return {
        "signal": decision.signal,
        "opt_out": decision.opt_out,
        "jurisdiction": decision.jurisdiction,
        "reason": decision.reason,
        "policy_promise": decision.policy_promise,
        "conflict": decision.conflict,
    }


def gpc_dependency(
    engine: Engine,
    *,
    subject: Callable[..., Subject | None],
    country: Callable[..., str],
    clock: Callable[[], dt.datetime],
) -> Callable[..., Awaitable[GpcDecision | None]]:
    """A FastAPI dependency that honours the request's ``Sec-GPC`` signal for the caller.

    On a request carrying ``Sec-GPC: 1`` from a known caller it runs
    :meth:`Engine.honour_gpc <privacy_kit.Engine.honour_gpc>` in a worker thread (the opt-out
    of sale or sharing recorded and audited once, where the law of ``country`` or the policy
    makes the signal one) and returns the decision. Without the signal it returns the "no
    signal" decision without leaving the event loop; for an anonymous caller (``subject``
    returns ``None``) it returns ``None``: there is nobody to record an opt-out for.

    Args:
        engine: the engine.
        subject: a dependency returning the caller, or ``None`` for an anonymous one (an
            app-wide dependency sees every request, signed in or not).
        country: a dependency returning where the caller lives (ISO 3166: ``US-CA``, ``FR``).
        clock: the time of each operation.

    Example:
        >>> import datetime as dt, privacy_kit as pk
        >>> from fastapi import Depends, FastAPI
        >>> from fastapi.testclient import TestClient
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm,
        ...     InMemoryAdapter({rt.table_name: [] for rt in dm.record_types}), secret=b"k" * 32)
        >>> now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        >>> honour = gpc_dependency(engine, subject=lambda: pk.Subject.of("customer", user_id=7),
        ...                         country=lambda: "US-CA", clock=lambda: now)
        >>> app = FastAPI(dependencies=[Depends(honour)])
        >>> _ = app.get("/")(lambda: {"page": "home"})
        >>> TestClient(app).get("/", headers={"Sec-GPC": "1"}).json()
        {'page': 'home'}
        >>> engine.preferences.may_sell(engine.reference(pk.Subject.of("customer", user_id=7)),
        ...                             now=now).allowed
        False
    """
    aengine = AsyncEngine(engine)

    async def honour(
        request: Request,
        who: Subject | None = Depends(subject),  # noqa: B008 - FastAPI's idiom
        where: str = Depends(country),
    ) -> GpcDecision | None:
        if who is None:
            return None
        headers = request.headers.items()
        if not gpc_signal(headers):
            law = governing_jurisdiction(where)
            return gpc_decision(headers, law or GLOBAL, policy=engine.policy)
        try:
            return await aengine.honour_gpc(who, headers, country=where, now=clock())
        except SubjectError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc

    return honour


def add_verification_routes(
    router: APIRouter,
    engine: Engine,
    *,
    subject: Callable[..., Subject],
    send_code: Callable[[Subject, Challenge], object],
    find_request: Callable[[uuid.UUID], DataSubjectRequest | None] | None,
    save_request: Callable[[DataSubjectRequest], object] | None,
    code_proves: str,
    clock: Callable[[], dt.datetime],
) -> None:
    """Add ``POST /verification`` and ``POST /verification/check`` to ``router``.

    The arguments are :func:`~privacy_kit.contrib.fastapi.privacy_router`'s, which calls this.
    """
    aengine = AsyncEngine(engine)

    @router.post("/verification", status_code=201, summary="Send me a verification code")
    async def issue(who: Subject = Depends(subject)) -> dict[str, Any]:  # noqa: B008
        try:
            challenge = await aengine.issue_challenge(who, now=clock())
        except SubjectError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        # The code goes to the subject out of band and never into the response.
        await run_sync(send_code, who, challenge)
        return {
            "challenge_id": challenge.challenge_id,
            "expires_at": challenge.expires_at.isoformat(),
        }

    def _answer(who: Subject, body: ChallengeAnswer) -> dict[str, Any]:
        request: DataSubjectRequest | None = None
        ref = engine.reference(who)
        if body.request_id is not None:
            if find_request is None or save_request is None:
                raise HTTPException(
                    status_code=422,
                    detail="request_id given, but this service marks no request verified here "
                    "(privacy_router needs find_request and save_request)",
                )
            # Found before the code is checked, so a wrong id does not use the code up.
            request = find_request(body.request_id)
            if request is None or request.subject_ref != ref:
                raise HTTPException(
                    status_code=404, detail=f"no request {body.request_id} of yours"
                )
        now = clock()
        try:
            engine.check_challenge(who, body.challenge_id, body.code, now=now)
        except VerificationError as exc:
            raise HTTPException(status_code=403, detail=str(exc)) from exc
        answer: dict[str, Any] = {"verified": True, "subject_reference": ref, "request": None}
        if request is None or save_request is None:
            return answer
        try:
            request = request.verify(now=now, pieces=[code_proves], audit=engine.audit)
        except InvalidTransitionError as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from exc
        except RequestError as exc:  # the policy's identity rules ask for more than a code
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        save_request(request)
        answer["request"] = {"id": str(request.id), "status": request.status.value}
        return answer

    @router.post("/verification/check", summary="Answer a verification code")
    async def check(body: ChallengeAnswer, who: Subject = Depends(subject)) -> dict[str, Any]:  # noqa: B008
        try:
            return await run_sync(_answer, who, body)
        except SubjectError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
