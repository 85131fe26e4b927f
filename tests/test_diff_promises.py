"""diff() reports changes to the promises around the data, and weakenings are material.

Signals, categories not collected, products, identity rules, conditions on disclosures, solely
automated decisions, purge times, backups, ``forever`` and ``blind`` used to change silently
between two versions. The project-management example declares all of them and no
``changes.material``, so the default materiality applies.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.model import Policy

OLD = pk.load_policy(Path(__file__).parents[1] / "examples/project_management/policy.yaml")
RAW = OLD.model_dump(mode="json", by_alias=True, exclude_none=True)


def _new(edit: Callable[[dict[str, Any]], None]) -> Policy:
    data = copy.deepcopy(RAW)
    data["version"] = "next"
    edit(data)
    return Policy.model_validate(data)


def _changes(edit: Callable[[dict[str, Any]], None], old: Policy = OLD) -> list[pk.PolicyChange]:
    return list(pk.diff(old, _new(edit)).changes)


def _only(changes: list[pk.PolicyChange], prefix: str) -> list[tuple[str, bool, str]]:
    return [
        (c.kind.value, c.material, c.description)
        for c in changes
        if c.kind.value.startswith(prefix)
    ]


def _recipient(data: dict[str, Any], key: str) -> dict[str, Any]:
    return next(r for r in data["recipients"] if r["key"] == key)


def _rule(data: dict[str, Any], key: str) -> dict[str, Any]:
    return next(r for r in data["retention"] if r["key"] == key)


def test_no_change_no_report() -> None:
    assert not pk.diff(OLD, _new(lambda d: None)).changes


# == signals =======================================================================================
def test_a_signal_no_longer_honoured_is_material() -> None:
    honoured = _new(lambda d: d["signals"][0].update(honoured=True))
    weaker = list(pk.diff(honoured, OLD).changes)
    assert _only(weaker, "signal") == [("signal_weakened", True, "DNT is no longer honoured")]
    stronger = list(pk.diff(OLD, honoured).changes)
    assert _only(stronger, "signal") == [("signal_changed", False, "DNT is now honoured")]
    # An honoured signal whose statement disappears is a weakening too.
    dropped = list(pk.diff(honoured, _new(lambda d: d.pop("signals"))).changes)
    assert [c.kind.value for c in dropped if c.kind.value.startswith("signal")] == [
        "signal_weakened"
    ]
    added = _changes(lambda d: d["signals"].append({"signal": "gpc", "honoured": True}))
    assert _only(added, "signal") == [("signal_changed", False, "GPC is now honoured")]


# == not collected =================================================================================
def test_a_category_removed_from_not_collected_is_material() -> None:
    def drop_health(d: dict[str, Any]) -> None:
        d["not_collected"][0]["categories"].remove("user.health")

    assert _only(_changes(drop_health), "not_collected") == [
        (
            "not_collected_removed",
            True,
            "the policy no longer promises not to collect user.health",
        )
    ]
    back = list(pk.diff(_new(drop_health), OLD).changes)
    assert [(c.kind.value, c.material) for c in back] == [("not_collected_added", False)]


# == products ======================================================================================
def test_products_added_and_removed() -> None:
    def add(d: dict[str, Any]) -> None:
        d["products"].append({"key": "docs", "name": {"en": "Worklane Docs"}})

    assert [(c.kind.value, c.key) for c in _changes(add)] == [("product_added", "docs")]
    assert [(c.kind.value, c.key) for c in pk.diff(_new(add), OLD).changes] == [
        ("product_removed", "docs")
    ]


# == identity ======================================================================================
@pytest.mark.parametrize(
    ("edit", "detail"),
    [
        (lambda i: i.update(min_pieces=1), "1 piece(s) of information must match (was 2)"),
        (lambda i: i.update(required_pieces=[]), "no longer required: email"),
        (
            lambda i: i["agents"].update(proof=["written_permission"]),
            "agents no longer need signed_permission",
        ),
        (
            lambda i: (i.clear(), i.update(required=False)),
            "identity is no longer always checked",
        ),
    ],
)
def test_weaker_identity_checks_are_material(
    edit: Callable[[dict[str, Any]], None], detail: str
) -> None:
    changes = _changes(lambda d: edit(d["requests"]["identity"]))
    assert [(c.kind.value, c.material, c.location) for c in changes] == [
        ("identity_weakened", True, "requests.identity")
    ]
    assert detail in changes[0].description


def test_stronger_identity_checks_are_reported_not_material() -> None:
    changes = _changes(lambda d: d["requests"]["identity"].update(min_pieces=3))
    assert [(c.kind.value, c.material) for c in changes] == [("identity_changed", False)]
    assert "3 piece(s) of information must match (was 2)" in changes[0].description


# == conditions on disclosures =====================================================================
@pytest.mark.parametrize(
    ("key", "edit", "detail"),
    [
        ("authorities", lambda r: r.pop("legal_process"), "no legal process is required any more"),
        ("authorities", lambda r: r.update(notify_subject="never"), "the person is told: never"),
        ("authorities", lambda r: r.pop("notify_subject"), "no statement"),
        (
            "acquirer",
            lambda r: r.update(notify_before_transfer=False),
            "no longer told before their data is transferred",
        ),
    ],
)
def test_weaker_disclosure_conditions_are_material(
    key: str, edit: Callable[[dict[str, Any]], None], detail: str
) -> None:
    changes = _changes(lambda d: edit(_recipient(d, key)))
    assert [(c.kind.value, c.material, c.key) for c in changes] == [
        ("disclosure_condition_weakened", True, key)
    ]
    assert detail in changes[0].description


def test_stricter_legal_process_is_not_material() -> None:
    changes = _changes(lambda d: _recipient(d, "authorities").update(legal_process=["warrant"]))
    assert [(c.kind.value, c.material) for c in changes] == [
        ("disclosure_condition_changed", False)
    ]


# == automated decisions ===========================================================================
def test_automated_decisions_now_made_is_material() -> None:
    none_made = {"used": False, "description": {"en": "A person reviews every decision."}}
    old = _new(lambda d: d.update(automated_decisions=none_made))
    made = {**none_made, "used": True, "description": {"en": "Scores decide."}}
    changes = list(pk.diff(old, _new(lambda d: d.update(automated_decisions=made))).changes)
    assert [(c.kind.value, c.material) for c in changes if "automated" in c.kind.value] == [
        ("automated_decisions_weakened", True)
    ]
    withdrawn = list(pk.diff(old, OLD).changes)  # the promise of none is gone
    assert [c.kind.value for c in withdrawn] == ["automated_decisions_weakened"]
    assert [c.kind.value for c in pk.diff(OLD, old).changes] == ["automated_decisions_changed"]


# == retention: purge, forever, blind ==============================================================
def test_purge_within_lengthened_or_dropped_is_material() -> None:
    longer = _changes(lambda d: _rule(d, "trashed_items").update(purge_within="P60D"))
    assert [(c.kind.value, c.material) for c in longer] == [("retention_lengthened", True)]
    assert "purged from live systems within 60 days (was 30 days)" in longer[0].description
    dropped = _changes(lambda d: _rule(d, "trashed_items").pop("purge_within"))
    assert [c.kind.value for c in dropped] == ["retention_lengthened"]
    shorter = _changes(lambda d: _rule(d, "trashed_items").update(purge_within="P7D"))
    assert [(c.kind.value, c.material) for c in shorter] == [("retention_shortened", False)]


def test_forever_added_is_material() -> None:
    forever = {"kind": "archiving", "reason": {"en": "Kept for the record."}, "duration": "forever"}
    changes = _changes(lambda d: _rule(d, "billing_records")["exceptions"].append(forever))
    assert [(c.kind.value, c.material) for c in changes] == [("retention_lengthened", True)]
    assert "now kept forever for archiving" in changes[0].description


def test_blinding_fewer_categories_is_material() -> None:
    def keep_ip(d: dict[str, Any]) -> None:
        _rule(d, "website_analytics")["blind"] = ["user.device.cookie_id"]

    changes = _changes(keep_ip)
    assert {(c.kind.value, c.material) for c in changes} == {("retention_lengthened", True)}
    assert "no longer blinded: user.device.ip_address (kept)" in changes[0].description
    assert {c.kind.value for c in pk.diff(_new(keep_ip), OLD).changes} == {"retention_shortened"}


# == backups =======================================================================================
def test_backup_expiry_lengthened_is_material() -> None:
    def longer(d: dict[str, Any]) -> None:
        d["storage"]["locations"][1]["expiry"] = "P90D"

    changes = _changes(longer)
    assert [(c.kind.value, c.material, c.description) for c in changes] == [
        ("backup_lengthened", True, "backups 'backups' roll off within 90 days (was 30 days)")
    ]
    assert [(c.kind.value, c.material) for c in pk.diff(_new(longer), OLD).changes] == [
        ("backup_shortened", False)
    ]


def test_a_new_backup_is_material() -> None:
    def add(d: dict[str, Any]) -> None:
        d["storage"]["locations"].append(
            {
                "key": "cold",
                "kind": "backup",
                "provider": "Cold storage",
                "country": "US",
                "expiry": "P1Y",
            }
        )

    kinds = {(c.kind.value, c.material) for c in _changes(add)}
    assert ("backup_lengthened", True) in kinds
    assert ("storage_changed", False) in kinds


def test_an_explicit_material_list_still_decides() -> None:
    new = _new(lambda d: d["requests"]["identity"].update(min_pieces=1))
    assert not pk.diff(OLD, new, material={"retention_lengthened"}).is_material
    assert pk.diff(OLD, new, material={"identity_weakened"}).is_material
