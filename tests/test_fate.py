"""One record's fate: when it goes, by which rule, and why not yet."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import attrs
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


def test_orphans_and_missing_links_cannot_be_timed() -> None:
    e = engine()
    unlinked = e.fate("bookings", 12, now=NOW)
    assert unlinked.sentence.startswith("bookings 12 cannot be timed: it is linked to no account")
    assert unlinked.untimed
    orphan = e.fate("bookings", 13, now=NOW)
    assert orphan.sentence.startswith(
        "bookings 13 cannot be timed: the account 99 (users) no longer exists"
    )
    assert "users.closed_at (via host_id)" in orphan.sentence
    assert orphan.untimed
    assert orphan.expires_at is None
    assert orphan.to_dict()["untimed"] is True
    assert not e.fate("bookings", 10, now=NOW).untimed


def test_fate_never_says_kept_indefinitely() -> None:
    e = engine()
    for rt in DATAMAP.record_types:
        for record in e.adapter_for(rt).rows(rt.table_name):  # type: ignore[attr-defined]
            sentence = e.fate(rt, record, now=NOW).sentence
            assert "indefinitely" not in sentence, sentence


def test_a_commitment_on_the_record_is_part_of_its_fate() -> None:
    from privacy_kit.adapters import where
    from privacy_kit.retention import Commitment

    e = engine()
    kept = Commitment(
        id="kept_a",
        record_type="bookings",
        selection=where.eq("host_id", 99),
        fields=(),
        due=d(2027, 1, 1),
        action="delete",
        reason="legal_obligation",
        explanation="invoices",
        origin="erasure p",
        made_at=d(2025, 1, 1),
    )
    later = attrs.evolve(kept, id="kept_b", selection=where.eq("host_id", 2), due=d(2030, 1, 1))
    e.commitments.record([kept, later])
    orphan = e.fate("bookings", 13, now=NOW)
    assert orphan.expires_at == d(2027, 1, 1)
    assert orphan.commitments == ("kept_a",)
    assert not orphan.untimed
    assert orphan.sentence.startswith(
        "bookings 13 will be deleted on 2027-01-01 00:00 UTC by commitment kept_a"
    )
    assert "By its retention rule alone: bookings 13 cannot be timed" in orphan.sentence
    # A rule that ends the record sooner still governs it.
    sooner = e.fate("bookings", 11, now=NOW)
    assert sooner.expires_at == d(2025, 6, 1, 9, 30)
    assert sooner.commitments == ("kept_b",)
    assert "Commitment kept_b from an erasure would end it on 2030-01-01" in sooner.sentence


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
