"""Logging: one logger per layer, one INFO line per operation, never a person's data."""

from __future__ import annotations

import datetime as dt
import io
import logging
import warnings
from pathlib import Path
from typing import Any

import pytest

import privacy_kit as pk
from test_export import ANN, HANA, NOW, example_rows, make_adapter, make_engine

LAYER_LOGGERS = {
    "privacy_kit.adapters",
    "privacy_kit.engine",
    "privacy_kit.audit",
    "privacy_kit.rights",
    "privacy_kit.retention",
}


def _personal_values() -> set[str]:
    """Every text value of the example rows that could name a person (names, e-mails, phones...)."""
    values: set[str] = set()
    for rows in example_rows().values():
        for row in rows:
            for value in row.values():
                if isinstance(value, str) and len(value) > 3:
                    values.add(value)
    return values


def _messages(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("privacy_kit")]


def _run_everything(tmp_path: Path) -> pk.Engine:
    engine = make_engine(make_adapter("sqlite"))
    engine.export(ANN, tmp_path / "ann.zip", now=NOW)
    b"".join(engine.export_stream(HANA, now=NOW))
    plan = engine.plan_erasure(HANA, now=NOW)
    engine.apply(plan, dry_run=True)
    engine.apply(plan)
    later = NOW + dt.timedelta(days=3650)
    sweep = engine.plan_retention(now=later)
    engine.apply(sweep)
    request = pk.DataSubjectRequest.receive(
        "access",
        "end_user",
        {"email": "ann@example.com"},
        jurisdiction="gdpr",
        received_at=NOW,
        audit=engine.audit,
        subject_ref=engine.reference(ANN),
    )
    request.verify(now=NOW, audit=engine.audit)
    return engine


def test_operations_log_at_info_per_layer_and_never_personal_data(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG, logger="privacy_kit")
    engine = _run_everything(tmp_path)
    records = _messages(caplog)
    names = {r.name for r in records}
    assert names == LAYER_LOGGERS, names

    info = [r.getMessage() for r in records if r.levelno == logging.INFO]
    ann, hana = engine.reference(ANN), engine.reference(HANA)
    assert any(
        m.startswith(f"export written: {tmp_path / 'ann.zip'}, ") and m.endswith(f"(subject {ann})")
        for m in info
    ), info
    assert any(m.startswith("export written: a stream, ") for m in info)
    assert any(m.startswith("erasure plan ") and f"made for customer {hana}" in m for m in info)
    assert any(" dry run for " in m for m in info)
    assert any(" applied for " in m and "deleted " in m for m in info)
    assert any(m.startswith("retention plan ") and " made as of " in m for m in info)
    assert any(m.startswith("retention plan ") and " applied: " in m for m in info)
    assert any(m.startswith("request ") and "request.received" in m for m in info)
    assert any(m.startswith("request ") and "request.transition" in m for m in info)

    debug = [r.getMessage() for r in records if r.levelno == logging.DEBUG]
    assert any(m.startswith("export: bookings written (2 records)") for m in debug)
    assert any("resolved by email" in m for m in debug)
    assert any(m.startswith("audit entry ") for m in debug)
    assert any(m.startswith("retention plan ") and "cutoff" in m for m in debug)
    assert any(m.startswith("erasure plan ") and ": delete " in m for m in debug)

    # No value of any record (names, e-mail addresses, phone numbers, notes) reaches a log line,
    # at any level, in the message or its arguments.
    personal = _personal_values()
    assert "ann@example.com" in personal
    for record in records:
        text = record.getMessage()
        leaked = {v for v in personal if v in text}
        assert not leaked, (record.name, text)


def test_the_export_line_counts_records_and_bytes(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.INFO, logger="privacy_kit.rights")
    engine = make_engine(make_adapter("memory"))
    buffer = io.BytesIO()
    result = engine.export(ANN, buffer, now=NOW)
    (line,) = [r.getMessage() for r in _messages(caplog) if r.getMessage().startswith("export")]
    assert f"{result.size} bytes, 2 records in 1 record types" in line


def test_at_warning_level_operations_say_nothing(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.WARNING, logger="privacy_kit")
    _run_everything(tmp_path)
    assert _messages(caplog) == []


def test_an_engine_without_secret_or_state_warns() -> None:
    policy, datamap = pk.load_policy(pk.example_path()), None
    datamap = pk.load_datamap(pk.example_path("datamap.yaml"), policy=policy)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pk.Engine(policy, datamap, make_adapter("memory"))
    kinds: list[Any] = [w.category for w in caught]
    assert kinds == [pk.engine.UnsharedSecretWarning]
