"""Import and export of OpenDSR 2.0 (formerly OpenGDPR) request, response and status JSON.

OpenDSR is how controllers and processors exchange data-subject requests. It knows three
request types (``access``, ``portability``, ``erasure``), four statuses (``pending``,
``in_progress``, ``completed``, ``cancelled``) and two regulations (``gdpr``, ``ccpa``).
:func:`parse_request` validates a request body; :func:`to_request` and :func:`from_request`
convert between it and a :class:`~privacy_kit.DataSubjectRequest`; :func:`make_response` and
:func:`status_response` build the processor's answers.

Statuses map both ways (:data:`TO_OPENDSR_STATUS`, :data:`FROM_OPENDSR_STATUS`): ``received``
and ``verified`` are ``pending``; a ``refused`` request is reported as ``cancelled``, the only
OpenDSR status that says it will not be fulfilled. ``uk_gdpr`` is exported as ``gdpr``.
Identities in a hashed format keep their format in the identity key (``email:sha256``).

Identities are personal data: do not log the bodies (the spec says the same of
``encoded_request``).
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any, Literal

import orjson
from pydantic import UUID4, AwareDatetime, Field, ValidationError, model_validator

from .._errors import RequestError
from .._types import Model, require_aware
from ..rights._request_states import RequestStatus, RequestType
from ..rights._requests import DataSubjectRequest

__all__ = [
    "FROM_OPENDSR_STATUS",
    "TO_OPENDSR_STATUS",
    "OpenDSRIdentity",
    "OpenDSRRequest",
    "OpenDSRResponse",
    "OpenDSRStatus",
    "from_request",
    "make_response",
    "new_request_id",
    "parse_request",
    "parse_response",
    "parse_status",
    "status_response",
    "to_request",
]

OpenDSRType = Literal["access", "portability", "erasure"]
OpenDSRStatusValue = Literal["pending", "in_progress", "completed", "cancelled"]
IdentityFormat = Literal["raw", "sha1", "md5", "sha256"]

#: privacy_kit status -> OpenDSR status.
TO_OPENDSR_STATUS: Mapping[RequestStatus, OpenDSRStatusValue] = {
    RequestStatus.RECEIVED: "pending",
    RequestStatus.VERIFIED: "pending",
    RequestStatus.IN_PROGRESS: "in_progress",
    RequestStatus.COMPLETED: "completed",
    RequestStatus.REFUSED: "cancelled",
    RequestStatus.CANCELLED: "cancelled",
}
#: OpenDSR status -> privacy_kit status.
FROM_OPENDSR_STATUS: Mapping[str, RequestStatus] = {
    "pending": RequestStatus.RECEIVED,
    "in_progress": RequestStatus.IN_PROGRESS,
    "completed": RequestStatus.COMPLETED,
    "cancelled": RequestStatus.CANCELLED,
}
_REGULATION = {"gdpr": "gdpr", "uk_gdpr": "gdpr", "ccpa": "ccpa"}


class OpenDSRIdentity(Model):
    """One identity of the subject (``identity_type`` such as ``email``, ``controller_customer_id``)."""

    identity_type: str = Field(min_length=1)
    identity_value: str = Field(min_length=1)
    identity_format: IdentityFormat


class OpenDSRRequest(Model):
    """An OpenDSR request body.

    Example:
        >>> body = {"subject_request_id": "a7551968-d5d6-44b2-9831-815ac9017798",
        ...         "regulation": "gdpr", "subject_request_type": "erasure",
        ...         "submitted_time": "2018-10-02T15:00:00Z",
        ...         "subject_identities": [{"identity_type": "email",
        ...             "identity_value": "johndoe@example.com", "identity_format": "raw"}]}
        >>> parse_request(body).to_dict() == body
        True
    """

    subject_request_id: UUID4
    regulation: Literal["gdpr", "ccpa"]
    subject_request_type: OpenDSRType
    submitted_time: AwareDatetime
    subject_identities: tuple[OpenDSRIdentity, ...] = ()
    api_version: str | None = None
    status_callback_urls: tuple[str, ...] | None = None
    extensions: dict[str, dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _identities_present(self) -> OpenDSRRequest:
        if not self.subject_identities and not self.extensions:
            raise ValueError("subject_identities is required unless identities are in extensions")
        return self

    def to_dict(self) -> dict[str, Any]:
        """The JSON object (absent optional fields are left out, as received)."""
        return self.model_dump(mode="json", exclude_none=True)

    def to_json(self) -> bytes:
        """The JSON body."""
        return orjson.dumps(self.to_dict())


class OpenDSRResponse(Model):
    """A processor's answer to a new request (HTTP 201)."""

    controller_id: str = Field(min_length=1)
    expected_completion_time: AwareDatetime
    received_time: AwareDatetime
    encoded_request: str
    subject_request_id: UUID4
    processor_signature: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object."""
        return self.model_dump(mode="json", exclude_none=True)


class OpenDSRStatus(Model):
    """A processor's status answer or callback body."""

    controller_id: str = Field(min_length=1)
    expected_completion_time: AwareDatetime
    subject_request_id: UUID4
    request_status: OpenDSRStatusValue
    api_version: str | None = None
    results_url: str | None = None
    results_count: int | None = Field(default=None, ge=0)
    status_callback_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object."""
        return self.model_dump(mode="json", exclude_none=True)


def _load(data: bytes | str | Mapping[str, Any], what: str) -> Any:
    if isinstance(data, Mapping):
        return dict(data)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"{what}: not valid JSON ({exc})") from None


def _validate(model: type[Model], data: Any, what: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '<body>'}: {e['msg']}" for e in exc.errors()
        )
        raise RequestError(f"{what}: {problems}") from None


def parse_request(data: bytes | str | Mapping[str, Any]) -> OpenDSRRequest:
    """Validate an OpenDSR request body (JSON text or a mapping).

    Raises:
        RequestError: not JSON, or naming each missing or invalid field.

    Example:
        >>> parse_request({"regulation": "lgpd"})
        Traceback (most recent call last):
        ...
        privacy_kit._errors.RequestError: OpenDSR request: subject_request_id: Field required; regulation: Input should be 'gdpr' or 'ccpa'; subject_request_type: Field required; submitted_time: Field required
    """
    result: OpenDSRRequest = _validate(
        OpenDSRRequest, _load(data, "OpenDSR request"), "OpenDSR request"
    )
    return result


def _identity_key(identity: OpenDSRIdentity) -> str:
    if identity.identity_format == "raw":
        return identity.identity_type
    return f"{identity.identity_type}:{identity.identity_format}"


def to_request(
    request: OpenDSRRequest | bytes | str | Mapping[str, Any],
    *,
    subject_kind: str,
    received_at: dt.datetime | None = None,
    jurisdiction: str | None = None,
) -> DataSubjectRequest:
    """A :class:`~privacy_kit.DataSubjectRequest` from an OpenDSR request.

    Args:
        request: the body, parsed or not.
        subject_kind: which kind of subject the identities name (``customer``, ``end_user``).
        received_at: when the controller received it (default: ``submitted_time``).
        jurisdiction: override the jurisdiction (default: the ``regulation``; e.g. ``uk_gdpr``).

    Raises:
        RequestError: an invalid body, two identities with the same type and format, or a time
            so close to the year 9999 that the request's deadline cannot be computed.

    Example:
        >>> body = {"subject_request_id": "a7551968-d5d6-44b2-9831-815ac9017798",
        ...         "regulation": "gdpr", "subject_request_type": "erasure",
        ...         "submitted_time": "9999-12-30T00:00:00Z",
        ...         "subject_identities": [{"identity_type": "email",
        ...             "identity_value": "johndoe@example.com", "identity_format": "raw"}]}
        >>> to_request(body, subject_kind="customer")
        Traceback (most recent call last):
        ...
        privacy_kit._errors.RequestError: invalid data-subject request: received at 9999-12-30T00:00:00+00:00: the request's deadline falls after the year 9999, which no date can hold
    """
    parsed = request if isinstance(request, OpenDSRRequest) else parse_request(request)
    identities: dict[str, str] = {}
    for identity in parsed.subject_identities:
        key = _identity_key(identity)
        if key in identities:
            raise RequestError(f"OpenDSR request: two identities of type {key!r}")
        identities[key] = identity.identity_value
    return DataSubjectRequest.receive(
        RequestType(parsed.subject_request_type),
        subject_kind,
        identities,
        jurisdiction=jurisdiction or parsed.regulation,
        received_at=received_at or parsed.submitted_time,
        id=parsed.subject_request_id,
    )


def from_request(
    request: DataSubjectRequest,
    *,
    submitted_time: dt.datetime | None = None,
    api_version: str | None = "2.0",
    status_callback_urls: tuple[str, ...] | None = None,
) -> OpenDSRRequest:
    """The OpenDSR request body for ``request``.

    Raises:
        RequestError: a type OpenDSR does not know (only access, portability and erasure), a
            jurisdiction other than gdpr, uk_gdpr or ccpa, or an id that is not a UUID v4.
    """
    if request.type.value not in ("access", "portability", "erasure"):
        hint = (
            "; a CCPA request to know is answered with the data held: record it as 'access' "
            "to exchange it through OpenDSR"
            if request.type.value == "know"
            else ""
        )
        raise RequestError(
            f"OpenDSR has no {request.type.value!r} request (only access, portability, "
            f"erasure){hint}"
        )
    regulation = _REGULATION.get(request.jurisdiction)
    if regulation is None:
        raise RequestError(
            f"OpenDSR has no regulation for {request.jurisdiction!r} (only gdpr and ccpa)"
        )
    identities = []
    for key, value in request.identities.items():
        kind, _, fmt = key.partition(":")
        identities.append(
            {"identity_type": kind, "identity_value": value, "identity_format": fmt or "raw"}
        )
    body: dict[str, Any] = {
        "subject_request_id": str(request.id),
        "regulation": regulation,
        "subject_request_type": request.type.value,
        "submitted_time": submitted_time or request.received_at,
        "subject_identities": identities,
        "api_version": api_version,
        "status_callback_urls": status_callback_urls,
    }
    result: OpenDSRRequest = _validate(OpenDSRRequest, body, "OpenDSR request")
    return result


def make_response(
    body: bytes | str | Mapping[str, Any],
    *,
    controller_id: str,
    received_time: dt.datetime,
    expected_completion_time: dt.datetime,
) -> OpenDSRResponse:
    """The processor's 201 answer to a request body (``encoded_request`` is its base64).

    Raises:
        RequestError: the body is not a valid OpenDSR request.

    Example:
        >>> body = (b'{"subject_request_id":"a7551968-d5d6-44b2-9831-815ac9017798",'
        ...         b'"regulation":"gdpr","subject_request_type":"access",'
        ...         b'"submitted_time":"2018-10-02T15:00:00Z","subject_identities":'
        ...         b'[{"identity_type":"email","identity_value":"j@example.com","identity_format":"raw"}]}')
        >>> r = make_response(body, controller_id="example_controller_id",
        ...     received_time=dt.datetime(2018, 10, 2, 15, 0, 1, tzinfo=dt.UTC),
        ...     expected_completion_time=dt.datetime(2018, 11, 1, 15, 0, 1, tzinfo=dt.UTC))
        >>> base64.b64decode(r.encoded_request) == body
        True
    """
    raw = orjson.dumps(dict(body)) if isinstance(body, Mapping) else body
    raw_bytes = raw.encode() if isinstance(raw, str) else raw
    parsed = parse_request(raw_bytes)
    result: OpenDSRResponse = _validate(
        OpenDSRResponse,
        {
            "controller_id": controller_id,
            "expected_completion_time": require_aware(
                expected_completion_time, "expected_completion_time"
            ),
            "received_time": require_aware(received_time, "received_time"),
            "encoded_request": base64.b64encode(raw_bytes).decode("ascii"),
            "subject_request_id": parsed.subject_request_id,
        },
        "OpenDSR response",
    )
    return result


def parse_response(data: bytes | str | Mapping[str, Any]) -> OpenDSRResponse:
    """Validate a processor's 201 answer.

    Raises:
        RequestError: naming each missing or invalid field.
    """
    result: OpenDSRResponse = _validate(
        OpenDSRResponse, _load(data, "OpenDSR response"), "OpenDSR response"
    )
    return result


def status_response(
    request: DataSubjectRequest,
    *,
    controller_id: str,
    expected_completion_time: dt.datetime | None = None,
    results_url: str | None = None,
    results_count: int | None = None,
    api_version: str | None = "2.0",
) -> OpenDSRStatus:
    """The OpenDSR status body for ``request`` (expected completion: its due date by default).

    Raises:
        RequestError: the request has no deadline (under ``global``, with no
            ``requests.respond_within``) and no ``expected_completion_time`` was given.

    Example:
        >>> r = DataSubjectRequest.receive("erasure", "end_user", {"email": "j@example.com"},
        ...     jurisdiction="ccpa", received_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        >>> status_response(r, controller_id="c1").request_status
        'pending'
    """
    result: OpenDSRStatus = _validate(
        OpenDSRStatus,
        {
            "controller_id": controller_id,
            "expected_completion_time": expected_completion_time or request.due_at,
            "subject_request_id": request.id,
            "request_status": TO_OPENDSR_STATUS[request.status],
            "api_version": api_version,
            "results_url": results_url,
            "results_count": results_count,
        },
        "OpenDSR status",
    )
    return result


def parse_status(data: bytes | str | Mapping[str, Any]) -> OpenDSRStatus:
    """Validate a status answer or callback body.

    Raises:
        RequestError: naming each missing or invalid field.
    """
    result: OpenDSRStatus = _validate(
        OpenDSRStatus, _load(data, "OpenDSR status"), "OpenDSR status"
    )
    return result


def new_request_id() -> uuid.UUID:
    """A fresh UUID v4 for ``subject_request_id``."""
    return uuid.uuid4()
