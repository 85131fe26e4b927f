"""The sample-data generator: deterministic, realistic, into any adapter."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest

import privacy_kit as pk
from privacy_kit.adapters import InMemoryAdapter, SQLiteAdapter, where
from privacy_kit.cli import SampleSummary, generate

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))


@pytest.fixture(scope="module")
def datamap() -> pk.DataMap:
    return pk.load_datamap(pk.example_path("datamap.yaml"))


def _memory(datamap: pk.DataMap, **kwargs: object) -> tuple[InMemoryAdapter, SampleSummary]:
    mem = InMemoryAdapter()
    summary = generate(mem, datamap, now=NOW, **kwargs)  # type: ignore[arg-type]
    return mem, summary


def test_same_seed_same_records(datamap: pk.DataMap) -> None:
    a, sa = _memory(datamap, customers=30, bookings_per_customer=5, seed=7)
    b, sb = _memory(datamap, customers=30, bookings_per_customer=5, seed=7)
    assert sa == sb
    for rt in datamap.record_types:
        assert a.rows(rt.table_name) == b.rows(rt.table_name)


def test_other_seed_other_records(datamap: pk.DataMap) -> None:
    a, _ = _memory(datamap, customers=30, bookings_per_customer=5, seed=1)
    b, _ = _memory(datamap, customers=30, bookings_per_customer=5, seed=2)
    assert a.rows("bookings") != b.rows("bookings")


def test_scale_and_counts(datamap: pk.DataMap) -> None:
    mem, summary = _memory(datamap, customers=40, bookings_per_customer=6)
    assert summary.counts["users"] == 40
    assert summary.counts["bookings"] == 240
    for rt in datamap.record_types:
        assert len(mem.rows(rt.table_name)) == summary.counts[rt.name]
    assert summary.total == sum(summary.counts.values())
    assert set(summary.counts) == {rt.name for rt in datamap.record_types}


def test_invitees_are_shared_between_hosts(datamap: pk.DataMap) -> None:
    mem, summary = _memory(datamap, customers=50, bookings_per_customer=10)
    hosts: dict[str, set[int]] = defaultdict(set)
    for booking in mem.rows("bookings"):
        hosts[booking["invitee_email"]].add(booking["host_id"])
    shared = [email for email, h in hosts.items() if len(h) > 1]
    assert len(shared) > len(hosts) // 2, "most invitees should book with several hosts"
    assert set(summary.invitee_emails) == set(hosts)


def test_some_accounts_closed_or_deactivated(datamap: pk.DataMap) -> None:
    mem, summary = _memory(datamap, customers=200, bookings_per_customer=1)
    users = {u["id"]: u for u in mem.rows("users")}
    assert 5 <= len(summary.closed_ids) <= 40
    assert summary.deactivated_ids
    assert not set(summary.closed_ids) & set(summary.deactivated_ids)
    for uid in summary.closed_ids:
        assert users[uid]["closed_at"] is not None
        assert users[uid]["created_at"] < users[uid]["closed_at"] < NOW
    open_ids = set(users) - set(summary.closed_ids) - set(summary.deactivated_ids)
    assert all(users[u]["closed_at"] is None for u in open_ids)
    # A closed account's meetings all ended before it closed.
    for booking in mem.rows("bookings"):
        closed_at = users[booking["host_id"]]["closed_at"]
        if closed_at is not None:
            assert booking["end_at"] < closed_at


def test_timestamps_spread_over_years_before_now(datamap: pk.DataMap) -> None:
    mem, _ = _memory(datamap, customers=300, bookings_per_customer=2, years=4)
    created = [u["created_at"] for u in mem.rows("users")]
    assert all(c.utcoffset() is not None and c < NOW for c in created)
    assert min(created) < NOW - dt.timedelta(days=365 * 3)
    assert max(created) > NOW - dt.timedelta(days=365)
    for table in ("bookings", "sessions", "usage_events", "support_tickets"):
        for row in mem.rows(table):
            stamp = row.get("created_at") or row.get("occurred_at")
            assert stamp < NOW


def test_same_data_in_sqlite(datamap: pk.DataMap) -> None:
    mem, summary = _memory(datamap, customers=20, bookings_per_customer=3, seed=3)
    with SQLiteAdapter() as db:
        db.create_schema(datamap)
        again = generate(db, datamap, customers=20, bookings_per_customer=3, seed=3, now=NOW)
        assert again == summary
        bookings = datamap.record_type("bookings")
        stored = [r for b in db.iter_records(bookings, where.all()) for r in b]
        assert stored == sorted(mem.rows("bookings"), key=lambda r: r["id"])
        assert db.count(bookings, where.in_("invitee_email", summary.invitee_emails[:3])) > 0


def test_only_declared_fields_are_written(datamap: pk.DataMap) -> None:
    slim = pk.DataMap.model_validate(
        {
            "record_types": [
                rt.model_dump(exclude_defaults=True)
                if rt.name != "bookings"
                else {
                    **rt.model_dump(exclude_defaults=True),
                    "fields": [
                        f.model_dump(exclude_defaults=True)
                        for f in rt.fields
                        if f.name != "host_notes"
                    ],
                }
                for rt in datamap.record_types
                if rt.name in {"users", "bookings"}
            ]
        }
    )
    mem, summary = _memory(slim, customers=3, bookings_per_customer=2)
    assert set(summary.counts) == {"users", "bookings"}
    assert all("host_notes" not in r for r in mem.rows("bookings"))


def test_bad_input(datamap: pk.DataMap) -> None:
    with pytest.raises(ValueError, match="now must be a timezone-aware"):
        generate(InMemoryAdapter(), datamap, now=dt.datetime(2025, 1, 1))
    with pytest.raises(pk.ConfigurationError, match="customers"):
        generate(InMemoryAdapter(), datamap, now=NOW, customers=0)
    with pytest.raises(pk.ConfigurationError, match="closed_fraction"):
        generate(InMemoryAdapter(), datamap, now=NOW, closed_fraction=1.5)
    with pytest.raises(pk.ConfigurationError, match="no insert"):
        generate(object(), datamap, now=NOW)
    users_only = pk.DataMap(record_types=(datamap.record_type("users"),))
    with pytest.raises(pk.ConfigurationError, match="'bookings'"):
        generate(InMemoryAdapter(), users_only, now=NOW)
