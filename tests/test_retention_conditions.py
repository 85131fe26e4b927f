"""Several retention rules on one record type, chosen by the record's state.

An ``items`` table holds live and trashed items: trashed ones follow ``trashed_items`` (30 days
after trashing, counted from ``trashed_at``), every other one the account's ``content`` rule. The
sweeps run on the in-memory, SQLite and (when a server is there) PostgreSQL adapters; the state is
part of the deleting statement, so an item restored between plan and apply is not deleted.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.adapters import InMemoryAdapter, SQLiteAdapter, where
from privacy_kit.model import Condition, DataMap, Policy, retention_choices, rule_for_record
from privacy_kit.retention._states import condition_selection

UTC = dt.UTC
NOW = dt.datetime(2026, 1, 1, tzinfo=UTC)
EXAMPLE_POLICY = pk.load_policy(pk.example_path())
EXAMPLE_MAP = pk.load_datamap(pk.example_path("datamap.yaml"))

TRASHED = {
    "rule": "trashed_items",
    "when": {"field": "status", "equals": "trashed"},
    "trigger_field": "trashed_at",
}


def make_policy(**storage: Any) -> Policy:
    data = EXAMPLE_POLICY.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["retention"].append(
        {
            "key": "trashed_items",
            "description": {"en": "Items in the trash are purged after 30 days."},
            "categories": ["user.content.services"],
            "trigger": "event",
            "duration": "P30D",
            "purge_within": "P30D",
        }
    )
    data["storage"]["locations"].append(
        {
            "key": "snapshots",
            "provider": "Cloud",
            "country": "US",
            "kind": "backup",
            "expiry": "P30D",
        }
    )
    data["storage"].update(storage)
    return Policy.model_validate(data)


POLICY = make_policy()


def make_map(retention: Any, prefix: str = "") -> DataMap:
    users = EXAMPLE_MAP.record_type("users").model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    users["table"] = prefix + "users"
    items = {
        "name": "items",
        "table": prefix + "items",
        "fields": [
            {"name": "id", "type": "integer", "personal": False},
            {"name": "owner_id", "type": "integer", "categories": ["user.account.identifier"]},
            {"name": "title", "categories": ["user.content.services"]},
            {"name": "status", "personal": False},
            {"name": "trashed_at", "type": "timestamp", "personal": False},
        ],
        "subjects": [{"kind": "customer", "field": "owner_id", "owner": True}],
        "account": {"field": "owner_id", "record_type": "users"},
        "retention": retention,
    }
    return DataMap.model_validate({"record_types": [users, items]})


DATAMAP = make_map([TRASHED, {"rule": "content"}])


def user(i: int, closed: dt.datetime | None) -> dict[str, Any]:
    return {
        **dict.fromkeys(EXAMPLE_MAP.record_type("users").field_names),
        "id": i,
        "name": f"User {i}",
        "email": f"u{i}@example.org",
        "closed_at": closed,
    }


def item(i: int, owner: int, status: str | None, trashed: dt.datetime | None) -> dict[str, Any]:
    return {"id": i, "owner_id": owner, "title": f"t{i}", "status": status, "trashed_at": trashed}


OLD = dt.datetime(2025, 10, 1, tzinfo=UTC)  # trashed more than 30 days before NOW
RECENT = dt.datetime(2025, 12, 20, tzinfo=UTC)
USERS = [user(1, None), user(2, dt.datetime(2024, 1, 1, tzinfo=UTC))]
ITEMS = [
    item(1, 1, "trashed", OLD),  # trashed long ago: trashed_items deletes it
    item(2, 1, "trashed", RECENT),  # trashed lately: kept
    item(3, 1, "active", None),  # live, account open: kept
    item(4, 2, "active", None),  # live, account closed: content deletes it
    item(5, 2, "trashed", RECENT),  # trashed lately, account closed: trash rule only, kept
    item(6, 2, None, None),  # no status: the catch-all (content) deletes it
    item(7, 1, "active", OLD),  # restored after trashing (trashed_at left): kept
]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def adapter(request: pytest.FixtureRequest) -> Iterator[tuple[Any, DataMap]]:
    if request.param == "memory":
        yield InMemoryAdapter({"users": [], "items": []}), DATAMAP
        return
    if request.param == "sqlite":
        db = SQLiteAdapter()
        db.create_schema(DATAMAP)
        yield db, DATAMAP
        return
    engine = request.getfixturevalue("postgres_engine")  # skips without SQLAlchemy or the server
    from privacy_kit.adapters import SQLAlchemyAdapter

    prefix = f"r2c{uuid.uuid4().hex[:8]}_"
    dm = make_map([TRASHED, {"rule": "content"}], prefix)
    db = SQLAlchemyAdapter(engine)
    db.create_schema(dm)
    try:
        yield db, dm
    finally:
        import sqlalchemy as sa

        with engine.begin() as conn:
            for table in ("items", "users"):
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {prefix}{table}"))


def _engine(adapter: Any, dm: DataMap) -> pk.Engine:
    adapter.insert(dm.record_type("users"), USERS)
    adapter.insert(dm.record_type("items"), ITEMS)
    return pk.Engine(POLICY, dm, adapter, secret=b"s" * 32)


def _ids(adapter: Any, dm: DataMap) -> set[int]:
    rt = dm.record_type("items")
    return {r["id"] for b in adapter.iter_records(rt, where.all(), fields=["id"]) for r in b}


def test_each_state_follows_its_own_rule(adapter: tuple[Any, DataMap]) -> None:
    db, dm = adapter
    engine = _engine(db, dm)
    plan = engine.plan_retention(now=NOW)
    by_rule = {e.rule: e for e in plan.entries if e.record_type == "items"}
    assert set(by_rule) == {"trashed_items", "content"}
    assert by_rule["trashed_items"].count == 1
    assert by_rule["content"].count == 2
    assert by_rule["trashed_items"].when == "status = 'trashed'"
    assert by_rule["content"].when == "any other record"
    assert "only where status = 'trashed'" in by_rule["trashed_items"].describe()
    report = engine.apply(plan)
    done = {ln.rule: ln.done for ln in report.lines if ln.record_type == "items"}
    assert done == {"trashed_items": 1, "content": 2}
    assert _ids(db, dm) == {2, 3, 5, 7}
    # A second sweep finds nothing more.
    assert engine.plan_retention(now=NOW).by_rule().get("trashed_items", {}).get("delete", 0) == 0


def test_a_state_change_between_plan_and_apply_is_rechecked(adapter: tuple[Any, DataMap]) -> None:
    db, dm = adapter
    engine = _engine(db, dm)
    plan = engine.plan_retention(now=NOW)
    # Item 1 is restored after the plan was made: its trashed_at stays, its state does not.
    db.update(dm.record_type("items"), where.eq("id", 1), {"status": "active"})
    engine.apply(plan)
    remaining = _ids(db, dm)
    assert 1 in remaining  # not deleted by the trash rule: the statement re-checked the state
    assert remaining == {1, 2, 3, 5, 7}


def test_fate_picks_the_rule_of_the_records_state() -> None:
    db = InMemoryAdapter({"users": [], "items": []})
    engine = _engine(db, DATAMAP)
    trashed = engine.fate("items", 2, now=NOW)
    assert trashed.rule == "trashed_items"
    assert trashed.when == "status = 'trashed'"
    assert trashed.expires_at == RECENT + dt.timedelta(days=30)
    assert trashed.gone_from_live_by == RECENT + dt.timedelta(days=60)
    assert trashed.gone_from_backups_by == RECENT + dt.timedelta(days=90)
    assert "from backups by 2026-03-20" in trashed.sentence
    live = engine.fate("items", 3, now=NOW)
    assert live.rule == "content"
    # A record given without its state fields is read from the store for them.
    assert engine.fate("items", {"id": 2, "owner_id": 1}, now=NOW).rule == "trashed_items"


def test_export_and_erasure_see_the_record_type_once(tmp_path: Path) -> None:
    db = InMemoryAdapter({"users": [], "items": []})
    engine = _engine(db, DATAMAP)
    subject = pk.Subject.of("customer", user_id=1)
    result = engine.export(subject, tmp_path / "out", now=NOW, format="folder")
    assert result.counts["items"] == 4  # items 1, 2, 3, 7: each once
    rows = [p for p in result.files if "items" in str(p)]
    assert rows
    manifest = (tmp_path / "out" / "manifest.json").read_text()
    assert "status = 'trashed'" in manifest  # the export says which rule governs which state
    plan = engine.plan_erasure(subject, now=NOW)
    # Trashed items (1, 2) are deleted; live ones (3, 7) keep their title for collaborators
    # (the content rule's shared_content exception): each item is in exactly one step.
    assert plan.deleted["items"] == 2
    kept = [(k.reason.value, k.count) for k in plan.kept if k.record_type == "items"]
    assert kept == [("shared_content", 2)]
    engine.apply(plan)
    assert _ids(db, DATAMAP) == {3, 4, 5, 6, 7}


def test_erasure_splits_by_state_when_a_states_rule_keeps_data() -> None:
    data = POLICY.model_dump(mode="json", by_alias=True, exclude_none=True)
    for rule in data["retention"]:
        if rule["key"] == "trashed_items":
            rule["exceptions"] = [
                {
                    "kind": "legal_obligation",
                    "reason": {"en": "Kept for audits."},
                    "duration": "P1Y",
                }
            ]
    policy = Policy.model_validate(data)
    db = InMemoryAdapter({"users": [], "items": []})
    db.insert(DATAMAP.record_type("users"), USERS)
    db.insert(DATAMAP.record_type("items"), ITEMS)
    engine = pk.Engine(policy, DATAMAP, db, secret=b"s" * 32)
    plan = engine.plan_erasure(pk.Subject.of("customer", user_id=1), now=NOW)
    assert "items" not in plan.deleted
    kept = [k for k in plan.kept if k.record_type == "items" and k.count]
    assert sorted((k.reason.value, k.count, k.fields) for k in kept) == [
        ("legal_obligation", 2, ("title",)),  # trashed items 1, 2: kept for audits
        ("shared_content", 2, ("title",)),  # live items 3, 7: kept for collaborators
    ]


# == check(): overlap and gap =====================================================================
def _codes(retention: Any) -> dict[str, list[pk.Finding]]:
    report = pk.check(POLICY, make_map(retention))
    out: dict[str, list[pk.Finding]] = {}
    for f in report:
        if f.code.startswith("retention-conditions"):
            out.setdefault(f.code, []).append(f)
    return out


def test_disjoint_and_complete_conditions_give_no_finding() -> None:
    assert _codes([TRASHED, {"rule": "content"}]) == {}
    null_split = [
        {"rule": "trashed_items", "when": {"field": "trashed_at", "is_null": False}},
        {"rule": "content", "when": {"field": "trashed_at", "is_null": True}},
    ]
    assert _codes(null_split) == {}
    values = [
        {"rule": "trashed_items", "when": {"field": "status", "equals": "trashed"}},
        {"rule": "content", "when": {"not": {"field": "status", "equals": "trashed"}}},
    ]
    assert _codes(values) == {}


def test_overlapping_values_are_an_error() -> None:
    found = _codes(
        [
            {"rule": "trashed_items", "when": {"field": "status", "equals": "trashed"}},
            {"rule": "content", "when": {"field": "status", "in": ["trashed", "active"]}},
            {"rule": "content"},
        ]
    )
    (overlap,) = found["retention-conditions-overlap"]
    assert overlap.severity is pk.Severity.ERROR
    assert overlap.location == "datamap:record_types[1].retention[1].when"
    assert "status = 'trashed'" in overlap.message
    assert "retention-conditions-gap" not in found


def test_conditions_on_different_fields_may_overlap() -> None:
    found = _codes(
        [
            {"rule": "trashed_items", "when": {"field": "trashed_at", "is_null": False}},
            {"rule": "content", "when": {"field": "status", "equals": "active"}},
            {"rule": "content"},
        ]
    )
    (overlap,) = found["retention-conditions-overlap"]
    assert overlap.severity is pk.Severity.WARNING
    assert "may overlap" in overlap.message


def test_a_state_no_entry_covers_is_a_gap() -> None:
    found = _codes(
        [
            {"rule": "trashed_items", "when": {"field": "status", "equals": "trashed"}},
            {"rule": "content", "when": {"field": "status", "equals": "active"}},
        ]
    )
    (gap,) = found["retention-conditions-gap"]
    assert gap.severity is pk.Severity.ERROR
    assert "status null" in gap.message
    assert not pk.check(POLICY, make_map([TRASHED, {"rule": "content"}])).errors


def test_trigger_field_replaces_the_missing_event_time() -> None:
    # Without trigger_field the event rule has no time field on items: a finding says so.
    report = pk.check(POLICY, make_map([{**TRASHED, "trigger_field": None}, {"rule": "content"}]))
    assert "trigger-without-time-field" in report.codes()
    assert "trigger-without-time-field" not in pk.check(POLICY, DATAMAP).codes()


# == located refusals =============================================================================
@pytest.mark.parametrize(
    ("retention", "location", "words"),
    [
        (
            [{"rule": "content", "when": {"field": "stat", "equals": "x"}}, {"rule": "content"}],
            "record_types[1].retention[0].when.field",
            "did you mean 'status'",
        ),
        (
            [{"rule": "content", "when": {"field": "status", "equals": 3}}, {"rule": "content"}],
            "record_types[1].retention[0].when.equals",
            "not a text value",
        ),
        (
            [
                {"rule": "content", "when": {"all": [{"field": "trashed_at", "equals": "x"}]}},
                {"rule": "content"},
            ],
            "record_types[1].retention[0].when.all[0].equals",
            "is_null only",
        ),
        (
            [{"rule": "content"}, TRASHED],
            "record_types[1].retention[0].when",
            "only the last entry",
        ),
        (
            [{**TRASHED, "trigger_field": "title"}, {"rule": "content"}],
            "record_types[1].retention[0].trigger_field",
            "type: timestamp",
        ),
        (
            [{"rule": "content", "when": {"field": "status", "equals": "a", "in": ["b"]}}],
            "record_types[1].retention[0].when",
            "exactly one of",
        ),
        (
            [{"rule": "content", "when": {"field": "status", "equals": None}}],
            "record_types[1].retention[0].when",
            "is_null: true",
        ),
    ],
)
def test_bad_entries_are_refused_where_they_are(
    tmp_path: Path, retention: Any, location: str, words: str
) -> None:
    import yaml

    dm = make_map("content").model_dump(mode="json", by_alias=True, exclude_none=True)
    dm["record_types"][1]["retention"] = retention
    path = tmp_path / "datamap.yaml"
    path.write_text(yaml.safe_dump(dm))
    with pytest.raises(pk.PolicyError) as caught:
        pk.load_datamap(path)
    lines = [line.strip() for line in str(caught.value).splitlines()]
    assert any(f"{location}: " in line and words in line for line in lines), lines


def test_unknown_rule_in_an_entry_is_located() -> None:
    report = pk.check(POLICY, make_map([{**TRASHED, "rule": "trashed_item"}, {"rule": "content"}]))
    (finding,) = [f for f in report if f.code == "unknown-reference"]
    assert finding.location == "datamap:record_types[1].retention[0].rule"
    assert "did you mean 'trashed_items'" in finding.message


# == the condition and its selection agree ========================================================
CONDITIONS = [
    {"field": "status", "is_null": True},
    {"field": "status", "equals": "a"},
    {"field": "status", "in": ["a", "b"]},
    {"not": {"field": "status", "equals": "a"}},
    {"all": [{"field": "status", "equals": "a"}, {"field": "flag", "equals": True}]},
    {"any": [{"field": "flag", "equals": False}, {"not": {"field": "n", "in": [1, 2]}}]},
]


@pytest.mark.parametrize("raw", CONDITIONS)
def test_condition_and_selection_agree_on_every_state(raw: dict[str, Any]) -> None:
    condition = Condition.model_validate(raw)
    selection = condition_selection(condition)
    for status, flag, n in itertools.product(
        [None, "a", "b", "c"], [None, True, False], [None, 1, 3]
    ):
        record = {"status": status, "flag": flag, "n": n}
        assert selection.evaluate(record) is condition.evaluate(record), record


def test_sqlite_compiles_the_states_with_nulls_like_the_model() -> None:
    dm = make_map([TRASHED, {"rule": "content"}])
    db = SQLiteAdapter()
    db.create_schema(dm)
    db.insert(dm.record_type("items"), ITEMS)
    rt = dm.record_type("items")
    for choice in retention_choices(POLICY, rt):
        from privacy_kit.retention._states import choice_selection

        sel = choice_selection(choice)
        assert sel is not None
        in_db = {r["id"] for b in db.iter_records(rt, sel, fields=["id"]) for r in b}
        in_model = {i["id"] for i in ITEMS if rule_for_record(POLICY, rt, i) == choice}
        assert in_db == in_model
