"""Rectification: a subject corrects their own fields, nothing else, with an audit entry."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import privacy_kit as pk
from test_export import ANN, HANA, NOW, adapter_kind, make_adapter, make_engine, snapshot

__all__ = ["adapter_kind"]


def test_customer_corrects_their_profile(adapter_kind: str) -> None:
    audit = pk.AuditLog.memory()
    engine = make_engine(make_adapter(adapter_kind), audit=audit)
    before = snapshot(engine)
    n = engine.rectify(
        HANA, "users", {"name": "Hana H. Haddad", "time_zone": "Asia/Dubai"}, now=NOW
    )
    assert n == 1
    after = snapshot(engine)
    assert after["users"][1]["name"] == "Hana H. Haddad"
    assert after["users"][1]["time_zone"] == "Asia/Dubai"
    assert after["users"][2] == before["users"][2]
    (entry,) = [e for e in audit.entries() if e.action == "rectification.completed"]
    assert entry.subject == engine.reference(HANA)
    assert entry.details == {"record_type": "users", "fields": ["name", "time_zone"], "count": 1}
    assert "Hana" not in json.dumps(entry.details)


def test_invitee_corrects_their_fields_in_their_bookings_only(adapter_kind: str) -> None:
    engine = make_engine(make_adapter(adapter_kind))
    before = snapshot(engine)
    changes = {"invitee_name": "Ann Smith", "invitee_phone": "+44 1"}
    # Ann has two bookings: a correction without a target is refused, nothing written
    with pytest.raises(pk.ConfigurationError, match="holds 2 bookings records; pass key="):
        engine.rectify(ANN, "bookings", changes, now=NOW)
    assert snapshot(engine) == before
    # one booking, by key: only that one changes
    assert engine.rectify(ANN, "bookings", changes, now=NOW, key=100) == 1
    after = snapshot(engine)["bookings"]
    assert after[100]["invitee_name"] == "Ann Smith"
    assert after[101] == before["bookings"][101]
    # both, by an explicit selection
    both = pk.adapters.where.in_("id", [100, 101])
    assert engine.rectify(ANN, "bookings", changes, now=NOW, where=both) == 2
    after = snapshot(engine)["bookings"]
    assert after[100]["invitee_name"] == after[101]["invitee_name"] == "Ann Smith"
    assert after[102] == before["bookings"][102]
    assert after[100]["host_notes"] == "Ann is a VIP"


def test_a_target_outside_the_subjects_records_is_refused(adapter_kind: str) -> None:
    engine = make_engine(make_adapter(adapter_kind))
    before = snapshot(engine)
    # booking 102 is not Ann's: the key narrows her records, it never reaches someone else's
    with pytest.raises(pk.ConfigurationError, match="no bookings record of this end_user"):
        engine.rectify(ANN, "bookings", {"invitee_name": "X"}, now=NOW, key=102)
    with pytest.raises(pk.ConfigurationError, match="key= or where=, not both"):
        engine.rectify(
            ANN, "bookings", {"invitee_name": "X"}, now=NOW, key=100, where=pk.adapters.All()
        )
    assert snapshot(engine) == before


def test_an_invitee_cannot_rewrite_fields_shared_with_the_host() -> None:
    engine = make_engine(make_adapter("memory"))
    before = snapshot(engine)
    with pytest.raises(pk.ConfigurationError, match="shared by every party"):
        engine.rectify(ANN, "bookings", {"start_at": NOW}, now=NOW, key=100)
    assert snapshot(engine) == before


def test_refused_fields_change_nothing() -> None:
    engine = make_engine(make_adapter("memory"))
    before = snapshot(engine)
    cases = {
        "host_notes": "belongs to the host, not to the invitee",
        "meeting_url": "belongs to the host",
        "created_at": "not personal data",
        "id": "the record's key",
        "start_at": "shared by every party of the record, and the invitee does not own it",
        "invitee_email": "identifies the invitee",
    }
    for field, why in cases.items():
        with pytest.raises(pk.ConfigurationError, match=why):
            engine.rectify(ANN, "bookings", {"invitee_name": "X", field: None}, now=NOW, key=100)
    assert snapshot(engine) == before


def test_bad_input_is_refused_with_a_clear_message() -> None:
    engine = make_engine(make_adapter("memory"))
    with pytest.raises(pk.ConfigurationError, match="did you mean 'invitee_name'"):
        engine.rectify(ANN, "bookings", {"invitee_nme": "X"}, now=NOW)
    with pytest.raises(pk.ConfigurationError, match="at least one field"):
        engine.rectify(ANN, "bookings", {}, now=NOW)
    with pytest.raises(pk.ConfigurationError, match="holds no records of a end_user"):
        engine.rectify(ANN, "users", {"name": "X"}, now=NOW)
    with pytest.raises(pk.ConfigurationError, match="has type 'boolean'"):
        engine.rectify(HANA, "users", {"is_admin": "yes"}, now=NOW)
    with pytest.raises(pk.ConfigurationError, match="has type 'text'"):
        engine.rectify(HANA, "users", {"language": 3}, now=NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        engine.rectify(HANA, "users", {"last_seen_at": dt.datetime(2025, 1, 1)}, now=NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        engine.rectify(HANA, "users", {"name": "X"}, now=dt.datetime(2025, 1, 1))
    with pytest.raises(KeyError, match="unknown record type"):
        engine.rectify(HANA, "userz", {"name": "X"}, now=NOW)
    # a well-typed change goes through, None clears an optional field
    assert engine.rectify(HANA, "users", {"is_admin": False, "language": None}, now=NOW) == 1
    aware = dt.datetime(2025, 5, 1, tzinfo=dt.UTC)
    assert engine.rectify(HANA, "users", {"last_seen_at": aware}, now=NOW) == 1
    assert snapshot(engine)["users"][1]["last_seen_at"] == aware
