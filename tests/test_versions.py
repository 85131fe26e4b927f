"""Policy versions: which version is in force, exports, the diff in user terms, materiality, notices."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
import yaml

import privacy_kit as pk
from privacy_kit import ChangeKind
from privacy_kit.lifecycle import PolicyChange

UTC = dt.UTC


@pytest.fixture(scope="module")
def policy() -> pk.Policy:
    return pk.load_policy(pk.example_path("policy.yaml"))


def dumped(policy: pk.Policy, section: str) -> Any:
    return policy.model_dump(mode="python")[section]


def with_rule(policy: pk.Policy, key: str, **changes: Any) -> pk.Policy:
    rules = [dict(r, **changes) if r["key"] == key else r for r in dumped(policy, "retention")]
    return policy.replace(version="next", retention=rules)


NEW_RECIPIENT = {
    "key": "analytics",
    "kind": "service_providers",
    "name": {"en": "Our analytics provider", "ar": "مزوّد التحليلات لدينا"},
    "categories": ["user.usage"],
    "purposes": ["product.development"],
    "conditions": {
        "en": "It measures which features are used.",
        "ar": "يقيس الميزات المستخدمة.",
    },
}


# -- history -----------------------------------------------------------------------------------
def two_versions(policy: pk.Policy, tz: str = "UTC") -> pk.PolicyHistory:
    v2 = policy.replace(version="2025.1", effective=dt.date(2025, 3, 1))
    return pk.PolicyHistory([v2, policy], tz=tz)


def test_versions_are_ordered_by_effective_instant(policy: pk.Policy) -> None:
    history = two_versions(policy)
    assert [v.version for v in history] == ["2024.1", "2025.1"]
    assert history.latest.version == "2025.1"
    assert history.previous("2025.1").version == "2024.1"  # type: ignore[union-attr]
    assert history.previous("2024.1") is None
    assert len(history) == 2


def test_in_force_at_the_exact_effective_instant(policy: pk.Policy) -> None:
    history = two_versions(policy)
    start = dt.datetime(2025, 3, 1, tzinfo=UTC)
    assert history.in_force(start).version == "2025.1"
    assert history.in_force(start - dt.timedelta(microseconds=1)).version == "2024.1"
    assert history.in_force(dt.datetime(2024, 5, 1, tzinfo=UTC)).version == "2024.1"
    assert history.in_force(dt.datetime(2030, 1, 1, tzinfo=UTC)).version == "2025.1"


def test_in_force_compares_instants_across_time_zones(policy: pk.Policy) -> None:
    # Effective dates begin at local midnight in Tokyo (UTC+9): 2025-02-28T15:00Z.
    history = two_versions(policy, tz="Asia/Tokyo")
    assert history.in_force(dt.datetime(2025, 2, 28, 15, tzinfo=UTC)).version == "2025.1"
    assert history.in_force(dt.datetime(2025, 2, 28, 14, 59, tzinfo=UTC)).version == "2024.1"
    la = ZoneInfo("America/Los_Angeles")
    assert history.in_force(dt.datetime(2025, 2, 28, 7, tzinfo=la)).version == "2025.1"


def test_in_force_on_a_dst_change_day(policy: pk.Policy) -> None:
    # New York moved to EDT on 2025-03-09; midnight that day is still EST (UTC-5).
    v2 = policy.replace(version="2025.1", effective=dt.date(2025, 3, 9))
    history = pk.PolicyHistory([policy, v2], tz=ZoneInfo("America/New_York"))
    assert history.latest.effective_at.utcoffset() == dt.timedelta(hours=-5)
    assert history.in_force(dt.datetime(2025, 3, 9, 5, tzinfo=UTC)).version == "2025.1"
    assert history.in_force(dt.datetime(2025, 3, 9, 4, 59, tzinfo=UTC)).version == "2024.1"


def test_explicit_effective_instant(policy: pk.Policy) -> None:
    history = pk.PolicyHistory([policy])
    v2 = policy.replace(version="2025.1", effective=dt.date(2025, 3, 1))
    history.add(v2, effective_at=dt.datetime(2025, 3, 1, 9, 30, tzinfo=UTC))
    assert history.in_force(dt.datetime(2025, 3, 1, 9, 29, tzinfo=UTC)).version == "2024.1"
    assert history.in_force(dt.datetime(2025, 3, 1, 9, 30, tzinfo=UTC)).version == "2025.1"


def test_before_the_first_version_is_a_clear_error(policy: pk.Policy) -> None:
    history = pk.PolicyHistory([policy])
    with pytest.raises(pk.ConfigurationError, match=r"no policy version was in force.*'2024\.1'"):
        history.in_force(dt.datetime(2024, 4, 30, 23, 59, tzinfo=UTC))
    with pytest.raises(pk.ConfigurationError, match="empty"):
        pk.PolicyHistory().in_force(dt.datetime(2024, 4, 30, tzinfo=UTC))
    with pytest.raises(pk.ConfigurationError, match="empty"):
        _ = pk.PolicyHistory().latest


def test_naive_datetimes_are_refused(policy: pk.Policy) -> None:
    history = pk.PolicyHistory([policy])
    with pytest.raises(ValueError, match="at must be a timezone-aware datetime"):
        history.in_force(dt.datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="effective_at must be a timezone-aware"):
        history.add(policy.replace(version="x"), effective_at=dt.datetime(2025, 1, 1))


def test_duplicates_are_refused(policy: pk.Policy) -> None:
    history = pk.PolicyHistory([policy])
    with pytest.raises(pk.ConfigurationError, match="already in the history"):
        history.add(policy)
    with pytest.raises(pk.ConfigurationError, match="would both take effect"):
        history.add(policy.replace(version="2024.2"))
    with pytest.raises(pk.ConfigurationError, match="unknown time zone"):
        pk.PolicyHistory(tz="Mars/Olympus")


def test_unknown_version_has_a_hint(policy: pk.Policy) -> None:
    with pytest.raises(KeyError, match=r"did you mean '2024\.1'"):
        two_versions(policy).get("2024.2")


def test_export_json_and_yaml_reload_to_the_same_policy(policy: pk.Policy) -> None:
    history = two_versions(policy)
    text = history.export("2024.1")
    again = pk.load_policy(orjson.loads(text))
    assert again.model_dump(mode="json") == policy.model_dump(mode="json")
    ytext = history.export("2024.1", "yaml")
    assert "إشعار الخصوصية" in ytext  # Arabic kept readable, not escaped
    assert pk.load_policy(yaml.safe_load(ytext)).model_dump(mode="json") == policy.model_dump(
        mode="json"
    )
    with pytest.raises(pk.ConfigurationError, match="unknown export format 'xml'"):
        history.export("2024.1", "xml")  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_whole_history_round_trips(policy: pk.Policy, fmt: str) -> None:
    history = two_versions(policy, tz="Europe/Paris")
    back = pk.PolicyHistory.from_export(history.export_all(fmt))  # type: ignore[arg-type]
    assert [(v.version, v.effective_at) for v in back] == [
        (v.version, v.effective_at) for v in history
    ]
    assert back.get("2025.1").policy.effective == dt.date(2025, 3, 1)


def test_from_export_rejects_other_documents() -> None:
    with pytest.raises(pk.ConfigurationError, match="expected a 'versions' list"):
        pk.PolicyHistory.from_export('{"policy": 1}')
    with pytest.raises(pk.ConfigurationError, match=r"versions\[0\]: expected a mapping"):
        pk.PolicyHistory.from_export({"versions": [{"version": "1"}]})


def test_history_diffs_consecutive_versions(policy: pk.Policy) -> None:
    history = two_versions(policy)
    (only,) = history.changes()
    assert only.new.version == "2025.1"
    assert not only  # same content, only version and date differ
    assert history.diff("2024.1", "2025.1").changes == ()


# -- diff: recipients and the material-change notices -----------------------------------------
def test_new_recipient_is_material_with_email_and_in_service_notices(policy: pk.Policy) -> None:
    new = policy.replace(
        version="2025.1",
        effective=dt.date(2025, 3, 1),
        recipients=[*dumped(policy, "recipients"), NEW_RECIPIENT],
    )
    d = pk.diff(policy, new)
    (change,) = d.changes
    assert change.kind is ChangeKind.RECIPIENT_ADDED
    assert change.location == "recipients[5]"
    assert change.key == "analytics"
    assert "Our analytics provider" in change.description
    assert change.material
    assert d.is_material
    # user.usage is collected from every kind of subject the policy covers.
    assert change.subject_kinds == ("customer", "end_user", "account_admin")
    (notice,) = d.notifications()
    assert notice.channels == ("email", "in_service")
    assert notice.subject_kinds == ("customer", "end_user", "account_admin")
    assert notice.takes_effect == notice.notify_by == dt.date(2025, 3, 1)
    assert set(notice.text) == {"en", "ar"}
    assert notice.text["en"].startswith("We post every change to this notice.")
    assert (
        "What changes: Our analytics provider: It measures which features are used."
        in (notice.text["en"])
    )
    assert "2025-03-01" in notice.text["en"]
    assert "https://www.appointlet.com/privacy" in notice.text["en"]
    assert "مزوّد التحليلات لدينا" in notice.text["ar"]
    assert "ما الذي يتغيّر" in notice.text["ar"]


def test_recipient_limited_to_some_subjects(policy: pk.Policy) -> None:
    limited = dict(NEW_RECIPIENT, subjects=["customer"])
    new = policy.replace(version="2", recipients=[*dumped(policy, "recipients"), limited])
    assert pk.diff(policy, new).changes[0].subject_kinds == ("customer",)


def test_notice_period_moves_the_effective_date(policy: pk.Policy) -> None:
    changes = dict(dumped(policy, "changes"), notice_period="P30D")
    new = policy.replace(
        version="2",
        effective=dt.date(2025, 1, 31),
        changes=changes,
        recipients=[*dumped(policy, "recipients"), NEW_RECIPIENT],
    )
    (notice,) = pk.diff(policy, new).notifications()
    assert notice.notify_by == dt.date(2025, 1, 31)
    assert notice.takes_effect == dt.date(2025, 3, 2)
    monthly = new.replace(changes=dict(changes, notice_period="P1M"))
    (notice,) = pk.diff(policy, monthly).notifications()
    assert notice.takes_effect == dt.date(2025, 2, 28)  # one month after 31 January


def test_recipient_removed_and_changed(policy: pk.Policy) -> None:
    recipients = [r for r in dumped(policy, "recipients") if r["key"] != "integration_partners"]
    for r in recipients:
        if r["key"] == "account_admins":
            r["categories"] = [*r["categories"], "user.usage.features"]
    new = policy.replace(version="2", recipients=recipients)
    d = pk.diff(policy, new)
    kinds = {c.kind: c for c in d.changes}
    changed = kinds[ChangeKind.RECIPIENT_CHANGED]
    assert changed.key == "account_admins"
    assert "now also categories user.usage.features" in changed.description
    assert changed.subject_kinds == ("customer", "account_admin")
    removed = kinds[ChangeKind.RECIPIENT_REMOVED]
    assert (removed.key, removed.location, removed.side) == (
        "integration_partners",
        "recipients[3]",
        "old",
    )
    assert not d.is_material  # neither kind is in the example's material list
    assert d.notifications() == ()


# -- diff: categories and purposes -------------------------------------------------------------
def test_category_and_purpose_changes(policy: pk.Policy) -> None:
    collection = [c for c in dumped(policy, "collection") if c["category"] != "user.device.type"]
    collection.append(
        {
            "category": "user.location.approximate",
            "source": "automatic",
            "purposes": ["security.fraud"],
        }
    )
    for c in collection:
        if c["category"] == "user.device.ip_address":
            c["purposes"] = ["security.fraud", "product.analytics"]
        if c["category"] == "user.device.browser":
            c["purposes"] = ["security.troubleshooting"]
    new = policy.replace(version="2", collection=collection)
    d = pk.diff(policy, new)
    by_kind = {c.kind: c for c in d.changes}
    assert by_kind[ChangeKind.CATEGORY_ADDED].key == "user.location.approximate"
    assert by_kind[ChangeKind.CATEGORY_ADDED].location == f"collection[{len(collection) - 1}]"
    assert by_kind[ChangeKind.CATEGORY_REMOVED].key == "user.device.type"
    assert by_kind[ChangeKind.CATEGORY_REMOVED].side == "old"
    assert by_kind[ChangeKind.PURPOSE_ADDED].key == "user.device.ip_address:product.analytics"
    assert by_kind[ChangeKind.PURPOSE_REMOVED].key == "user.device.browser:product.development"
    assert {c.kind for c in d.material} == {ChangeKind.CATEGORY_ADDED, ChangeKind.PURPOSE_ADDED}


def test_category_collected_from_more_subjects(policy: pk.Policy) -> None:
    collection = dumped(policy, "collection")
    for c in collection:
        if c["category"] == "user.content.organization":
            c["subjects"] = ["customer", "end_user"]
    d = pk.diff(policy, policy.replace(version="2", collection=collection))
    (change,) = d.changes
    assert change.kind is ChangeKind.CATEGORY_ADDED
    assert change.subject_kinds == ("end_user",)
    assert change.location.endswith(".subjects")


# -- diff: retention ---------------------------------------------------------------------------
def test_retention_lengthened_shortened_and_changed(policy: pk.Policy) -> None:
    longer = with_rule(policy, "payment_data", duration="P1Y")
    (change,) = pk.diff(policy, longer).changes
    assert change.kind is ChangeKind.RETENTION_LENGTHENED
    assert change.location == "retention[3]"
    assert change.description == (
        "user.financial: kept 1 year after account closed (was until account closed)"
    )
    assert change.material
    assert change.subject_kinds == ("customer",)
    shorter = with_rule(longer, "payment_data", duration="P6M")
    (change,) = pk.diff(longer, shorter).changes
    assert change.kind is ChangeKind.RETENTION_SHORTENED
    assert not change.material
    moved = with_rule(policy, "payment_data", trigger="created", duration="P1Y")
    (change,) = pk.diff(policy, moved).changes
    assert change.kind is ChangeKind.RETENTION_CHANGED
    assert "counted" not in change.description
    assert "after created" in change.description


def test_retention_compares_calendar_durations(policy: pk.Policy) -> None:
    # One month is shorter than 30 days when counted from the end of January.
    month = with_rule(policy, "payment_data", duration="P1M")
    thirty = with_rule(policy, "payment_data", duration="P30D")
    assert pk.diff(month, thirty).changes[0].kind is ChangeKind.RETENTION_LENGTHENED
    assert pk.diff(thirty, month).changes[0].kind is ChangeKind.RETENTION_SHORTENED
    hours = with_rule(policy, "payment_data", duration="PT720H")
    assert pk.diff(thirty, hours).changes == ()  # 720 hours is 30 days


def test_retention_groups_categories_of_one_rule(policy: pk.Policy) -> None:
    new = with_rule(policy, "account_data", action="anonymize")
    (change,) = pk.diff(policy, new).changes
    assert change.kind is ChangeKind.RETENTION_CHANGED
    assert change.description.startswith("user.account, user.contact, user.usage, user.device")
    assert "anonymize instead of delete" in change.description


def test_retention_rule_removed(policy: pk.Policy) -> None:
    rules = [r for r in dumped(policy, "retention") if r["key"] != "payment_data"]
    (change,) = pk.diff(policy, policy.replace(version="2", retention=rules)).changes
    assert change.kind is ChangeKind.RETENTION_CHANGED
    assert change.side == "old"
    assert "no longer has a retention rule" in change.description


# -- diff: rights, transfers, storage, security, breach, age, controller, text ----------------
def test_rights_removed_narrowed_and_added(policy: pk.Policy) -> None:
    rights = [r for r in dumped(policy, "rights") if r["right"] != "objection"]
    for r in rights:
        if r["right"] == "access":
            r["refusal_reasons"] = [*r["refusal_reasons"], "manifestly_unfounded"]
    rights.append({"right": "restriction", "description": "You can ask us to restrict use."})
    d = pk.diff(policy, policy.replace(version="2", rights=rights))
    described = {(c.kind, c.key): c for c in d.changes}
    removed = described[ChangeKind.RIGHT_REMOVED, "objection"]
    assert removed.material
    assert removed.side == "old"
    narrowed = described[ChangeKind.RIGHT_REMOVED, "access"]
    assert "may now also be refused: manifestly_unfounded" in narrowed.description
    added = described[ChangeKind.RIGHT_ADDED, "restriction"]
    assert not added.material


def test_right_scope_follows_the_policy_jurisdictions(policy: pk.Policy) -> None:
    new = policy.replace(version="2", jurisdictions=["gdpr", "uk_gdpr", "ccpa", "lgpd"])
    d = pk.diff(policy, new)
    assert {c.kind for c in d.changes} == {ChangeKind.RIGHT_ADDED}
    assert all("under lgpd" in c.description for c in d.changes)
    fewer_channels = [
        dict(r, channels=["support"]) if r["right"] == "rectification" else r
        for r in dumped(policy, "rights")
    ]
    (change,) = pk.diff(policy, policy.replace(version="3", rights=fewer_channels)).changes
    assert change.kind is ChangeKind.RIGHT_REMOVED
    assert "no longer through self_service" in change.description


def test_transfers_storage_and_security(policy: pk.Policy) -> None:
    storage = dumped(policy, "storage")
    storage["transfers"] = [
        {"to_country": "US", "from_region": "EU/EEA", "mechanism": "dpf"},
        {"to_country": "IN", "from_region": "EU/EEA", "mechanism": "scc"},
    ]
    storage["locations"] = [dict(storage["locations"][0], country="IE", region="eu-west-1")]
    security = [m for m in dumped(policy, "security") if m["key"] != "few_staff"]
    new = policy.replace(version="2", storage=storage, security=security)
    d = pk.diff(policy, new)
    kinds = [c.kind for c in d.changes]
    assert kinds.count(ChangeKind.TRANSFER_ADDED) == 2
    assert kinds.count(ChangeKind.TRANSFER_REMOVED) == 1
    storage_change = d.of_kind("storage_changed")[0]
    assert "Amazon Web Services in IE (eu-west-1)" in storage_change.description
    assert "few_staff" in d.of_kind(ChangeKind.SECURITY_CHANGED)[0].description
    assert {c.kind for c in d.material} == {ChangeKind.TRANSFER_ADDED}


def test_breach_age_and_controller(policy: pk.Policy) -> None:
    breach = dict(dumped(policy, "breach"), notify_within="P7D", channels=["email", "website"])
    children = dict(dumped(policy, "children"), minimum_age=13)
    controller = dict(dumped(policy, "controller"), name="Appointlet Inc.")
    new = policy.replace(version="2", breach=breach, children=children, controller=controller)
    d = pk.diff(policy, new)
    b = d.of_kind(ChangeKind.BREACH_PROMISE_CHANGED)[0]
    assert "notify within 7 days (was 72 hours)" in b.description
    assert "channels now email, website (was email)" in b.description
    assert b.subject_kinds == ("customer",)
    age = d.of_kind(ChangeKind.MINIMUM_AGE_CHANGED)[0]
    assert age.description == "minimum age is now 13 (was 16)"
    assert age.material
    assert "now 'Appointlet Inc.'" in d.of_kind(ChangeKind.CONTROLLER_CHANGED)[0].description


def test_text_changes_name_the_language(policy: pk.Policy) -> None:
    summary = dict(policy.summary or {}, ar="ملخص جديد")
    d = pk.diff(policy, policy.replace(version="2", summary=summary))
    (change,) = d.changes
    assert change.kind is ChangeKind.TEXT_CHANGED
    assert change.location == "summary"
    assert change.description == "the wording of summary changed (ar)"
    assert not change.material


# -- the materiality rule ----------------------------------------------------------------------
def test_materiality_from_the_new_policy(policy: pk.Policy) -> None:
    changes = dict(dumped(policy, "changes"), material=["text_changed"])
    new = policy.replace(version="2", changes=changes, summary={"en": "New summary"})
    d = pk.diff(policy, new)
    assert [c.kind for c in d.material] == [ChangeKind.TEXT_CHANGED]


def test_materiality_as_a_set_or_a_callable(policy: pk.Policy) -> None:
    new = with_rule(policy, "payment_data", duration="P1Y")
    assert not pk.diff(policy, new, material=set()).is_material
    assert pk.diff(policy, new, material={"retention_lengthened"}).is_material

    def only_long(change: PolicyChange) -> bool:
        return "10 years" in change.description

    assert not pk.diff(policy, new, material=only_long).is_material
    with pytest.raises(pk.ConfigurationError, match="did you mean 'retention_shortened'"):
        pk.diff(policy, new, material={"retention_shortend"})
