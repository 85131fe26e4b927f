"""A record type of a product is governed only by rules for every product or for its own."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.strategies import minimal_datamap_data, minimal_policy_data

import privacy_kit as pk
from privacy_kit.adapters import InMemoryAdapter
from privacy_kit.model import retention_choices, rule_for_record_type

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _policy(*rules: dict[str, Any]) -> pk.Policy:
    data = minimal_policy_data()
    data["products"] = [{"key": "mail", "name": "Mail"}, {"key": "drive", "name": "Drive"}]
    data["retention"] = list(rules)
    return pk.load_policy(data)


def _rule(key: str, duration: str, products: list[str] | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "key": key,
        "description": f"{key} rule",
        "categories": ["user.contact"],
        "trigger": "created",
        "duration": duration,
    }
    if products is not None:
        rule["products"] = products
    return rule


def _datamap(**extra: Any) -> pk.DataMap:
    data = minimal_datamap_data()
    data["record_types"][0].update(extra)
    return pk.DataMap.model_validate(data)


def test_derived_rule_is_the_one_for_the_record_types_product() -> None:
    # The mail rule is listed first and is as specific: it must not govern drive's records.
    policy = _policy(_rule("mail_rule", "P30D", ["mail"]), _rule("drive_rule", "P2Y", ["drive"]))
    drive = _datamap(product="drive").record_type("users")
    mail = _datamap(product="mail").record_type("users")
    assert rule_for_record_type(policy, drive).key == "drive_rule"  # type: ignore[union-attr]
    assert rule_for_record_type(policy, mail).key == "mail_rule"  # type: ignore[union-attr]
    assert [c.rule.key for c in retention_choices(policy, drive)] == ["drive_rule"]
    assert pk.check(policy, _datamap(product="drive")).ok


def test_a_sweep_uses_only_the_products_rule() -> None:
    policy = _policy(_rule("mail_rule", "P30D", ["mail"]), _rule("all_rule", "P5Y"))
    datamap = _datamap(product="drive")
    created = NOW - dt.timedelta(days=90)
    adapter = InMemoryAdapter({"users": [{"id": 1, "email": "a@x.org", "created_at": created}]})
    engine = pk.Engine(policy, datamap, adapter, secret=b"s" * 32, verify=False)
    plan = engine.plan_retention(now=NOW)
    assert {e.rule for e in plan.entries} == {"all_rule"}
    assert plan.total == 0  # the 30-day mail rule would have deleted it
    engine.apply(plan)
    assert len(adapter.rows("users")) == 1


def test_a_named_rule_of_another_product_is_an_error_and_governs_nothing() -> None:
    policy = _policy(_rule("mail_rule", "P30D", ["mail"]))
    datamap = _datamap(product="drive", retention="mail_rule")
    rt = datamap.record_type("users")
    assert rule_for_record_type(policy, rt) is None
    assert retention_choices(policy, rt) == ()
    codes = {f.code: f for f in pk.check(policy, datamap)}
    finding = codes["retention-rule-other-product"]
    assert finding.location == "datamap:record_types[0].retention"
    assert "'drive'" in finding.message
    assert "mail only" in finding.message


def test_a_product_without_a_rule_is_reported() -> None:
    policy = _policy(_rule("mail_rule", "P30D", ["mail"]))
    report = pk.check(policy, _datamap(product="drive"))
    [finding] = [f for f in report if f.code == "product-without-retention"]
    assert finding.severity is pk.Severity.ERROR
    assert "product 'drive'" in finding.message
    assert not [
        f for f in pk.check(policy, _datamap(product="mail")) if f.code.startswith("product-")
    ]


def test_conditional_entries_of_another_products_rule_govern_nothing() -> None:
    policy = _policy(_rule("mail_rule", "P30D", ["mail"]), _rule("all_rule", "P5Y"))
    datamap = _datamap(
        product="drive",
        retention=[
            {"rule": "mail_rule", "when": {"field": "email", "is_null": True}},
            {"rule": "all_rule"},
        ],
    )
    rt = datamap.record_type("users")
    assert [c.rule.key for c in retention_choices(policy, rt)] == ["all_rule"]
    [finding] = [f for f in pk.check(policy, datamap) if f.code == "retention-rule-other-product"]
    assert finding.location == "datamap:record_types[0].retention[0].rule"
