"""One record's fate: when it goes, by which rule, and why not yet."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.adapters import InMemoryAdapter
from privacy_kit.retention import RetentionSettings

UTC = dt.UTC
NOW = dt.datetime(2026, 1, 1, tzinfo=UTC)
POLICY = pk.load_policy(pk.example_path())
DATAMAP = pk.load_datamap(pk.example_path("datamap.yaml"))


def d(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def engine() -> pk.Engine:
    tables: dict[str, list[dict[str, Any]]] = {rt.table_name: [] for rt in DATAMAP.record_types}
    tables["users"] = [
        {"id": 1, "name": "A", "email": "a@example.org", "closed_at": None},
        {"id": 2, "name": "B", "email": "b@example.org", "closed_at": d(2025, 6, 1, 9, 30)},
        {"id": 3, "name": "C", "email": "c@example.org", "closed_at": d(2019, 1, 1)},
    ]
    tables["bookings"] = [
        {"id": 10, "host_id": 1, "end_at": d(2025, 11, 1)},
        {"id": 11, "host_id": 2, "end_at": d(2025, 1, 1)},
        {"id": 12, "host_id": None, "end_at": d(2025, 1, 1)},
        {"id": 13, "host_id": 99, "end_at": d(2025, 1, 1)},
    ]
    return pk.Engine(POLICY, DATAMAP, InMemoryAdapter(tables), verify=False)


def test_open_account_keeps_records_while_it_exists() -> None:
    fate = engine().fate("bookings", 10, now=NOW)
    assert fate.rule == "booking_data"
    assert fate.trigger is pk.Trigger.ACCOUNT_CLOSED
    assert fate.trigger_time is None
    assert fate.expires_at is None
    assert not fate.expired
    assert fate.time_field == "users.closed_at (via host_id)"
    assert "while the account exists" in fate.sentence


def test_closed_account_expires_at_closure() -> None:
    fate = engine().fate("bookings", 11, now=NOW)
    assert fate.trigger_time == d(2025, 6, 1, 9, 30)
    assert fate.expires_at == d(2025, 6, 1, 9, 30)
    assert fate.expired
    assert fate.action == "delete"
    assert fate.sentence.startswith("bookings 11 was due to be deleted on 2025-06-01 09:30 UTC")


def test_customer_override_uses_the_event_time() -> None:
    settings = RetentionSettings(POLICY)
    settings.set(1, "booking_data", "P90D")
    fate = engine().fate("bookings", 10, now=NOW, settings=settings)
    assert fate.override == pk.Duration.parse("P90D")
    assert fate.trigger is pk.Trigger.EVENT
    assert fate.time_field == "end_at"
    assert fate.expires_at == d(2026, 1, 30)
    assert not fate.expired
    assert "90 days after event" in fate.sentence
    assert "the customer's setting" in fate.sentence
    assert fate.to_dict()["override"] == "P90D"


def test_legal_obligation_stages() -> None:
    fate = engine().fate("users", 2, now=NOW)
    assert [s.action for s in fate.stages] == ["minimize", "delete"]
    assert fate.stages[0].at == d(2025, 6, 1, 9, 30)
    assert fate.stages[0].fields == ("time_zone", "language", "is_admin", "last_seen_at")
    assert fate.expires_at == d(2031, 6, 1, 9, 30)
    assert fate.duration == pk.Duration.parse("P6Y")
    assert not fate.expired
    assert "were cleared" in fate.sentence
    assert "legal obligation" in fate.sentence
    old = engine().fate("users", 3, now=NOW)
    assert old.expired
    assert old.expires_at == d(2025, 1, 1)


def test_orphans_and_missing_links() -> None:
    e = engine()
    assert "linked to no account" in e.fate("bookings", 12, now=NOW).sentence
    orphan = e.fate("bookings", 13, now=NOW)
    assert "account 99 is not found" in orphan.sentence
    assert orphan.expires_at is None


def test_held_records_say_so() -> None:
    e = engine()
    e.place_hold(
        reason="Dispute",
        placed_by="legal",
        now=d(2025, 1, 1),
        subject=pk.Subject.of("customer", user_id=2),
        hold_id="h-2",
    )
    fate = e.fate("bookings", 11, now=NOW)
    assert fate.held == ("h-2",)
    assert fate.expired
    assert "legal hold (h-2)" in fate.sentence
    assert e.fate("bookings", 10, now=NOW).held == ()


def test_record_given_as_a_mapping_and_json_form() -> None:
    fate = engine().fate(DATAMAP.record_type("payment_methods"), {"id": 5, "user_id": 3}, now=NOW)
    assert fate.key == 5
    assert fate.rule == "payment_data"
    assert fate.expired
    data = fate.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["expires_at"] == "2019-01-01T00:00:00+00:00"


def test_no_rule_and_no_time_field() -> None:
    dm = pk.DataMap.model_validate(
        {
            "record_types": [
                {
                    "name": "notes",
                    "fields": [
                        {"name": "id", "type": "integer", "personal": False},
                        {"name": "body", "categories": ["user.support.conversation"]},
                    ],
                },
                {"name": "misc", "fields": [{"name": "id", "type": "integer", "personal": False}]},
            ]
        }
    )
    e = pk.Engine(
        POLICY, dm, InMemoryAdapter({"notes": [{"id": 1, "body": "x"}], "misc": [{"id": 1}]})
    )
    none = e.fate("misc", 1, now=NOW)
    assert none.rule is None
    assert "not covered by any retention rule" in none.sentence
    untimed = e.fate("notes", 1, now=NOW)
    assert untimed.rule == "account_data"
    assert "not recorded anywhere" in untimed.sentence


def test_unknown_record_and_naive_now() -> None:
    e = engine()
    with pytest.raises(pk.ConfigurationError, match="no bookings record with id = 404"):
        e.fate("bookings", 404, now=NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        e.fate("bookings", 10, now=dt.datetime(2026, 1, 1))
    with pytest.raises(KeyError, match="did you mean 'bookings'"):
        e.fate("booking", 10, now=NOW)
