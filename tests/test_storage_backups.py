"""Staged deletion and backups, and storage locations tied to the data map's stores.

A rule's outer bound is its duration, plus its ``purge_within`` (live systems), plus the longest
expiry of the backup locations holding its record types' stores; plans, fate, the notice and the
records of processing state it. ``check()`` flags storage outside the policy's area without a
declared transfer, and stores no location holds.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.adapters import InMemoryAdapter, SQLiteAdapter
from privacy_kit.model import DataMap, Policy
from privacy_kit.model._staged import add_durations, staged_bound

UTC = dt.UTC
NOW = dt.datetime(2026, 1, 1, tzinfo=UTC)
EXAMPLE_POLICY = pk.load_policy(pk.example_path())
EXAMPLE_MAP = pk.load_datamap(pk.example_path("datamap.yaml"))


def policy_with(
    locations: list[dict[str, Any]],
    transfers: list[dict[str, Any]] | None = None,
    purge: str | None = "P30D",
) -> Policy:
    data = EXAMPLE_POLICY.model_dump(mode="json", by_alias=True, exclude_none=True)
    for rule in data["retention"]:
        if rule["key"] == "booking_data":
            rule["duration"] = "P30D"
            if purge is not None:
                rule["purge_within"] = purge
    data["storage"]["locations"] = locations
    if transfers is not None:
        data["storage"]["transfers"] = transfers
    return Policy.model_validate(data)


LIVE = {"key": "primary", "provider": "Cloud", "country": "US"}
BACKUP = {
    "key": "snapshots",
    "provider": "Cloud",
    "country": "US",
    "kind": "backup",
    "expiry": "P30D",
}
LONG_BACKUP = {
    "key": "archive",
    "provider": "Tape",
    "country": "US",
    "kind": "backup",
    "expiry": "P60D",
    "stores": ["other"],
}


def test_outer_bound_adds_duration_purge_and_backup() -> None:
    policy = policy_with([LIVE, BACKUP])
    bound = staged_bound(policy, policy.rule("booking_data"))
    assert bound.staged
    assert str(bound.total) == "P90D"
    assert bound.backups == ("snapshots",)
    due = dt.datetime(2026, 1, 31, tzinfo=UTC)
    assert bound.live_by(due) == dt.datetime(2026, 3, 2, tzinfo=UTC)
    assert bound.backups_by(due) == dt.datetime(2026, 4, 1, tzinfo=UTC)
    assert str(add_durations(None, None)) == "P0D"


def test_only_the_backups_of_the_rules_stores_count_with_a_datamap() -> None:
    policy = policy_with([LIVE, BACKUP, LONG_BACKUP])
    rule = policy.rule("booking_data")
    # Without a data map every backup counts: the bound is never understated.
    assert str(staged_bound(policy, rule).backup_expiry) == "P60D"
    # The example's record types all live in store 'main', which 'archive' does not hold.
    assert str(staged_bound(policy, rule, EXAMPLE_MAP).backup_expiry) == "P30D"


def test_a_rule_without_stages_adds_nothing() -> None:
    policy = policy_with([LIVE], purge=None)
    bound = staged_bound(policy, policy.rule("booking_data"))
    assert not bound.staged
    assert bound.total == pk.Duration(days=30)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_plans_and_fate_carry_the_backup_bound(kind: str) -> None:
    policy = policy_with([LIVE, BACKUP])
    if kind == "memory":
        db: Any = InMemoryAdapter({rt.table_name: [] for rt in EXAMPLE_MAP.record_types})
    else:
        db = SQLiteAdapter()
        db.create_schema(EXAMPLE_MAP)
    users = EXAMPLE_MAP.record_type("users")
    bookings = EXAMPLE_MAP.record_type("bookings")
    closed = dt.datetime(2025, 11, 1, tzinfo=UTC)
    db.insert(users, [{**dict.fromkeys(users.field_names), "id": 1, "closed_at": closed}])
    db.insert(
        bookings,
        [{**dict.fromkeys(bookings.field_names), "id": 9, "host_id": 1}],
    )
    engine = pk.Engine(policy, EXAMPLE_MAP, db, secret=b"s" * 32)
    plan = engine.plan_retention(now=NOW)
    entry = next(e for e in plan.entries if e.record_type == "bookings")
    assert entry.count == 1
    assert entry.gone_from_backups_by == NOW + dt.timedelta(days=30)
    assert "gone from backups by 2026-01-31" in entry.describe()
    fate = engine.fate("bookings", 9, now=NOW)
    assert fate.expires_at == closed + dt.timedelta(days=30)
    assert fate.gone_from_live_by == closed + dt.timedelta(days=60)
    assert fate.gone_from_backups_by == closed + dt.timedelta(days=90)
    assert "gone from live systems by 2025-12-31" in fate.sentence
    assert "from backups by 2026-01-30" in fate.sentence
    assert fate.to_dict()["gone_from_backups_by"] == "2026-01-30T00:00:00+00:00"


def test_notice_and_ropa_state_the_stages_and_the_total() -> None:
    policy = policy_with([LIVE, BACKUP])
    text = pk.render_notice(policy, lang="en")
    assert "from backups within 30 days more: at most 90 days after" in text
    assert "on live systems within 30 days" in text
    arabic = pk.render_notice(policy, lang="ar")
    assert "النسخ الاحتياطية" in arabic
    ropa = pk.records_of_processing(policy)
    lines = [line for a in ropa.activities for line in a.erasure_time_limits]
    assert any("booking_data" in line and "at most 90 days" in line for line in lines)
    plain = pk.render_notice(policy_with([LIVE], purge=None), lang="en")
    assert "from backups" not in plain
    assert "at most" not in plain


def test_a_backup_without_expiry_is_refused_where_it_is(tmp_path: Path) -> None:
    import yaml

    data = EXAMPLE_POLICY.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["storage"]["locations"].append(
        {"key": "snap", "provider": "X", "country": "US", "kind": "backup"}
    )
    data["storage"]["locations"].append(
        {"key": "live2", "provider": "X", "country": "US", "expiry": "P1D"}
    )
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    with pytest.raises(pk.PolicyError) as caught:
        pk.load_policy(path)
    message = str(caught.value)
    assert "storage.locations[1].expiry: backup location 'snap' needs an 'expiry'" in message
    assert "storage.locations[2].expiry: 'expiry' is for backups" in message


# == storage tied to stores and transfers =========================================================
def _findings(policy: Policy, datamap: DataMap | None = None) -> dict[str, list[pk.Finding]]:
    out: dict[str, list[pk.Finding]] = {}
    for f in pk.check(policy, datamap):
        out.setdefault(f.code, []).append(f)
    return out


def test_storage_outside_the_area_without_a_transfer_is_an_error() -> None:
    singapore = {"key": "sg", "provider": "Cloud", "country": "SG"}
    found = _findings(policy_with([LIVE, singapore]))
    (finding,) = found["storage-without-transfer"]
    assert finding.severity is pk.Severity.ERROR
    assert finding.location == "policy:storage.locations[1].country"
    assert "SG" in finding.message
    # The CCPA covers the US but the GDPR restricts transfers: US storage still needs one.
    (us,) = _findings(policy_with([LIVE], transfers=[]))["storage-without-transfer"]
    assert "outside the area of gdpr, uk_gdpr, which restrict transfers" in us.message
    # A policy under laws that do not restrict transfers (the CCPA alone) needs none.
    ccpa_only = policy_with([LIVE], transfers=[]).model_copy(update={"jurisdictions": ("ccpa",)})
    assert "storage-without-transfer" not in _findings(ccpa_only)
    adequate = [
        {"to_country": "SG", "mechanism": "adequacy"},
        {"to_country": "US", "mechanism": "dpf"},
    ]
    assert "storage-without-transfer" not in _findings(policy_with([LIVE, singapore], adequate))
    # Inside the area (Ireland under the GDPR) no transfer is needed.
    ireland = {"key": "ie", "provider": "Cloud", "country": "IE"}
    assert "storage-without-transfer" not in _findings(policy_with([ireland], transfers=[]))


def test_stores_without_a_location_and_unknown_stores() -> None:
    two_stores = EXAMPLE_MAP.model_dump(mode="json", by_alias=True, exclude_none=True)
    two_stores["record_types"][-1]["store"] = "analytics"
    datamap = DataMap.model_validate(two_stores)
    listed = {**LIVE, "stores": ["main"]}
    found = _findings(policy_with([listed, BACKUP]), datamap)
    (missing,) = found["store-without-location"]
    assert missing.severity is pk.Severity.WARNING
    assert missing.location == f"datamap:record_types[{len(datamap.record_types) - 1}].store"
    assert "'analytics'" in missing.message
    # A live location without 'stores' holds every store; nobody listing stores: no finding.
    assert "store-without-location" not in _findings(policy_with([LIVE, BACKUP]), datamap)
    assert "store-without-location" not in _findings(
        policy_with([listed, {**LIVE, "key": "second"}]), datamap
    )
    typo = {**LIVE, "stores": ["mian"]}
    (unknown,) = [
        f for f in pk.check(policy_with([typo]), datamap) if f.code == "unknown-reference"
    ]
    assert unknown.location == "policy:storage.locations[0].stores[0]"
    assert "did you mean 'main'" in unknown.message


def test_jurisdictions_know_their_countries() -> None:
    assert pk.get_jurisdiction("gdpr").covers("DE")
    assert pk.get_jurisdiction("gdpr").covers("NO")
    assert not pk.get_jurisdiction("gdpr").covers("GB")
    assert pk.get_jurisdiction("uk_gdpr").covers("GB")
