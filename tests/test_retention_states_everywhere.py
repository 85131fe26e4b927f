"""Every operation that names a record type's retention rule sees each rule of its states.

A record type with rules by state (``retention`` as a list of conditional entries) has no one
rule. Orphan counting, erasure commitments, the export manifest, ``Engine.rule_for``, the fides
manifest, ``check()``'s anonymisation findings and the records of processing each used to ask
for that one rule and silently skip such a record type; here each handles every state's rule,
or refuses to guess. Fixtures: an ``items`` table whose trashed items follow ``trashed_items``
and every other one the account's ``content`` rule (``tests/test_retention_conditions.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.adapters import InMemoryAdapter
from privacy_kit.interop import fides
from privacy_kit.model import Policy, governing_rule
from test_retention_conditions import (
    DATAMAP,
    ITEMS,
    NOW,
    POLICY,
    RECENT,
    TRASHED,
    USERS,
    item,
    make_map,
)


def _policy(change: dict[str, Any], extra: list[dict[str, Any]] = ()) -> Policy:  # type: ignore[assignment]
    data = POLICY.model_dump(mode="json", by_alias=True, exclude_none=True)
    for rule in data["retention"]:
        if rule["key"] in change:
            rule.update(change[rule["key"]])
    data["retention"].extend(extra)
    return Policy.model_validate(data)


def _engine(policy: Policy = POLICY, extra_items: list[dict[str, Any]] = ()) -> pk.Engine:  # type: ignore[assignment]
    db = InMemoryAdapter({"users": [], "items": []})
    db.insert(DATAMAP.record_type("users"), USERS)
    db.insert(DATAMAP.record_type("items"), [*ITEMS, *extra_items])
    return pk.Engine(policy, DATAMAP, db, secret=b"s" * 32)


# == retention: orphans ============================================================================
def test_orphans_of_a_state_timed_by_the_account_are_reported() -> None:
    engine = _engine(
        extra_items=[
            item(10, 99, "active", None),  # live, its account row is gone: orphaned
            item(11, None, "active", None),  # live, linked to no account: orphaned
            item(12, 99, "trashed", RECENT),  # trashed: timed by its own trashed_at
        ]
    )
    orphans = engine.plan_retention(now=NOW).orphans
    assert [(o.record_type, o.rule, o.missing, o.unlinked, o.when) for o in orphans] == [
        ("items", "content", 1, 1, "any other record")
    ]
    assert orphans[0].describe().startswith("items (any other record): 2 record(s)")
    assert orphans[0].to_dict()["when"] == "any other record"


# == erasure: commitments ==========================================================================
def test_erasure_schedules_the_states_timed_by_the_account_row() -> None:
    engine = _engine()
    plan = engine.plan_erasure(pk.Subject.of("customer", user_id=1), now=NOW)
    # Live items 3 and 7 keep their title for collaborators and read their account_closed time
    # from users.closed_at: the erasure removes that row later, so a commitment times them.
    items = [c for c in plan.commitments if c.record_type == "items"]
    assert [(c.rule, c.action, c.count, c.reason) for c in items] == [
        ("content", "delete", 2, "account_removed")
    ]
    assert items[0].selection.matches({"owner_id": 1, "status": "active"})
    assert not items[0].selection.matches({"owner_id": 1, "status": "trashed"})
    assert any("items record(s) in state 'any other record'" in n for n in plan.notes)


def test_kept_commitments_name_the_states_rule_and_keep_states_apart() -> None:
    audit_year = [{"kind": "legal_obligation", "reason": {"en": "Audits."}, "duration": "P1Y"}]
    policy = _policy({"trashed_items": {"exceptions": audit_year}})
    engine = _engine(policy)
    plan = engine.plan_erasure(pk.Subject.of("customer", user_id=1), now=NOW)
    kept = [
        c for c in plan.commitments if c.record_type == "items" and c.reason != "account_removed"
    ]
    assert [(c.rule, c.action, c.count) for c in kept] == [("trashed_items", "delete", 2)]
    assert kept[0].selection.matches({"owner_id": 1, "status": "trashed"})
    assert not kept[0].selection.matches({"owner_id": 1, "status": "active"})
    assert {k.rule for k in plan.kept if k.record_type == "items" and k.count} == {
        "trashed_items",
        "content",
    }


# == export manifest ===============================================================================
def test_export_states_each_states_rule_in_full(tmp_path: Path) -> None:
    forever = {"duration": "forever", "reason": {"en": "Kept to settle disputes."}}
    policy = _policy({"trashed_items": {**forever, "purge_within": None}})
    engine = _engine(policy)
    engine.export(pk.Subject.of("customer", user_id=1), tmp_path / "out", now=NOW, format="folder")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    text = json.dumps(manifest)
    assert '"by_state"' in text
    states = next(
        e["retention"]["by_state"] for e in _entries(manifest) if e.get("record_type") == "items"
    )
    by_rule = {s["rule"]: s for s in states}
    assert by_rule["trashed_items"]["duration"] == "forever"  # was None: no end stated
    assert by_rule["trashed_items"]["trigger_field"] == "trashed_at"
    assert by_rule["content"]["exceptions"][0]["kind"] == "shared_content"


def _entries(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if "record_type" in node and "retention" in node else []
        return found + [e for v in node.values() for e in _entries(v)]
    if isinstance(node, list):
        return [e for v in node for e in _entries(v)]
    return []


# == Engine.rule_for ===============================================================================
def test_rule_for_refuses_to_guess_between_states() -> None:
    engine = _engine()
    with pytest.raises(pk.ConfigurationError, match="rules by state"):
        engine.rule_for("items")
    assert engine.rule_for("items", {"status": "trashed"}).key == "trashed_items"  # type: ignore[union-attr]
    assert engine.rule_for("items", {"status": "active"}).key == "content"  # type: ignore[union-attr]
    assert engine.rule_for("users").key == "account_data"  # type: ignore[union-attr]
    # One rule in every state: that rule.
    same = make_map([{**TRASHED, "rule": "content"}, {"rule": "content"}])
    assert governing_rule(POLICY, same.record_type("items")).key == "content"  # type: ignore[union-attr]


# == fides =========================================================================================
def test_fides_manifest_gives_every_states_period() -> None:
    forever = {
        "exceptions": [{"kind": "archiving", "reason": {"en": "Archive."}, "duration": "forever"}]
    }
    policy = _policy({"trashed_items": forever})
    manifest = fides.datamap_to_fides(DATAMAP, policy=policy)
    collection = _fides_collection(manifest, "items")
    assert collection["retention"] == (
        "status = 'trashed': P30D after event; any other record: until account_closed"
    )
    title = next(f for f in collection["fields"] if f["name"] == "title")
    assert title["retention"] == "status = 'trashed': forever"


def _fides_collection(node: Any, name: str) -> dict[str, Any]:
    if isinstance(node, dict):
        if node.get("name") == name and "fields" in node:
            return node
        for v in node.values():
            try:
                return _fides_collection(v, name)
            except LookupError:
                pass
    if isinstance(node, list):
        for v in node:
            try:
                return _fides_collection(v, name)
            except LookupError:
                pass
    raise LookupError(name)


# == check() =======================================================================================
def test_anonymising_findings_are_located_at_the_states_entry() -> None:
    blind = {
        "key": "trashed_blind",
        "description": {"en": "Trashed items lose their contact details after 30 days."},
        "categories": ["user.content.services"],
        "trigger": "event",
        "duration": "P30D",
        "action": "blind",
        "blind": ["user.contact.email"],
    }
    policy = _policy({}, [blind])
    dm = make_map([{**TRASHED, "rule": "trashed_blind"}, {"rule": "content"}])
    found = [f for f in pk.check(policy, dm) if f.code == "blind-matches-nothing"]
    assert [f.location for f in found] == ["datamap:record_types[1].retention[0]"]
    assert "'items' (status = 'trashed')" in found[0].message


# == records of processing =========================================================================
def test_records_of_processing_list_rules_used_only_by_state() -> None:
    records = pk.records_of_processing(POLICY)
    limits = [
        line for a in records for line in a.erasure_time_limits if line.startswith("trashed_items")
    ]
    assert limits, "the trash rule is missing from the records of processing"
    example = pk.load_policy(Path(__file__).parents[1] / "examples/project_management/policy.yaml")
    lines = {
        line.split(":")[0]
        for a in pk.records_of_processing(example)
        for line in a.erasure_time_limits
    }
    assert {"project_content", "trashed_items"} <= lines
