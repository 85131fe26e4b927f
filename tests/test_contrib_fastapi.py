"""privacy_kit.contrib.fastapi: the export streamed, requests recorded, the event loop never blocked."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import json
import sqlite3
import subprocess
import sys
import threading
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="privacy_kit.contrib.fastapi needs the 'fastapi' extra")

import anyio
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.testclient import TestClient

import privacy_kit as pk
from privacy_kit.adapters import SQLiteAdapter
from privacy_kit.contrib.fastapi import (
    AsyncEngine,
    export_response,
    gpc_dependency,
    privacy_router,
    run_sync,
)
from test_export import (
    ANN,
    HANA,
    NOW,
    SpyAdapter,
    _FailingReads,
    example_rows,
    make_adapter,
    make_engine,
    policy_and_datamap,
)


def _sqlite_adapter(path: Path) -> SQLiteAdapter:
    """A file database whose connection may be used from the worker threads."""
    _, datamap = policy_and_datamap()
    db = SQLiteAdapter(sqlite3.connect(path, check_same_thread=False))
    db.create_schema(datamap)
    for table, items in example_rows().items():
        db.insert(datamap.record_type(table), items)
    return db


def _postgres_adapter(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A database of its own on the PostgreSQL server (skipped, saying why, without one),
    holding the example; dropped afterwards."""
    server = request.getfixturevalue("postgres_engine")
    import sqlalchemy as sa

    from privacy_kit.adapters import SQLAlchemyAdapter

    name = f"pk_fastapi_{uuid.uuid4().hex[:12]}"
    admin = server.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        db = sa.create_engine(server.url.set(database=name))
        try:
            _, datamap = policy_and_datamap()
            adapter = SQLAlchemyAdapter(db)
            adapter.create_schema(datamap)
            for table, items in example_rows().items():
                adapter.insert(datamap.record_type(table), items)
            yield adapter
        finally:
            db.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The example's records in memory, in a SQLite file, and in PostgreSQL."""
    if request.param == "memory":
        yield make_adapter("memory")
    elif request.param == "sqlite":
        yield _sqlite_adapter(tmp_path / "app.db")
    else:
        yield from _postgres_adapter(request)


class _ThreadSpy(SpyAdapter):
    """Records the thread of every read."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner, track=False)
        self.threads: set[int] = set()

    def iter_records(self, *args: Any, **kwargs: Any) -> Iterator[list[dict[str, Any]]]:
        self.threads.add(threading.get_ident())
        yield from super().iter_records(*args, **kwargs)

    def count(self, *args: Any, **kwargs: Any) -> int:
        self.threads.add(threading.get_ident())
        return super().count(*args, **kwargs)


def _app(engine: pk.Engine, **kwargs: Any) -> tuple[FastAPI, list[pk.DataSubjectRequest], set[int]]:
    saved: list[pk.DataSubjectRequest] = []
    loop_threads: set[int] = set()
    people = {"ann": ANN, "hana": HANA, "typo": pk.Subject.of("end_user", emial="x@example.com")}

    async def current_subject(request: Request) -> pk.Subject:
        # An async dependency runs on the event loop: its thread is the loop's.
        loop_threads.add(threading.get_ident())
        who = request.headers.get("x-user")
        if who not in people:
            raise HTTPException(status_code=401, detail="sign in first")
        return people[who]

    kwargs.setdefault("save_request", saved.append)
    app = FastAPI()
    app.include_router(
        privacy_router(engine, subject=current_subject, clock=lambda: NOW, **kwargs),
        prefix="/privacy",
    )
    return app, saved, loop_threads


def _completed(engine: pk.Engine) -> list[pk.AuditEntry]:
    return [e for e in engine.audit.entries() if e.action == "export.completed"]


def test_the_export_endpoint_streams_the_callers_bundle(store: Any) -> None:
    spy = _ThreadSpy(store)
    engine = make_engine(spy)
    app, _, loop_threads = _app(engine)
    with TestClient(app) as client:
        response = client.get("/privacy/export", headers={"x-user": "ann"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    reference = engine.reference(ANN)
    assert response.headers["content-disposition"] == (
        f'attachment; filename="export-{reference}.zip"'
    )
    body = response.content
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        manifest = json.loads(z.read("manifest.json"))
        rows = [json.loads(line) for line in z.read("records/bookings.ndjson").splitlines()]
    assert manifest["subject"]["reference"] == reference
    assert {r["id"] for r in rows} == {
        r["id"] for r in example_rows()["bookings"] if r["invitee_email"] == "ann@example.com"
    }
    assert all("host_notes" not in r for r in rows)
    (entry,) = _completed(engine)
    assert entry.details["sha256"] == hashlib.sha256(body).hexdigest()
    assert entry.details["bytes"] == len(body)
    # Every read of the store ran in a worker thread, never on the event loop.
    assert loop_threads
    assert spy.threads
    assert not spy.threads & loop_threads


def test_an_export_that_fails_midway_is_cut_short_and_never_audited_done() -> None:
    engine = make_engine(_FailingReads(make_adapter("memory")))
    app, _, _ = _app(engine)
    with TestClient(app) as client, pytest.raises(pk.AdapterError, match="disk gone"):
        client.get("/privacy/export", headers={"x-user": "ann"})
    assert _completed(engine) == []


def test_subject_problems_are_client_errors() -> None:
    engine = make_engine(make_adapter("memory"))
    app, saved, _ = _app(engine)
    with TestClient(app) as client:
        anonymous = client.get("/privacy/export")
        typo = client.get("/privacy/export", headers={"x-user": "typo"})
        typo_request = client.post(
            "/privacy/requests",
            headers={"x-user": "typo"},
            json={"type": "access", "country": "FR"},
        )
    assert anonymous.status_code == 401
    assert typo.status_code == 400
    assert "emial" in typo.json()["detail"]
    assert typo_request.status_code == 400
    assert saved == []
    assert _completed(engine) == []


def test_the_request_endpoint_records_under_the_law_owed_and_hands_it_on() -> None:
    engine = make_engine(make_adapter("memory"))
    app, saved, _ = _app(engine)
    with TestClient(app) as client:
        response = client.post(
            "/privacy/requests",
            headers={"x-user": "hana"},
            json={"type": "erasure", "country": "fr"},
        )
    assert response.status_code == 201
    answer = response.json()
    (request,) = saved
    assert answer["id"] == str(request.id)
    assert answer["type"] == "erasure"
    assert answer["status"] == "received"
    assert answer["jurisdiction"] == "gdpr"
    assert answer["citation"] == "GDPR Art. 12(3)"
    assert answer["due_at"].startswith("2025-07-01")
    assert request.subject_kind == "customer"
    assert dict(request.identities) == {"user_id": "1"}
    assert request.country == "FR"
    received = [e for e in engine.audit.entries() if e.action == "request.received"]
    assert len(received) == 1
    assert received[0].subject == engine.reference(HANA)


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"type": "access", "country": "Narnia"}, "Narnia"),
        ({"type": "teleport", "country": "FR"}, "type"),
        ({"type": "access"}, "country"),
        ({"type": "access", "country": "FR", "extra": 1}, "extra"),
    ],
)
def test_a_bad_request_body_is_422_and_nothing_is_saved(body: dict[str, Any], detail: str) -> None:
    engine = make_engine(make_adapter("memory"))
    app, saved, _ = _app(engine)
    with TestClient(app) as client:
        response = client.post("/privacy/requests", headers={"x-user": "ann"}, json=body)
    assert response.status_code == 422
    assert detail in json.dumps(response.json())
    assert saved == []
    assert not [e for e in engine.audit.entries() if e.action == "request.received"]


def test_without_somewhere_to_keep_requests_there_is_no_request_route() -> None:
    engine = make_engine(make_adapter("memory"))
    app, _, _ = _app(engine, save_request=None)
    with TestClient(app) as client:
        response = client.post(
            "/privacy/requests", headers={"x-user": "ann"}, json={"type": "access", "country": "FR"}
        )
        assert client.get("/privacy/export", headers={"x-user": "ann"}).status_code == 200
    assert response.status_code in (404, 405)


def test_async_engine_runs_each_operation_in_a_worker_thread() -> None:
    spy = _ThreadSpy(make_adapter("memory"))
    engine = make_engine(spy)
    aengine = AsyncEngine(engine)

    async def main() -> tuple[int, pk.ErasurePlan, pk.ExportStream, str]:
        loop = threading.get_ident()
        plan = await aengine.plan_erasure(HANA, now=NOW)
        stream = await aengine.export_stream(ANN, now=NOW)
        reference = await aengine.reference(ANN)
        return loop, plan, stream, reference

    loop, plan, stream, reference = anyio.run(main)
    assert plan.steps
    assert loop not in spy.threads
    assert spy.threads
    data = b"".join(stream)
    assert stream.result is not None
    assert stream.result.subject_reference == reference
    assert zipfile.ZipFile(io.BytesIO(data)).testzip() is None
    report = anyio.run(functools.partial(aengine.apply, plan))
    assert report.plan_id == plan.plan_id
    assert sum(report.deleted.values()) > 0
    assert anyio.run(run_sync, max, 3, 9) == 9


def test_export_response_refuses_a_name_that_would_break_the_header() -> None:
    engine = make_engine(make_adapter("memory"))
    stream = engine.export_stream(ANN, now=NOW)
    with pytest.raises(pk.PrivacyKitError, match="download name"):
        export_response(stream, filename='a"; evil=".zip')
    assert stream.result is None


def test_importing_privacy_kit_never_imports_fastapi_and_a_missing_extra_says_what_to_install() -> (
    None
):
    code = (
        "import sys, privacy_kit, privacy_kit.contrib\n"
        "privacy_kit.Engine, privacy_kit.ExportStream\n"
        "assert not {'fastapi', 'starlette', 'anyio'} & set(sys.modules), sys.modules.keys()\n"
        "sys.modules['fastapi'] = None\n"
        "try:\n"
        "    import privacy_kit.contrib.fastapi\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert "pip install 'privacy-kit[fastapi]'" in out


def test_the_clock_is_the_routers_argument() -> None:
    engine = make_engine(make_adapter("memory"))
    app, _, _ = _app(engine)
    with TestClient(app) as client:
        body = client.get("/privacy/export", headers={"x-user": "ann"}).content
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(body)).read("manifest.json"))
    assert manifest["generated_at"] == NOW.isoformat()
    assert NOW.tzinfo is dt.UTC


# == identity verification ===========================================================================
class _Requests:
    """The host's request table: kept by id, replaced when a request changes."""

    def __init__(self) -> None:
        self.by_id: dict[uuid.UUID, pk.DataSubjectRequest] = {}
        self.codes: list[tuple[pk.Subject, pk.Challenge]] = []

    def save(self, request: pk.DataSubjectRequest) -> None:
        self.by_id[request.id] = request

    def find(self, request_id: uuid.UUID) -> pk.DataSubjectRequest | None:
        return self.by_id.get(request_id)

    def send(self, who: pk.Subject, challenge: pk.Challenge) -> None:
        self.codes.append((who, challenge))


def _verifying_app(engine: pk.Engine, **kwargs: Any) -> tuple[TestClient, _Requests]:
    kept = _Requests()
    kwargs.setdefault("save_request", kept.save)
    kwargs.setdefault("find_request", kept.find)
    kwargs.setdefault("send_code", kept.send)
    app, _, _ = _app(engine, **kwargs)
    return TestClient(app), kept


def _actions(engine: pk.Engine, prefix: str) -> list[pk.AuditEntry]:
    return [e for e in engine.audit.entries() if e.action.startswith(prefix)]


def _request_and_code(client: TestClient, kept: _Requests, user: str) -> tuple[str, pk.Challenge]:
    """``user`` makes an access request and asks for a code: the request's id and the challenge."""
    made = client.post(
        "/privacy/requests", headers={"x-user": user}, json={"type": "access", "country": "FR"}
    )
    assert made.status_code == 201
    assert client.post("/privacy/verification", headers={"x-user": user}).status_code == 201
    return made.json()["id"], kept.codes[-1][1]


def _answer(
    client: TestClient, user: str, challenge: pk.Challenge, **fields: Any
) -> Any:  # the test client's response
    body = {"challenge_id": challenge.challenge_id, "code": challenge.code, **fields}
    return client.post("/privacy/verification/check", headers={"x-user": user}, json=body)


def test_a_request_is_verified_by_a_code_sent_out_of_band(store: Any) -> None:
    engine = make_engine(store)
    client, kept = _verifying_app(engine)
    with client:
        made = client.post(
            "/privacy/requests",
            headers={"x-user": "hana"},
            json={"type": "access", "country": "FR"},
        )
        issued = client.post("/privacy/verification", headers={"x-user": "hana"})
        ((who, challenge),) = kept.codes
        answered = _answer(client, "hana", challenge, request_id=made.json()["id"])
        again = _answer(client, "hana", challenge)
    assert made.status_code == 201
    assert issued.status_code == 201
    # The code goes to the subject through send_code, never in the response.
    assert challenge.code not in issued.text
    assert issued.json() == {
        "challenge_id": challenge.challenge_id,
        "expires_at": (NOW + dt.timedelta(minutes=15)).isoformat(),
    }
    assert who == HANA
    assert answered.status_code == 200, answered.text
    reference = engine.reference(HANA)
    assert answered.json() == {
        "verified": True,
        "subject_reference": reference,
        "request": {"id": made.json()["id"], "status": "verified"},
    }
    (request,) = kept.by_id.values()
    assert request.status is pk.RequestStatus.VERIFIED
    assert request.identity_check is not None
    assert request.identity_check.pieces == ("email",)
    # A code works once.
    assert again.status_code == 403
    assert again.json()["detail"].startswith("reused:")
    assert [(e.action, e.subject) for e in _actions(engine, "verification.")] == [
        ("verification.issued", reference),
        ("verification.passed", reference),
        ("verification.failed", reference),
    ]
    assert [e.details["to"] for e in _actions(engine, "request.transition")] == ["verified"]
    assert all(challenge.code not in json.dumps(e.details) for e in engine.audit.entries())


def test_a_wrong_code_is_refused_saying_why_and_the_request_stays_received() -> None:
    engine = make_engine(make_adapter("memory"))
    client, kept = _verifying_app(engine)
    with client:
        request_id, challenge = _request_and_code(client, kept, "hana")
        wrong = "000000" if challenge.code != "000000" else "111111"
        answers = [
            _answer(client, "hana", challenge, code=wrong, request_id=request_id) for _ in range(5)
        ]
        locked = _answer(client, "hana", challenge)
        tampered = _answer(client, "hana", challenge, challenge_id=challenge.challenge_id + "x")
    assert [a.status_code for a in answers] == [403] * 5
    assert answers[0].json()["detail"] == "wrong: the code does not match (4 attempt(s) left)"
    assert "now locked" in answers[-1].json()["detail"]
    assert locked.status_code == 403
    assert locked.json()["detail"].startswith("locked:")
    assert tampered.json()["detail"].startswith("tampered:")
    (request,) = kept.by_id.values()
    assert request.status is pk.RequestStatus.RECEIVED
    reasons = [e.details["reason"] for e in _actions(engine, "verification.failed")]
    assert reasons == ["wrong"] * 5 + ["locked", "tampered"]


def test_a_code_answers_only_for_the_subject_it_was_sent_to() -> None:
    engine = make_engine(make_adapter("memory"))
    client, kept = _verifying_app(engine)
    with client:
        _, challenge = _request_and_code(client, kept, "hana")
        other = _answer(client, "ann", challenge)
    assert other.status_code == 403
    assert other.json()["detail"] == "mismatch: the challenge was issued to another subject"
    (failed,) = _actions(engine, "verification.failed")
    assert failed.subject == engine.reference(ANN)


def test_another_subjects_request_is_not_found_and_the_code_is_not_used_up() -> None:
    engine = make_engine(make_adapter("memory"))
    client, kept = _verifying_app(engine)
    with client:
        anns, _ = _request_and_code(client, kept, "ann")
        _, challenge = _request_and_code(client, kept, "hana")
        theirs = _answer(client, "hana", challenge, request_id=anns)
        unknown = _answer(client, "hana", challenge, request_id=str(uuid.uuid4()))
        mine = _answer(client, "hana", challenge)
    assert theirs.status_code == 404
    assert unknown.status_code == 404
    assert mine.status_code == 200
    assert kept.by_id[uuid.UUID(anns)].status is pk.RequestStatus.RECEIVED


def test_the_policys_identity_rules_are_held_to_a_code_alone() -> None:
    policy, datamap = policy_and_datamap()
    data = policy.model_dump(mode="json")
    data["requests"]["identity"] = {"min_pieces": 2, "required_pieces": ["email"]}
    engine = pk.Engine(
        pk.Policy.model_validate(data), datamap, make_adapter("memory"), secret=b"k" * 32
    )
    client, kept = _verifying_app(engine)
    with client:
        request_id, challenge = _request_and_code(client, kept, "hana")
        answer = _answer(client, "hana", challenge, request_id=request_id)
    assert answer.status_code == 422
    assert "at least 2 required" in answer.json()["detail"]
    (request,) = kept.by_id.values()
    assert request.status is pk.RequestStatus.RECEIVED


def test_verification_routes_exist_only_with_a_way_to_send_the_code() -> None:
    engine = make_engine(make_adapter("memory"))
    app, _, _ = _app(engine)
    with TestClient(app) as client:
        response = client.post("/privacy/verification", headers={"x-user": "hana"})
    assert response.status_code in (404, 405)
    with pytest.raises(pk.ConfigurationError, match="find_request without save_request"):
        privacy_router(engine, subject=lambda: HANA, find_request=lambda _id: None)


def test_a_request_id_where_requests_cannot_be_found_is_refused_before_the_code_is_used() -> None:
    engine = make_engine(make_adapter("memory"))
    kept = _Requests()
    app, _, _ = _app(engine, send_code=kept.send)
    with TestClient(app) as client:
        client.post("/privacy/verification", headers={"x-user": "hana"})
        ((_, challenge),) = kept.codes
        refused = _answer(client, "hana", challenge, request_id=str(uuid.uuid4()))
        plain = _answer(client, "hana", challenge)
    assert refused.status_code == 422
    assert "find_request" in refused.json()["detail"]
    assert plain.status_code == 200
    assert plain.json()["request"] is None


def test_a_code_issued_by_one_engine_is_checked_by_another_sharing_the_state_store() -> None:
    from privacy_kit.audit import MemoryStateStore

    shared = MemoryStateStore()
    one, two = (make_engine(make_adapter("memory"), state=shared) for _ in range(2))
    challenge = one.issue_challenge(HANA, now=NOW)
    assert two.check_challenge(HANA, challenge.challenge_id, challenge.code, now=NOW) == (
        one.reference(HANA)
    )
    with pytest.raises(pk.VerificationError, match=r"^reused"):
        one.check_challenge(HANA, challenge.challenge_id, challenge.code, now=NOW)
    # Without a store each engine keeps its own challenges, under a key of its own.
    alone = make_engine(make_adapter("memory"))
    with pytest.raises(pk.VerificationError, match=r"^tampered"):
        alone.check_challenge(HANA, challenge.challenge_id, challenge.code, now=NOW)
    assert alone.verifier is alone.verifier


# == Global Privacy Control ==========================================================================
def _gpc_app(engine: pk.Engine, where: str) -> TestClient:
    app, _, _ = _app(engine, country=lambda: where)
    return TestClient(app)


def _sale(engine: pk.Engine, who: pk.Subject) -> pk.Decision:
    return engine.preferences.may_sell(engine.reference(who), now=NOW)


def test_sec_gpc_records_the_opt_out_where_the_law_makes_it_one(store: Any) -> None:
    engine = make_engine(store)
    with _gpc_app(engine, "US-CA") as client:
        exported = client.get("/privacy/export", headers={"x-user": "hana", "Sec-GPC": "1"})
        seen = client.get("/privacy/gpc", headers={"x-user": "hana", "Sec-GPC": "1"})
    assert exported.status_code == 200
    assert not _sale(engine, HANA)
    assert _sale(engine, HANA).reason == "opted out of sale or sharing (via gpc)"
    # Recorded once, though the signal came with both requests.
    (entry,) = _actions(engine, "sale_opt_out.recorded")
    assert entry.subject == engine.reference(HANA)
    assert entry.details == {
        "via": "gpc", "jurisdiction": "ccpa", "country": "US-CA", "policy_conflict": False,
    }  # fmt: skip
    answer = seen.json()
    assert (answer["signal"], answer["opt_out"], answer["jurisdiction"]) == (True, True, "ccpa")
    assert "regs 7025" in answer["reason"]
    assert answer["sale_allowed"] is False


@pytest.mark.parametrize(
    ("where", "headers"),
    [("FR", {"Sec-GPC": "1"}), ("US-CA", {"Sec-GPC": "true"}), ("US-CA", {})],
)
def test_no_opt_out_is_recorded_where_the_signal_is_not_one(
    where: str, headers: dict[str, str]
) -> None:
    engine = make_engine(make_adapter("memory"))
    with _gpc_app(engine, where) as client:
        seen = client.get("/privacy/gpc", headers={"x-user": "hana", **headers})
    answer = seen.json()
    assert answer["opt_out"] is False
    assert answer["sale_allowed"] is True
    assert answer["signal"] is (headers.get("Sec-GPC") == "1")
    if answer["signal"]:
        assert "does not make the GPC signal an opt-out" in answer["reason"]
    assert _sale(engine, HANA)
    assert not _actions(engine, "sale_opt_out")


def test_a_policy_that_promises_gpc_is_held_to_it_wherever_the_caller_lives() -> None:
    policy, datamap = policy_and_datamap()
    data = policy.model_dump(mode="json")
    data["signals"] = [{"signal": "gpc", "honoured": True}]
    engine = pk.Engine(
        pk.Policy.model_validate(data), datamap, make_adapter("memory"), secret=b"k" * 32
    )
    decision = engine.honour_gpc(HANA, [("Sec-GPC", "1")], country="JP", now=NOW)
    assert (decision.opt_out, decision.jurisdiction, decision.policy_promise) == (
        True,
        "global",
        True,
    )
    assert not _sale(engine, HANA)
    with pytest.raises(pk.ConfigurationError, match="ISO 3166"):
        engine.honour_gpc(HANA, {"Sec-GPC": "1"}, country="Narnia", now=NOW)


def test_the_gpc_dependency_honours_the_signal_app_wide_and_skips_anonymous_callers() -> None:
    engine = make_engine(make_adapter("memory"))
    people = {"hana": HANA}

    def maybe_subject(request: Request) -> pk.Subject | None:
        return people.get(request.headers.get("x-user", ""))

    honour = gpc_dependency(
        engine, subject=maybe_subject, country=lambda: "US-CA", clock=lambda: NOW
    )
    app = FastAPI(dependencies=[Depends(honour)])

    @app.get("/")
    def home() -> dict[str, str]:
        return {"page": "home"}

    with TestClient(app) as client:
        anonymous = client.get("/", headers={"Sec-GPC": "1"})
        assert not _actions(engine, "sale_opt_out")
        signed_in = client.get("/", headers={"Sec-GPC": "1", "x-user": "hana"})
    assert anonymous.status_code == signed_in.status_code == 200
    assert len(_actions(engine, "sale_opt_out.recorded")) == 1
    assert not _sale(engine, HANA)
