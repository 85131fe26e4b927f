"""Policy promises: not collected, signals, optional breach and children, whose data, inheritance,
products. Each is stated, validated with located errors, held to the data map by check(), and
rendered only as declared."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from tests.strategies import minimal_datamap_data, minimal_policy_data

import privacy_kit as pk
from privacy_kit.interop.gpc import gpc_decision
from privacy_kit.notices import render_notice

UTC = dt.UTC


def _policy(**changes: Any) -> pk.Policy:
    data = minimal_policy_data()
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return pk.Policy.model_validate(data)


def _problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(pk.PolicyError) as info:
        pk.load_policy(data)
    return {p.location: p.message for p in info.value.problems}


def _datamap(*fields: dict[str, Any], **extra: Any) -> pk.DataMap:
    data = minimal_datamap_data()
    data["record_types"][0]["fields"].extend(fields)
    data["record_types"][0].update(extra)
    return pk.DataMap.model_validate(data)


def _findings(report: pk.CheckReport, code: str) -> list[pk.Finding]:
    return [f for f in report if f.code == code]


# --- not collected ----------------------------------------------------------------------------


def test_not_collected_accepts_a_plain_key_or_a_described_entry() -> None:
    policy = _policy(
        not_collected=[
            "user.health",
            {
                "categories": ["user.racial_ethnic_origin", "user.religious_belief"],
                "description": {"en": "We never ask about these.", "ar": "لا نسأل عنها أبدًا."},
            },
        ]
    )
    assert policy.not_collected[0].categories == ("user.health",)
    assert policy.is_declared_not_collected("user.health")
    assert policy.is_declared_not_collected("user.religious_belief")
    assert not policy.is_declared_not_collected("user.contact.email")


def test_not_collected_unknown_category_is_located() -> None:
    data = minimal_policy_data()
    data["not_collected"] = [{"categories": ["user.helth"]}]
    problems = _problems(data)
    assert "did you mean 'user.health'" in problems["not_collected[0].categories[0]"]


def test_a_category_both_collected_and_not_collected_is_refused_at_load() -> None:
    data = minimal_policy_data()
    data["not_collected"] = ["user.demographic", "user.contact"]
    problems = _problems(data)
    assert list(problems) == ["not_collected[1].categories[0]"]
    assert (
        "collection[0] collects 'user.contact.email'" in problems["not_collected[1].categories[0]"]
    )


def test_a_category_shared_but_declared_not_collected_is_refused() -> None:
    data = minimal_policy_data()
    data["not_collected"] = ["user.health"]
    data["recipients"] = [
        {
            "key": "lab",
            "kind": "service_providers",
            "name": "A lab",
            "categories": ["user.health"],
            "purposes": ["support"],
        }
    ]
    problems = _problems(data)
    assert (
        "recipients[0].categories[0] shares 'user.health'"
        in problems["not_collected[0].categories[0]"]
    )


def test_a_field_categorised_under_a_not_collected_category_is_an_error() -> None:
    policy = _policy(not_collected=["user.demographic"])
    report = pk.check(policy, _datamap({"name": "sex", "categories": ["user.demographic.gender"]}))
    [finding] = _findings(report, "collected-despite-declaration")
    assert finding.severity is pk.Severity.ERROR
    assert finding.location == "datamap:record_types[0].fields[3].categories[0]"
    assert "'user.demographic' not collected (not_collected[0])" in finding.message
    assert not report.ok


@pytest.mark.parametrize("name", ["gender", "sex", "user_gender", "genderIdentity"])
def test_an_uncategorised_field_named_like_a_not_collected_category_is_an_error(name: str) -> None:
    policy = _policy(not_collected=["user.demographic.gender"])
    report = pk.check(policy, _datamap({"name": name}))
    [finding] = _findings(report, "field-matches-not-collected")
    assert finding.severity is pk.Severity.ERROR
    assert finding.location == "datamap:record_types[0].fields[3]"
    assert "'user.demographic.gender'" in finding.message
    assert not report.ok  # an uncategorised gender column is no longer a mere warning


@pytest.mark.parametrize(
    ("declared", "name"),
    [
        ("user.racial_ethnic_origin", "ethnicity"),
        ("user.religious_belief", "religion"),
        ("user.health", "medical_notes"),
        ("user.biometric", "fingerprint_hash"),
        ("user.location.precise", "gps_latitude"),
    ],
)
def test_aliases_of_the_default_taxonomy_match(declared: str, name: str) -> None:
    report = pk.check(_policy(not_collected=[declared]), _datamap({"name": name}))
    assert _findings(report, "field-matches-not-collected")


@pytest.mark.parametrize("name", ["dob", "sussex_office", "essex", "union_id_hash"])
def test_names_that_only_look_alike_do_not_match(name: str) -> None:
    policy = _policy(not_collected=["user.demographic.gender", "user.trade_union"])
    report = pk.check(policy, _datamap({"name": name}))
    assert not _findings(report, "field-matches-not-collected")
    assert report.ok  # still a field-without-category warning, nothing more


def test_without_a_declaration_an_uncategorised_gender_field_stays_a_warning() -> None:
    report = pk.check(_policy(), _datamap({"name": "gender"}))
    assert report.codes() == {"field-without-category"}
    assert report.ok


def test_the_notice_renders_the_negative_promise() -> None:
    policy = _policy(
        languages=["en", "ar"],
        not_collected=[
            {
                "categories": ["user.health", "user.biometric"],
                "description": {"en": "Never, for any purpose.", "ar": "أبدًا ولأي غرض."},
            }
        ],
    )
    md = render_notice(policy)
    assert "### What we do not collect" in md
    assert "**Health data and Biometric data**: Never, for any purpose." in md
    ar = render_notice(policy, lang="ar")
    assert "ما لا نجمعه" in ar
    assert "أبدًا ولأي غرض." in ar


# --- signals ----------------------------------------------------------------------------------


def _ccpa_sale_policy(**changes: Any) -> pk.Policy:
    data = minimal_policy_data()
    data["jurisdictions"] = ["ccpa"]
    data["rights"] = [{"right": "opt_out_of_sale", "description": "Say no to sale"}]
    data.update(changes)
    return pk.Policy.model_validate(data)


def test_the_notice_makes_no_gpc_promise_the_policy_did_not_make() -> None:
    md = render_notice(_ccpa_sale_policy())
    assert "Global Privacy Control" not in md
    assert "Do Not Track" not in md


def test_declared_signals_are_rendered_as_declared() -> None:
    policy = _ccpa_sale_policy(
        signals=[
            {"signal": "dnt", "honoured": False},
            {"signal": "gpc", "honoured": True, "scope": "In every web browser, for everyone."},
        ]
    )
    md = render_notice(policy)
    assert "### Privacy signals from your browser" in md
    assert "We do not act on Do Not Track signals sent by your browser." in md
    assert "We treat a Global Privacy Control signal sent by your browser" in md
    assert "**Where this applies**: In every web browser, for everyone." in md
    dnt = policy.signal("dnt")
    assert dnt is not None
    assert dnt.honoured is False


def test_a_signal_declared_twice_is_refused() -> None:
    data = minimal_policy_data()
    data["signals"] = [{"signal": "gpc", "honoured": True}, {"signal": "gpc", "honoured": False}]
    assert _problems(data) == {"signals[1]": "duplicate signal 'gpc'"}


def test_gpc_without_a_policy_promise_says_so() -> None:
    policy = _policy()
    d = gpc_decision({"Sec-GPC": "1"}, "gdpr", policy=policy)
    assert (d.opt_out, d.policy_promise, d.conflict) == (False, None, False)
    assert d.reason.startswith("the policy makes no Global Privacy Control promise")
    law = gpc_decision({"Sec-GPC": "1"}, "ccpa", policy=policy)
    assert law.opt_out
    assert law.right is pk.Right.OPT_OUT_OF_SALE
    assert "makes no Global Privacy Control promise" in law.reason
    assert "the law applies whatever the policy says" in law.reason


def test_gpc_honoured_by_the_policy_is_an_opt_out_everywhere() -> None:
    policy = _policy(signals=[{"signal": "gpc", "honoured": True}])
    d = gpc_decision({"Sec-GPC": "1"}, "gdpr", policy=policy)
    assert (d.opt_out, d.policy_promise, d.right) == (True, True, pk.Right.OPT_OUT_OF_SALE)
    assert "policy 1 promises to honour GPC" in d.reason
    silent = gpc_decision({}, "gdpr", policy=policy)
    assert (silent.signal, silent.opt_out, silent.policy_promise) == (False, False, True)


def test_gpc_refused_by_the_policy_where_the_law_requires_it_is_a_conflict() -> None:
    policy = _policy(signals=[{"signal": "gpc", "honoured": False}])
    d = gpc_decision({"Sec-GPC": "1"}, "ccpa", policy=policy)
    assert (d.opt_out, d.policy_promise, d.conflict) == (True, False, True)
    elsewhere = gpc_decision({"Sec-GPC": "1"}, "gdpr", policy=policy)
    assert (elsewhere.opt_out, elsewhere.conflict) == (False, False)
    assert "does not honour Global Privacy Control" in elsewhere.reason


# --- optional breach and children -------------------------------------------------------------


def test_a_policy_without_breach_age_or_gpc_makes_none_of_those_promises() -> None:
    policy = _ccpa_sale_policy(breach=None, children=None, languages=["en", "ar"])
    data = policy.model_dump(mode="json")
    data.pop("breach"), data.pop("children")
    policy = pk.load_policy(data)
    assert policy.breach is None
    assert policy.children is None
    for lang in ("en", "ar"):
        for fmt in ("md", "html"):
            text = render_notice(policy, format=fmt, lang=lang)
            for phrase in (
                "If your data is exposed",
                "Minimum age",
                "72 hours",
                "e-mail",
                "Global Privacy Control",
                "Do Not Track",
                "إذا تعرّضت بياناتك",
                "الحد الأدنى للعمر",
            ):
                assert phrase not in text, (lang, fmt, phrase)
    assert "## Children" not in render_notice(policy)
    assert "## Contact us" in render_notice(policy)  # the notice itself is whole


def test_a_breach_channel_is_named_only_when_declared() -> None:
    breach = {"notify_within": "P3D", "description": "We tell you.", "from_awareness": True}
    md = render_notice(_policy(breach=breach))
    assert "within 3 days of becoming aware of it." in md
    assert "by e-mail" not in md
    assert _policy(breach=breach).breach.channels == ()  # type: ignore[union-attr]
    md = render_notice(_policy(breach={**breach, "channels": ["email", "in_service"]}))
    assert "within 3 days of becoming aware of it, by e-mail and a notice in the service." in md


def test_assessment_without_a_breach_promise_keeps_only_the_law() -> None:
    t = dt.datetime(2025, 3, 2, 10, tzinfo=UTC)
    inc = pk.Incident(
        occurred_at=t,
        aware_at=t,
        categories=["user.contact.email"],
        risk="high",
        subjects={"gdpr": 5},
    )
    with_promise = pk.assess(inc, _policy())
    assert any(d.regime == "policy" for d in with_promise.duties)
    without = pk.assess(inc, _policy(breach=None))
    assert not any(d.regime == "policy" for d in without.duties)
    assert {d.key for d in without.duties} == {
        d.key for d in with_promise.duties if d.regime != "policy"
    }
    assert "makes no breach promise of its own; only the law's duties apply" in " ".join(
        without.notes
    )
    notice = pk.draft_notice(inc, without, _policy(breach=None))
    assert "Within 72 hours" not in notice.body
    assert "Within 72 hours" in pk.draft_notice(inc, with_promise, _policy()).body


def test_age_check_without_a_policy_minimum_uses_only_the_law() -> None:
    born = dt.date(2010, 6, 1)
    on = dt.date(2025, 6, 1)
    with_floor = pk.check_age(
        born, policy=_policy(children={"minimum_age": 18, "description": "Adults only"}),
        jurisdiction_or_country="IE", on=on,
    )  # fmt: skip
    assert with_floor.required_age == 18
    without = pk.check_age(born, policy=_policy(children=None), jurisdiction_or_country="IE", on=on)
    law_only = pk.check_age(born, policy=None, jurisdiction_or_country="IE", on=on)
    assert without.required_age == law_only.required_age < 18
    assert "sets no minimum age of its own" in without.reason
    assert "policy" not in without.citation


def test_diff_reports_a_breach_or_age_promise_added_or_removed() -> None:
    old = _policy()
    new = old.replace(version="2", breach=None, children=None)
    changes = pk.diff(old, new).changes
    by_kind = {c.kind.value: c for c in changes}
    assert "breach promise removed" in by_kind["breach_promise_changed"].description
    assert "no longer sets a minimum age (was 16)" in by_kind["minimum_age_changed"].description
    back = {c.kind.value: c for c in pk.diff(new, old.replace(version="3")).changes}
    assert "breach promise added" in back["breach_promise_changed"].description
    assert "minimum age is now 16 (the policy set none)" in back["minimum_age_changed"].description
    assert pk.diff(new, new.replace(version="4")).changes == ()


# --- whose data: subject kinds ----------------------------------------------------------------


def _example() -> tuple[dict[str, Any], pk.DataMap]:
    policy = pk.load_policy(pk.example_path()).model_dump(mode="json", exclude_none=True)
    return policy, pk.load_datamap(pk.example_path("datamap.yaml"))


def test_the_reference_example_collects_the_names_it_stores() -> None:
    data, datamap = _example()
    assert pk.check(pk.load_policy(data), datamap).findings == ()
    name = next(c for c in data["collection"] if c["category"] == "user.account.name")
    name["subjects"] = ["customer", "account_admin"]  # as the example said before
    report = pk.check(pk.load_policy(data), datamap)
    [finding] = _findings(report, "subject-kind-not-collected")
    assert finding.severity is pk.Severity.ERROR
    assert finding.location.startswith("datamap:record_types[3].fields[4]")
    assert "bookings.invitee_name" in finding.message
    assert "'end_user'" in finding.message


def test_a_shared_field_concerns_every_party_and_empty_subjects_mean_all() -> None:
    data = minimal_policy_data()
    data["subjects"].append({"kind": "end_user", "description": "Their clients"})
    data["collection"][0]["subjects"] = ["customer"]
    datamap = minimal_datamap_data()
    rt = datamap["record_types"][0]
    rt["subjects"].append({"kind": "end_user", "field": "client_id", "role": "client"})
    rt["fields"].append({"name": "client_id", "personal": False})
    report = pk.check(pk.load_policy(data), pk.load_datamap(datamap))
    [finding] = _findings(report, "subject-kind-not-collected")  # email has no party: both
    assert "'end_user'" in finding.message
    data["collection"][0]["subjects"] = []
    assert not _findings(
        pk.check(pk.load_policy(data), pk.load_datamap(datamap)), "subject-kind-not-collected"
    )


# --- inheritance ------------------------------------------------------------------------------


def _inheriting(inherit: bool | None) -> dict[str, Any]:
    data = minimal_policy_data()
    parent: dict[str, Any] = {
        "category": "user.contact",
        "source": "automatic",
        "purposes": ["security.fraud"],
    }
    if inherit is not None:
        parent["inherit"] = inherit
    data["collection"].append(parent)
    return data


def test_parent_purposes_reaching_children_are_never_silent() -> None:
    policy = pk.load_policy(_inheriting(None))
    assert policy.purposes_of("user.contact.email") == {"support", "security.fraud"}
    [finding] = _findings(pk.check(policy), "inherited-purposes")
    assert finding.severity is pk.Severity.WARNING  # the email entry's purposes add up
    assert finding.location == "policy:collection[1]"
    assert "user.contact.email" in finding.message
    assert "inherit: true" in finding.message


def test_inherit_true_confirms_and_false_limits_the_entry() -> None:
    confirmed = pk.load_policy(_inheriting(True))
    assert not _findings(pk.check(confirmed), "inherited-purposes")
    assert confirmed.purposes_of("user.contact.email") == {"support", "security.fraud"}
    limited = pk.load_policy(_inheriting(False))
    assert not _findings(pk.check(limited), "inherited-purposes")
    assert limited.purposes_of("user.contact.email") == {"support"}
    assert limited.purposes_of("user.contact") == {"security.fraud"}
    assert not limited.is_collected("user.contact.phone")  # the entry covers only its own key
    assert confirmed.is_collected("user.contact.phone")


def test_a_child_only_stored_under_a_parent_entry_is_info() -> None:
    data = minimal_policy_data()
    data["collection"][0]["category"] = "user.contact"
    report = pk.check(pk.load_policy(data), pk.load_datamap(minimal_datamap_data()))
    [finding] = _findings(report, "inherited-purposes")
    assert finding.severity is pk.Severity.INFO
    assert "user.contact.email" in finding.message


def test_recipients_on_a_parent_category_are_listed_until_inherit_is_said() -> None:
    data = _inheriting(True)
    data["recipients"] = [
        {
            "key": "mailer",
            "kind": "service_providers",
            "name": "Mail provider",
            "categories": ["user.contact"],
            "purposes": ["support"],
        }
    ]
    [finding] = _findings(pk.check(pk.load_policy(data)), "inherited-recipients")
    assert finding.location == "policy:recipients[0].categories[0]"
    assert "user.contact.email" in finding.message
    data["recipients"][0]["inherit"] = False
    policy = pk.load_policy(data)
    assert not _findings(pk.check(policy), "inherited-recipients")
    assert policy.recipients_of("user.contact.email") == ()
    assert [r.key for r in policy.recipients_of("user.contact")] == ["mailer"]


# --- products ---------------------------------------------------------------------------------


def _products_policy() -> dict[str, Any]:
    data = minimal_policy_data()
    data["products"] = [
        {"key": "mail", "name": {"en": "Mail", "ar": "البريد"}},
        {"key": "drive", "name": "Drive", "description": "File storage"},
    ]
    data["collection"][0]["products"] = ["mail"]
    data["retention"][0]["products"] = ["mail"]
    return data


def test_unknown_products_are_located_errors() -> None:
    data = _products_policy()
    data["collection"][0]["products"] = ["mial"]
    data["recipients"] = [
        {
            "key": "x",
            "kind": "service_providers",
            "name": "X",
            "categories": ["user.contact.email"],
            "purposes": ["support"],
            "products": ["chat"],
        }
    ]
    problems = _problems(data)
    assert problems["collection[0].products[0]"] == "unknown product 'mial'; did you mean 'mail'?"
    assert problems["recipients[0].products[0]"].startswith("unknown product 'chat'")
    data = minimal_policy_data()
    data["retention"][0]["products"] = ["mail"]
    assert _problems(data) == {
        "retention[0].products[0]": "unknown product 'mail'; the policy declares no 'products'"
    }


def test_record_types_belong_to_declared_products() -> None:
    policy = pk.load_policy(_products_policy())
    assert pk.check(policy, _datamap(product="mail")).ok
    unknown = pk.check(policy, _datamap(product="mall"))
    [finding] = _findings(unknown, "unknown-product")
    assert finding.location == "datamap:record_types[0].product"
    assert "did you mean 'mail'" in finding.message
    [other] = _findings(pk.check(policy, _datamap(product="drive")), "product-not-collected")
    assert "'user.contact.email' for product 'drive'" in other.message
    assert "only for mail" in other.message


def test_the_notice_labels_items_by_product() -> None:
    policy = pk.load_policy({**_products_policy(), "languages": ["en", "ar"]})
    md = render_notice(policy)
    assert "### Products this notice covers" in md
    assert "**Drive**: File storage" in md
    assert md.count("**Products**: Mail") == 2  # the collection entry and the retention rule
    assert "**المنتجات**: البريد" in render_notice(policy, lang="ar")
    [support] = pk.records_of_processing(policy).activities
    assert support.erasure_time_limits == (
        "contact: delete for 1 year after the record is created; products: mail",
    )


def test_the_cli_summary_says_when_the_policy_makes_no_breach_or_age_promise(
    tmp_path: Path,
) -> None:
    import io
    import json

    from privacy_kit.cli._main import main

    data = minimal_policy_data()
    del data["breach"], data["children"]
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    out = io.StringIO()
    assert main(["validate", str(path)], out=out) == 0
    text = out.getvalue()
    assert "Breach: no promise of the policy's own (only the law's duties)" in text
    assert "Minimum age: none set by the policy (only the law's ages)" in text
