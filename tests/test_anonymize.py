"""Per-field anonymisation strategies and how they are written through adapters."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import privacy_kit as pk
from privacy_kit.adapters import Capability, Selection, where
from privacy_kit.model._datamap import AnonymizationKind, FieldSpec
from privacy_kit.retention._anonymize import (
    FieldAnonymization,
    anonymize_selection,
    generalize_date,
    mask,
    pseudonym,
    strategy_for,
    update_method,
)
from test_export import SECRET, SpyAdapter, adapter_kind, make_adapter, make_engine, snapshot

__all__ = ["adapter_kind"]


def anonymize(engine: pk.Engine, name: str, selection: Any, fields: Any, **kwargs: Any) -> int:
    """``anonymize_selection`` through the engine's adapter and secret."""
    rt = engine.datamap.record_type(name)
    return anonymize_selection(
        engine.adapter_for(rt), rt, selection, fields, secret=engine.secret, **kwargs
    )


def test_pseudonym_is_stable_keyed_prefixed_and_idempotent() -> None:
    p = pseudonym("ann@example.com", SECRET)
    assert p == pseudonym("ann@example.com", SECRET)
    assert p != pseudonym("ann@example.com", b"another-secret-of-16+")
    assert p != pseudonym("bob@example.com", SECRET)
    assert p.startswith("anon_")
    assert len(p) == 25
    assert pseudonym(p, SECRET) == p
    assert pseudonym(None, SECRET) is None
    assert pseudonym(42, SECRET) == pseudonym("42", SECRET)


@given(st.text(max_size=30), st.integers(min_value=0, max_value=40))
def test_mask_keeps_length_and_the_tail_and_is_idempotent(text: str, keep: int) -> None:
    masked = mask(text, keep)
    assert len(masked) == len(text)
    kept = min(keep, len(text))
    assert masked[len(text) - kept :] == text[len(text) - kept :]
    assert set(masked[: len(text) - kept]) <= {"*"}
    assert mask(masked, keep) == masked


def test_mask_examples() -> None:
    assert mask("+44 7700 900123", 2) == "*************23"
    assert mask("ab", 5) == "ab"
    assert mask(None, 3) is None
    assert mask(12345, 2) == "***45"


def test_generalize_date_keeps_the_time_zone() -> None:
    tz = dt.timezone(dt.timedelta(hours=3))
    value = dt.datetime(2024, 5, 17, 23, 30, 5, 7, tzinfo=tz)
    assert generalize_date(value, "year") == dt.datetime(2024, 1, 1, tzinfo=tz)
    assert generalize_date(value, "month") == dt.datetime(2024, 5, 1, tzinfo=tz)
    assert generalize_date(value, "day") == dt.datetime(2024, 5, 17, tzinfo=tz)
    assert generalize_date(value, "day").utcoffset() == dt.timedelta(hours=3)
    assert generalize_date(dt.date(2024, 2, 29), "month") == dt.date(2024, 2, 1)
    assert generalize_date(None, "year") is None
    once = generalize_date(value, "month")
    assert generalize_date(once, "month") == once
    with pytest.raises(pk.ConfigurationError, match="needs a date or datetime"):
        generalize_date("2024-05-17", "month")
    with pytest.raises(pk.ConfigurationError, match="unknown granularity"):
        generalize_date(value, "week")


def test_strategies_from_the_data_map() -> None:
    none = strategy_for(FieldSpec(name="notes"))
    assert (none.kind, none.declared, none.constant) == (AnonymizationKind.NULL, False, True)
    assert none.to_dict() == {"field": "notes", "strategy": "null", "default": True}
    fixed = strategy_for(FieldSpec(name="n", anonymize={"kind": "fixed", "value": "Gone"}))
    assert fixed.constant
    assert fixed.apply("Ann", SECRET) == "Gone"
    assert fixed.describe() == "fixed value 'Gone'"
    gen = strategy_for(
        FieldSpec(
            name="t", type="timestamp", anonymize={"kind": "generalize_date", "granularity": "year"}
        )
    )
    assert not gen.constant
    assert gen.to_dict() == {"field": "t", "strategy": "generalize_date", "granularity": "year"}
    assert gen.describe() == "generalise date to year"
    pseudo = strategy_for(FieldSpec(name="e", anonymize={"kind": "pseudonym"}))
    assert pseudo.describe().startswith("keyed-hash pseudonym")
    assert pseudo.apply("x", SECRET) == pseudonym("x", SECRET)


def test_constants_are_pushed_down_as_one_update() -> None:
    spy = _CallCounter(make_adapter("memory"))
    engine = make_engine(spy)
    n = anonymize(engine, "bookings", where.eq("host_id", 1), ["invitee_name", "invitee_notes"])
    assert n == 2
    assert spy.calls == {"update": 1}
    rows = snapshot(engine)["bookings"]
    assert rows[100]["invitee_name"] == rows[102]["invitee_name"] == "Former invitee"
    assert rows[101]["invitee_name"] == "Ann Invitee"  # outside the selection


def test_computed_values_are_written_by_key_per_batch(adapter_kind: str) -> None:
    spy = _CallCounter(make_adapter(adapter_kind))
    engine = make_engine(spy)
    n = anonymize(
        engine,
        "bookings",
        where.eq("service_id", 20) | where.eq("service_id", 21),
        ["invitee_phone", "invitee_name"],
        batch_size=2,
    )
    assert n == 3
    # constants travel with the computed values: only records that change are written
    assert spy.calls == {"iter_records": 1, "update_by_key": 2}
    rows = snapshot(engine)["bookings"]
    assert rows[100]["invitee_phone"] == "*************23"
    assert rows[102]["invitee_phone"] == "*********00"


def test_anonymising_the_field_the_selection_reads(adapter_kind: str) -> None:
    engine = make_engine(make_adapter(adapter_kind))
    selection = where.eq("invitee_email", "ann@example.com")
    fields = ["invitee_email", "invitee_notes", "invitee_phone"]
    notes = FieldAnonymization("invitee_notes", AnonymizationKind.NULL)
    n = anonymize(engine, "bookings", selection, [fields[0], notes, fields[2]], batch_size=1)
    assert n == 2
    rows = snapshot(engine)["bookings"]
    for key in (100, 101):
        assert rows[key]["invitee_email"] == pseudonym("ann@example.com", SECRET)
        assert rows[key]["invitee_notes"] is None
    assert rows[102]["invitee_email"] == "bob@example.com"
    # a NULL constant on the selection's own field travels with the per-key writes
    engine2 = make_engine(make_adapter(adapter_kind))
    mixed = [FieldAnonymization("invitee_email", AnonymizationKind.NULL), "invitee_phone"]
    assert anonymize(engine2, "bookings", selection, mixed, batch_size=1) == 2
    rows2 = snapshot(engine2)["bookings"]
    assert rows2[100]["invitee_email"] is None
    assert rows2[100]["invitee_phone"] == "*************23"
    assert rows2[101]["invitee_email"] is None


def test_anonymising_twice_changes_nothing_more() -> None:
    engine = make_engine(make_adapter("memory"))
    fields = ["invitee_email", "invitee_name", "invitee_phone", "invitee_notes"]
    anonymize(engine, "bookings", where.eq("host_id", 1), fields)
    once = snapshot(engine)
    anonymize(engine, "bookings", where.eq("host_id", 1), fields)
    assert snapshot(engine) == once
    anonymize(engine, "usage_events", where.eq("user_id", 1), ["occurred_at"])
    generalised = snapshot(engine)["usage_events"][60]["occurred_at"]
    assert generalised == dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    anonymize(engine, "usage_events", where.eq("user_id", 1), ["occurred_at"])
    assert snapshot(engine)["usage_events"][60]["occurred_at"] == generalised


class _NoBulk(SpyAdapter):
    """An adapter without BULK_UPDATE_BY_KEY; update_by_key must not be called."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner, track=False)
        self.capabilities = frozenset({Capability.COUNT})
        self.updates = 0

    def update(
        self,
        record_type: pk.RecordType,
        selection: Selection,
        values: Mapping[str, Any],
        *,
        batch_size: int = 1000,
    ) -> int:
        self.updates += 1
        return super().update(record_type, selection, values, batch_size=batch_size)

    def update_by_key(self, record_type: pk.RecordType, changes: Any, **kw: Any) -> int:
        raise AssertionError("update_by_key called on an adapter without the capability")


def test_falls_back_to_one_update_per_key_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    adapter = _NoBulk(make_adapter("memory"))
    engine = make_engine(adapter)
    assert update_method(adapter) == "per_key"
    with caplog.at_level(logging.INFO, logger="privacy_kit.retention"):
        n = anonymize(engine, "bookings", where.eq("host_id", 1), ["invitee_phone"])
    assert n == 2
    assert adapter.updates == 2
    assert "lacks bulk_update_by_key" in caplog.text
    plan = engine.plan_erasure(
        pk.Subject.of("end_user", email="bob@example.com"),
        now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    )
    assert "one update per key (the adapter lacks bulk_update_by_key)" in plan.steps[0].method


def test_bad_fields_are_refused() -> None:
    engine = make_engine(make_adapter("memory"))
    with pytest.raises(pk.ConfigurationError, match="did you mean 'invitee_name'"):
        anonymize(engine, "bookings", where.eq("id", 100), ["invitee_nmae"])
    with pytest.raises(pk.ConfigurationError, match="primary key 'id'"):
        anonymize(engine, "bookings", where.eq("id", 100), ["id"])
    with pytest.raises(pk.ConfigurationError, match="batch_size"):
        anonymize(engine, "bookings", where.eq("id", 100), ["invitee_name"], batch_size=0)
    with pytest.raises(KeyError, match="has no field 'nope'"):
        anonymize(
            engine,
            "bookings",
            where.eq("id", 100),
            [FieldAnonymization("nope", AnonymizationKind.NULL)],
        )
    assert anonymize(engine, "bookings", where.eq("id", 100), []) == 0


class _CallCounter(SpyAdapter):
    def __init__(self, inner: Any) -> None:
        super().__init__(inner, track=False)
        self.calls: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def iter_records(self, *args: Any, **kwargs: Any) -> Any:
        self._count("iter_records")
        return super().iter_records(*args, **kwargs)

    def update(self, *args: Any, **kwargs: Any) -> int:
        self._count("update")
        return super().update(*args, **kwargs)

    def update_by_key(self, *args: Any, **kwargs: Any) -> int:
        self._count("update_by_key")
        return super().update_by_key(*args, **kwargs)
