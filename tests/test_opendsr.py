"""OpenDSR 2.0: the README example round-trips; requests, responses and statuses convert both ways."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

import orjson
import pytest

import privacy_kit as pk
from privacy_kit.interop import opendsr
from privacy_kit.rights._request_states import RequestStatus
from privacy_kit.rights._requests import DataSubjectRequest

# The sample request object from the OpenDSR README (github.com/opengdpr/OpenDSR, "Sample Request Object").
README_REQUEST = b"""{
 "subject_request_id":"a7551968-d5d6-44b2-9831-815ac9017798",
 "regulation": "gdpr",
 "subject_request_type":"erasure",
 "submitted_time":"2018-10-02T15:00:00Z",
 "subject_identities":[
   {
      "identity_type":"email",
      "identity_value":"johndoe@example.com",
      "identity_format":"raw"
   }
 ],
 "api_version":"2.0",
 "status_callback_urls":[
   "https://example-controller.com/opendsr/callbacks"
 ]
}"""

# The example response body from the specification (section 7.4).
SPEC_RESPONSE = {
    "controller_id": "example_controller_id",
    "expected_completion_time": "2018-11-01T15:00:01Z",
    "received_time": "2018-10-02T15:00:01Z",
    "encoded_request": "<BASE64 ENCODED REQUEST>",
    "subject_request_id": "a7551968-d5d6-44b2-9831-815ac9017798",
}

SPEC_STATUS = {
    "controller_id": "example_controller_id",
    "expected_completion_time": "2018-11-01T15:00:01Z",
    "subject_request_id": "a7551968-d5d6-44b2-9831-815ac9017798",
    "request_status": "pending",
    "api_version": "1.0",
    "results_url": "https://exampleprocessor.com/secure/d188d4ba-12db-48a0-898c-cd0f8ba7b345",
    "results_count": 103,
}


def test_readme_example_round_trips() -> None:
    parsed = opendsr.parse_request(README_REQUEST)
    assert parsed.to_dict() == orjson.loads(README_REQUEST)
    assert orjson.loads(parsed.to_json()) == orjson.loads(README_REQUEST)
    assert parsed.submitted_time == dt.datetime(2018, 10, 2, 15, tzinfo=dt.UTC)


def test_readme_example_through_a_data_subject_request() -> None:
    parsed = opendsr.parse_request(README_REQUEST)
    request = opendsr.to_request(parsed, subject_kind="end_user")
    assert request.id == uuid.UUID("a7551968-d5d6-44b2-9831-815ac9017798")
    assert request.type is pk.RequestType.ERASURE
    assert request.jurisdiction == "gdpr"
    assert request.identities == {"email": "johndoe@example.com"}
    assert request.received_at == parsed.submitted_time
    assert request.due_at.date() == dt.date(2018, 11, 2)
    back = opendsr.from_request(
        request, status_callback_urls=("https://example-controller.com/opendsr/callbacks",)
    )
    assert back.to_dict() == orjson.loads(README_REQUEST)


def test_spec_response_and_status_round_trip() -> None:
    assert opendsr.parse_response(SPEC_RESPONSE).to_dict() == SPEC_RESPONSE
    assert opendsr.parse_status(SPEC_STATUS).to_dict() == SPEC_STATUS


def test_make_response_encodes_the_exact_body() -> None:
    response = opendsr.make_response(
        README_REQUEST,
        controller_id="example_controller_id",
        received_time=dt.datetime(2018, 10, 2, 15, 0, 1, tzinfo=dt.UTC),
        expected_completion_time=dt.datetime(2018, 11, 1, 15, 0, 1, tzinfo=dt.UTC),
    )
    assert base64.b64decode(response.encoded_request) == README_REQUEST
    expected = {**SPEC_RESPONSE, "encoded_request": response.encoded_request}
    assert response.to_dict() == expected
    from_mapping = opendsr.make_response(
        orjson.loads(README_REQUEST),
        controller_id="c",
        received_time=dt.datetime(2018, 10, 2, tzinfo=dt.UTC),
        expected_completion_time=dt.datetime(2018, 11, 1, tzinfo=dt.UTC),
    )
    assert orjson.loads(base64.b64decode(from_mapping.encoded_request)) == orjson.loads(
        README_REQUEST
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        opendsr.make_response(
            README_REQUEST,
            controller_id="c",
            received_time=dt.datetime(2018, 10, 2),
            expected_completion_time=dt.datetime(2018, 11, 1, tzinfo=dt.UTC),
        )


def test_status_mapping_both_ways() -> None:
    assert set(opendsr.TO_OPENDSR_STATUS) == set(RequestStatus)
    assert set(opendsr.TO_OPENDSR_STATUS.values()) == {
        "pending",
        "in_progress",
        "completed",
        "cancelled",
    }
    for value, status in opendsr.FROM_OPENDSR_STATUS.items():
        assert opendsr.TO_OPENDSR_STATUS[status] == value
    assert opendsr.TO_OPENDSR_STATUS[RequestStatus.REFUSED] == "cancelled"
    assert opendsr.TO_OPENDSR_STATUS[RequestStatus.VERIFIED] == "pending"


def test_status_response_follows_the_request() -> None:
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    request = DataSubjectRequest.receive(
        "access", "customer", {"email": "a@example.com"}, jurisdiction="ccpa", received_at=t0
    )
    steps = (request, request.verify(now=t0), request.verify(now=t0).start(now=t0))
    seen = [opendsr.status_response(step, controller_id="c1").request_status for step in steps]
    done = request.verify(now=t0).complete(now=t0)
    body = opendsr.status_response(
        done, controller_id="c1", results_url="https://x.example/r", results_count=3
    )
    assert seen == ["pending", "pending", "in_progress"]
    assert body.request_status == "completed"
    assert body.expected_completion_time == request.due_at
    assert opendsr.parse_status(body.to_dict()) == body


def test_hashed_identities_keep_their_format() -> None:
    body = orjson.loads(README_REQUEST)
    body["subject_identities"] = [
        {"identity_type": "email", "identity_value": "ab" * 32, "identity_format": "sha256"},
        {
            "identity_type": "controller_customer_id",
            "identity_value": "42",
            "identity_format": "raw",
        },
    ]
    request = opendsr.to_request(body, subject_kind="customer", jurisdiction="uk_gdpr")
    assert request.identities == {"email:sha256": "ab" * 32, "controller_customer_id": "42"}
    assert request.jurisdiction == "uk_gdpr"
    back = opendsr.from_request(request, api_version=None)
    assert back.regulation == "gdpr"
    assert [i.model_dump() for i in back.subject_identities] == body["subject_identities"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"regulation": "lgpd"}, "regulation: Input should be 'gdpr' or 'ccpa'"),
        ({"subject_request_type": "rectification"}, "subject_request_type: Input should be"),
        ({"subject_request_id": "not-a-uuid"}, "subject_request_id"),
        (
            {"subject_request_id": "a7551968-d5d6-14b2-9831-815ac9017798"},
            "subject_request_id: UUID version 4 expected",
        ),
        (
            {"submitted_time": "2018-10-02T15:00:00"},
            "submitted_time: Input should have timezone info",
        ),
        ({"subject_identities": []}, "subject_identities is required unless"),
        (
            {
                "subject_identities": [
                    {"identity_type": "email", "identity_value": "x", "identity_format": "base64"}
                ]
            },
            "identity_format",
        ),
        ({"unexpected": 1}, "unknown key 'unexpected'"),
    ],
)
def test_invalid_requests_name_the_field(change: dict[str, object], message: str) -> None:
    body = {**orjson.loads(README_REQUEST), **change}
    with pytest.raises(pk.RequestError, match=message):
        opendsr.parse_request(body)


def test_identities_may_come_in_extensions() -> None:
    body = {
        **orjson.loads(README_REQUEST),
        "subject_identities": [],
        "extensions": {"p.example": {"id": 1}},
    }
    assert opendsr.parse_request(body).extensions == {"p.example": {"id": 1}}


def test_not_json_and_duplicate_identities() -> None:
    with pytest.raises(pk.RequestError, match="not valid JSON"):
        opendsr.parse_request(b"{nope")
    body = orjson.loads(README_REQUEST)
    body["subject_identities"] = body["subject_identities"] * 2
    with pytest.raises(pk.RequestError, match="two identities of type 'email'"):
        opendsr.to_request(body, subject_kind="end_user")


def test_export_refuses_what_opendsr_cannot_say() -> None:
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    objection = DataSubjectRequest.receive(
        "objection", "customer", {"email": "a@example.com"}, jurisdiction="gdpr", received_at=t0
    )
    with pytest.raises(pk.RequestError, match="no 'objection' request"):
        opendsr.from_request(objection)
    lgpd = DataSubjectRequest.receive(
        "access", "customer", {"email": "a@example.com"}, jurisdiction="lgpd", received_at=t0
    )
    with pytest.raises(pk.RequestError, match="no regulation for 'lgpd'"):
        opendsr.from_request(lgpd)


def test_new_request_id_is_uuid4() -> None:
    assert opendsr.new_request_id().version == 4
