"""The built-in SQL adapters log one DEBUG line per statement, and never a value they bind."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.adapters import SQLiteAdapter, _statement_log, where
from test_export import policy_and_datamap

LINE = re.compile(
    r"^(?P<adapter>\S+): (?P<verb>[A-Z]+) (?P<table>\S+): (?P<rows>\d+|\?) row\(s\), (?P<ms>\d+\.\d\d) ms$"
)
SECRET_EMAIL = "zoe.private@example.org"
SECRET_NAME = "Zoe Confidential"


@pytest.fixture(params=["sqlite", "sqlalchemy"])
def adapter(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "sqlite":
        yield SQLiteAdapter(name="db")
        return
    pytest.importorskip("sqlalchemy", reason="the SQLAlchemy adapter needs the [sqlalchemy] extra")
    from privacy_kit.adapters import SQLAlchemyAdapter

    with SQLAlchemyAdapter("sqlite://", name="db") as db:
        yield db


def _work(db: Any) -> None:
    """Every kind of statement: schema, insert, read, count, update, update by key, delete."""
    _, datamap = policy_and_datamap()
    users = datamap.record_type("users")
    db.create_schema(datamap)
    db.insert(
        users,
        [
            {"id": 1, "name": SECRET_NAME, "email": SECRET_EMAIL},
            {"id": 2, "name": "", "email": None},
        ],
    )
    list(db.iter_records(users, where.eq("email", SECRET_EMAIL)))
    db.count(users, where.eq("email", SECRET_EMAIL))
    db.counts(users, [where.eq("email", SECRET_EMAIL), where.eq("id", 2)])
    db.update(users, where.eq("email", SECRET_EMAIL), {"name": SECRET_NAME.upper()})
    db.update(users, where.eq("id", 2), {"email": SECRET_EMAIL}, batch_size=10)
    db.update_by_key(users, [(1, {"email": SECRET_EMAIL.upper()})])
    db.delete(users, where.eq("email", SECRET_EMAIL), batch_size=10)
    db.delete(users, where.eq("name", SECRET_NAME.upper()))


def _lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "privacy_kit.adapters"]


def _work_at_debug(db: Any, caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    caplog.set_level(logging.DEBUG, logger="privacy_kit.adapters")
    _work(db)
    records = _lines(caplog)
    assert records
    return records


def test_each_statement_is_one_debug_line_with_verb_table_rows_and_time(
    adapter: Any, caplog: pytest.LogCaptureFixture
) -> None:
    records = _work_at_debug(adapter, caplog)
    assert {r.levelno for r in records} == {logging.DEBUG}
    parsed = []
    for record in records:
        match = LINE.match(record.getMessage())
        assert match, record.getMessage()
        parsed.append(match.groupdict())
    assert {p["adapter"] for p in parsed} == {"db"}
    on_users = {(p["verb"], p["rows"]) for p in parsed if p["table"] == "users"}
    # The counts the database reported: two inserted, one updated by each update, one by key,
    # one deleted by each delete.
    assert ("INSERT", "2") in on_users
    assert ("DELETE", "1") in on_users
    assert ("UPDATE", "1") in on_users
    assert any(verb == "SELECT" for verb, _ in on_users)
    assert any(p["verb"] == "CREATE" for p in parsed)


def test_no_value_or_parameter_reaches_a_line(
    adapter: Any, caplog: pytest.LogCaptureFixture
) -> None:
    for record in _work_at_debug(adapter, caplog):
        shown = " ".join([record.getMessage(), repr(record.args), repr(record.__dict__)])
        for secret in (SECRET_EMAIL, SECRET_EMAIL.upper(), SECRET_NAME, SECRET_NAME.upper()):
            assert secret not in shown, record.getMessage()


def test_with_debug_off_no_line_is_formatted_or_timed(
    adapter: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="privacy_kit.adapters")

    def never(*args: object) -> None:
        raise AssertionError("a statement line was prepared with DEBUG off")

    monkeypatch.setattr(_statement_log, "_line", never)
    monkeypatch.setattr(_statement_log, "describe", never)
    _work(adapter)
    assert _lines(caplog) == []


def test_a_hosts_own_statements_on_a_shared_engine_are_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sa = pytest.importorskip("sqlalchemy", reason="needs the [sqlalchemy] extra")
    from privacy_kit.adapters import SQLAlchemyAdapter

    engine = sa.create_engine("sqlite://")
    first, second = SQLAlchemyAdapter(engine, name="one"), SQLAlchemyAdapter(engine, name="two")
    caplog.set_level(logging.DEBUG, logger="privacy_kit.adapters")
    _, datamap = policy_and_datamap()
    first.create_schema(datamap)
    caplog.clear()
    with engine.connect() as conn:  # the application's own query, not the adapter's
        conn.execute(sa.text("SELECT COUNT(*) FROM users WHERE email = :e"), {"e": SECRET_EMAIL})
    assert _lines(caplog) == []
    second.count(datamap.record_type("users"), where.eq("email", SECRET_EMAIL))
    # One line: the engine's events are attached once however many adapters share it.
    (line,) = [r.getMessage() for r in _lines(caplog)]
    assert line.startswith("two: SELECT users: ")
    engine.dispose()


def test_the_engine_logs_statements_through_its_adapters(caplog: pytest.LogCaptureFixture) -> None:
    policy, datamap = policy_and_datamap()
    db = SQLiteAdapter()
    db.create_schema(datamap)
    engine = pk.Engine(policy, datamap, db, secret=b"k" * 32)
    caplog.set_level(logging.DEBUG, logger="privacy_kit.adapters")
    engine.export(pk.Subject.of("customer", user_id=1), _Sink(), now=_now())
    assert any(r.getMessage().startswith("SQLiteAdapter: SELECT users: ") for r in _lines(caplog))


class _Sink:
    """A write-only binary stream."""

    def write(self, data: bytes) -> int:
        return len(data)


def _now() -> Any:
    import datetime as dt

    return dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
