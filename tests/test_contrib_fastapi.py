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
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="privacy_kit.contrib.fastapi needs the 'fastapi' extra")

import anyio
from fastapi import FastAPI, HTTPException, Request
from fastapi.testclient import TestClient

import privacy_kit as pk
from privacy_kit.adapters import SQLiteAdapter
from privacy_kit.contrib.fastapi import AsyncEngine, export_response, privacy_router, run_sync
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


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_the_export_endpoint_streams_the_callers_bundle(store: str, tmp_path: Path) -> None:
    inner = make_adapter("memory") if store == "memory" else _sqlite_adapter(tmp_path / "app.db")
    spy = _ThreadSpy(inner)
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
