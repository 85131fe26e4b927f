"""Indefinite retention (``duration: forever``), open-ended exceptions, field-level ``blind``
rules, and idempotent anonymisation: the model refuses what cannot be kept, sweeps keep what the
policy keeps forever and say so, a second sweep (or erasure) changes and counts nothing.

The service here is a generic web product (accounts, sign-ups, page views): none of the reference
example's data.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.adapters import InMemoryAdapter, SQLiteAdapter

SECRET = b"s" * 32
NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
RECENT = NOW - dt.timedelta(days=3)

SPAM = "We keep the address you signed up from to fight spam."


def _base_policy() -> dict[str, Any]:
    data: dict[str, Any] = pk.load_policy(pk.example_path()).model_dump(mode="json")
    return data


def _rules(**changes: Any) -> list[dict[str, Any]]:
    account = {
        "key": "account",
        "description": "Account data is kept while the account is open.",
        "categories": ["user.account", "user.contact", "user.device"],
        "trigger": "account_closed",
        "exceptions": [
            {
                "kind": "archiving",
                "reason": SPAM,
                "duration": "forever",
                "categories": ["user.device.ip_address"],
            }
        ],
    }
    views = {
        "key": "page_views",
        "description": "Page views lose their identifiers after 30 days.",
        "categories": ["user.usage"],
        "trigger": "created",
        "duration": "P30D",
        "action": "blind",
        "blind": ["user.device.ip_address", "user.device.cookie_id"],
    }
    audit = {
        "key": "security_log",
        "description": "The security log is kept for good.",
        "categories": ["user.usage.activity_time"],
        "trigger": "created",
        "duration": "forever",
        "reason": "Evidence of account takeovers is kept for good.",
    }
    rules = {"account": account, "page_views": views, "security_log": audit, **changes}
    return [r for r in rules.values() if r is not None]


def make_policy(**changes: Any) -> pk.Policy:
    data = _base_policy()
    data["retention"] = _rules(**changes)
    return pk.load_policy(data)


def make_datamap(prefix: str = "", *, marker: bool = False, cookie: str = "null") -> pk.DataMap:
    views_ts: dict[str, str] = {"created": "viewed_at"}
    view_fields: list[dict[str, Any]] = [
        {"name": "id", "type": "integer", "personal": False},
        {"name": "user_id", "type": "integer", "categories": ["user.account.identifier"]},
        {"name": "page", "categories": ["user.usage.pages"]},
        {"name": "browser", "categories": ["user.device.browser"]},
        {"name": "ip", "categories": ["user.device.ip_address"]},
        {
            "name": "cookie",
            "categories": ["user.device.cookie_id"],
            "anonymize": {"kind": cookie} if cookie != "fixed" else {"kind": "fixed", "value": "-"},
        },
        {"name": "viewed_at", "type": "timestamp", "personal": False},
    ]
    if marker:
        view_fields.append({"name": "blinded_at", "type": "timestamp", "personal": False})
        views_ts["anonymized"] = "blinded_at"
    return pk.load_datamap(
        {
            "record_types": [
                {
                    "name": "users",
                    "table": f"{prefix}users",
                    "retention": "account",
                    "fields": [
                        {
                            "name": "id",
                            "type": "integer",
                            "categories": ["user.account.identifier"],
                        },
                        {
                            "name": "name",
                            "categories": ["user.account.name"],
                            "anonymize": {"kind": "fixed", "value": "Former user"},
                        },
                        {"name": "email", "categories": ["user.contact.email"]},
                        {"name": "signup_ip", "categories": ["user.device.ip_address"]},
                        {"name": "closed_at", "type": "timestamp", "personal": False},
                    ],
                    "subjects": [{"kind": "customer", "field": "id"}],
                    "timestamps": {"closed": "closed_at"},
                },
                {
                    "name": "views",
                    "table": f"{prefix}views",
                    "retention": "page_views",
                    "fields": view_fields,
                    "subjects": [{"kind": "customer", "field": "user_id"}],
                    "timestamps": views_ts,
                },
                {
                    "name": "security_log",
                    "table": f"{prefix}security_log",
                    "retention": "security_log",
                    "fields": [
                        {"name": "id", "type": "integer", "personal": False},
                        {
                            "name": "user_id",
                            "type": "integer",
                            "categories": ["user.account.identifier"],
                        },
                        {
                            "name": "at",
                            "type": "timestamp",
                            "categories": ["user.usage.activity_time"],
                        },
                    ],
                    "subjects": [{"kind": "customer", "field": "user_id"}],
                    "timestamps": {"created": "at"},
                },
            ]
        }
    )


def rows() -> dict[str, list[dict[str, Any]]]:
    return {
        "users": [
            {
                "id": 1,
                "name": "Ann",
                "email": "ann@example.com",
                "signup_ip": "10.0.0.1",
                "closed_at": LONG_AGO,
            },
            {
                "id": 2,
                "name": "Bo",
                "email": "bo@example.com",
                "signup_ip": "10.0.0.2",
                "closed_at": None,
            },
        ],
        "views": [
            {
                "id": 10,
                "user_id": 1,
                "page": "/a",
                "browser": "Lynx",
                "ip": "10.0.0.1",
                "cookie": "c1",
                "viewed_at": LONG_AGO,
            },
            {
                "id": 11,
                "user_id": 2,
                "page": "/b",
                "browser": "Lynx",
                "ip": "10.0.0.2",
                "cookie": "c2",
                "viewed_at": LONG_AGO,
            },
            {
                "id": 12,
                "user_id": 2,
                "page": "/c",
                "browser": "Lynx",
                "ip": "10.0.0.3",
                "cookie": "c3",
                "viewed_at": RECENT,
            },
        ],
        "security_log": [
            {"id": 20, "user_id": 1, "at": LONG_AGO},
            {"id": 21, "user_id": 2, "at": LONG_AGO},
        ],
    }


def _fill(adapter: Any, datamap: pk.DataMap) -> Any:
    for name, table_rows in rows().items():
        rt = datamap.record_type(name)
        fields = set(rt.field_names)
        adapter.insert(rt, [{k: v for k, v in r.items() if k in fields} for r in table_rows])
    return adapter


@pytest.fixture(params=["memory", "sqlite"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _adapter(kind: str, datamap: pk.DataMap) -> Any:
    if kind == "memory":
        return _fill(InMemoryAdapter({rt.table_name: [] for rt in datamap.record_types}), datamap)
    db = SQLiteAdapter(":memory:")
    db.create_schema(datamap)
    return _fill(db, datamap)


def engine_for(adapter: Any, datamap: pk.DataMap, policy: pk.Policy | None = None) -> pk.Engine:
    return pk.Engine(policy or make_policy(), datamap, adapter, secret=SECRET, verify=False)


def table(engine: pk.Engine, name: str) -> dict[Any, dict[str, Any]]:
    rt = engine.datamap.record_type(name)
    adapter = engine.adapter_for(rt)
    return {
        r["id"]: r
        for batch in adapter.iter_records(rt, pk.adapters.All(), batch_size=100)
        for r in batch
    }


# -- the model ------------------------------------------------------------------------------------


def test_forever_loads_and_round_trips() -> None:
    policy = make_policy()
    log = policy.rule("security_log")
    assert log.indefinite
    assert log.duration is None
    assert policy.rule("account").exceptions[0].indefinite
    dumped = policy.model_dump(mode="json")
    assert dumped["retention"][2]["duration"] == "forever"
    assert "indefinite" not in dumped["retention"][2]
    assert dumped["retention"][0]["exceptions"][0]["duration"] == "forever"
    again = pk.load_policy(dumped)
    assert again.rule("security_log").indefinite
    assert again == policy
    schema = pk.RetentionRule.model_json_schema()
    assert "indefinite" not in schema["properties"]


def _problems(**changes: Any) -> list[str]:
    with pytest.raises(pk.PolicyError) as info:
        make_policy(**changes)
    return [str(p) for p in info.value.problems]


def test_a_rule_kept_forever_needs_a_reason() -> None:
    rule = {**_rules()[2], "reason": None}
    del rule["reason"]
    assert _problems(security_log=rule) == [
        (
            "retention[2].reason: a rule kept forever needs a reason: say why the data is kept "
            "indefinitely"
        )
    ]


def test_a_rule_kept_forever_refuses_an_override_and_an_action() -> None:
    rule = {
        **_rules()[2],
        "action": "anonymize",
        "override": {"minimum": "P1D", "maximum": "P1Y"},
    }
    found = _problems(security_log=rule)
    assert any(p.startswith("retention[2].override: a rule kept forever") for p in found)
    assert any(
        p.startswith("retention[2].action: a rule kept forever never reaches") for p in found
    )


def test_indefinite_cannot_be_written_directly() -> None:
    rule = {**_rules()[2], "indefinite": True}
    found = _problems(security_log=rule)
    assert any("write 'duration: forever'" in p for p in found)


def test_an_exception_without_a_duration_is_refused_unless_enforceable() -> None:
    account = _rules()[0]
    account["exceptions"] = [{"kind": "archiving", "reason": SPAM}]
    found = _problems(account=account)
    assert found == [
        (
            "retention[0].exceptions[0].duration: a archiving exception needs a duration: give a "
            "duration or 'forever' (only legal_claims, kept through legal holds, and shared_content "
            "may last while the reason lasts)"
        )
    ]
    for kind in ("legal_claims", "shared_content"):
        account["exceptions"] = [{"kind": kind, "reason": "While it lasts."}]
        assert make_policy(account=account).rule("account").exceptions[0].duration is None


def test_the_reference_example_still_loads() -> None:
    policy = pk.load_policy(pk.example_path())
    assert not any(r.indefinite for r in policy.retention)
    report = pk.check(policy, pk.load_datamap(pk.example_path("datamap.yaml")))
    assert not [f for f in report.findings if f.code.startswith(("anonymization", "blind"))]


def test_blind_needs_its_categories_and_only_blind_may_list_them() -> None:
    views = {**_rules()[1]}
    del views["blind"]
    assert _problems(page_views=views) == [
        (
            "retention[1].blind: action: blind needs 'blind': the categories whose fields are "
            "anonymised"
        )
    ]
    views = {**_rules()[1], "action": "delete"}
    assert _problems(page_views=views) == [
        (
            "retention[1].blind: 'blind' lists categories only for action: blind (this rule's action "
            "is delete)"
        )
    ]
    views = {**_rules()[1], "blind": ["user.device.ip_adress"]}
    (problem,) = _problems(page_views=views)
    assert problem.startswith("retention[1].blind[0]: unknown category 'user.device.ip_adress'")


def test_check_refuses_computed_strategies_without_a_marker() -> None:
    policy = make_policy()
    report = pk.check(policy, make_datamap(cookie="pseudonym"))
    found = [f for f in report.findings if f.code == "anonymization-not-recognisable"]
    assert len(found) == 1
    assert found[0].severity is pk.Severity.ERROR
    assert found[0].location == "datamap:record_types[1]"
    assert "cookie" in found[0].message
    assert "timestamps.anonymized" in found[0].message
    marked = pk.check(policy, make_datamap(cookie="pseudonym", marker=True))
    assert not [f for f in marked.findings if f.code == "anonymization-not-recognisable"]
    fine = pk.check(policy, make_datamap(cookie="fixed"))
    assert not [f for f in fine.findings if f.code == "anonymization-not-recognisable"]


def test_check_warns_about_a_blind_rule_that_matches_no_field() -> None:
    views = {**_rules()[1], "blind": ["user.contact.phone"]}
    report = pk.check(make_policy(page_views=views), make_datamap())
    (found,) = [f for f in report.findings if f.code == "blind-matches-nothing"]
    assert found.severity is pk.Severity.WARNING


def test_the_marker_must_be_a_timestamp_field() -> None:
    data = make_datamap(marker=True).model_dump(mode="json")
    data["record_types"][1]["timestamps"]["anonymized"] = "page"
    with pytest.raises(pk.PolicyError, match=r"record_types\[1\]\.timestamps\.anonymized"):
        pk.load_datamap(data)


# -- sweeps ---------------------------------------------------------------------------------------


def test_sweeps_keep_forever_and_say_so(kind: str) -> None:
    dm = make_datamap()
    engine = engine_for(_adapter(kind, dm), dm)
    plan = engine.plan_retention(now=NOW)
    assert not [e for e in plan.entries if e.record_type == "security_log"]
    kept = {(k.rule, k.record_type, k.fields) for k in plan.kept_indefinitely}
    assert kept == {("security_log", "security_log", ()), ("account", "users", ("signup_ip",))}
    assert any("rule 'security_log' keeps it indefinitely" in n for n in plan.notes)
    assert any(
        n.startswith("users (rule 'account'): signup_ip kept indefinitely (archiving: " + SPAM)
        for n in plan.notes
    )
    summary = plan.summary()
    assert "kept indefinitely: security_log: security_log kept indefinitely" in summary
    # the closed account is minimised, never deleted: its sign-up address stays
    (users_entry,) = [e for e in plan.entries if e.record_type == "users"]
    assert users_entry.action == "minimize"
    assert set(users_entry.fields) == {"name", "email"}
    report = engine.apply(plan)
    assert "kept indefinitely: account: signup_ip of users" in report.summary()
    users = table(engine, "users")
    assert users[1]["signup_ip"] == "10.0.0.1"
    assert users[1]["name"] is None
    assert users[1]["email"] is None
    assert users[2]["email"] == "bo@example.com"
    assert set(table(engine, "security_log")) == {20, 21}
    applied = [e for e in engine.audit.entries() if e.action == "retention.applied"][-1]
    assert {k["rule"] for k in applied.details["kept_indefinitely"]} == {"account", "security_log"}
    # a second sweep changes and counts nothing
    again = engine.apply(engine.plan_retention(now=NOW + dt.timedelta(days=1)))
    assert again.total == 0


def test_blind_anonymises_only_its_fields_and_a_second_sweep_counts_nothing(kind: str) -> None:
    dm = make_datamap(cookie="fixed")
    engine = engine_for(_adapter(kind, dm), dm)
    plan = engine.plan_retention(now=NOW)
    (entry,) = [e for e in plan.entries if e.record_type == "views"]
    assert entry.action == "anonymize"
    assert set(entry.fields) == {"ip", "cookie"}
    assert entry.count == 2
    report = engine.apply(plan)
    assert report.counts()["page_views"] == {"anonymize": 2}
    views = table(engine, "views")
    for key in (10, 11):
        assert views[key]["ip"] is None
        assert views[key]["cookie"] == "-"
        assert views[key]["page"]
        assert views[key]["browser"] == "Lynx"
        assert views[key]["user_id"] is not None
    assert views[12]["ip"] == "10.0.0.3"
    assert views[12]["cookie"] == "c3"
    second = engine.plan_retention(now=NOW + dt.timedelta(hours=1))
    (entry,) = [e for e in second.entries if e.record_type == "views"]
    assert entry.count == 0
    assert engine.apply(second).counts()["page_views"] == {"anonymize": 0}
    fate = engine.fate("views", 10, now=NOW)
    assert "blinded" in fate.sentence
    assert "ip, cookie" in fate.sentence


def test_anonymize_rules_are_idempotent_too(kind: str) -> None:
    views = {**_rules()[1], "action": "anonymize"}
    del views["blind"]
    policy = make_policy(page_views=views)
    dm = make_datamap(cookie="fixed")
    engine = engine_for(_adapter(kind, dm), dm, policy)
    first = engine.apply(engine.plan_retention(now=NOW))
    assert first.counts()["page_views"] == {"anonymize": 2}
    view = table(engine, "views")[10]
    assert view["user_id"] is None
    assert view["page"] is None
    assert view["cookie"] == "-"
    second = engine.apply(engine.plan_retention(now=NOW))
    assert second.counts()["page_views"] == {"anonymize": 0}


def test_a_marker_makes_computed_strategies_idempotent(kind: str) -> None:
    dm = make_datamap(cookie="pseudonym", marker=True)
    engine = engine_for(_adapter(kind, dm), dm)
    plan = engine.plan_retention(now=NOW)
    (entry,) = [e for e in plan.entries if e.record_type == "views"]
    assert entry.marker == "blinded_at"
    assert entry.count == 2
    assert engine.apply(plan).counts()["page_views"] == {"anonymize": 2}
    views = table(engine, "views")
    assert views[10]["cookie"].startswith("anon_")
    assert views[10]["blinded_at"] == NOW
    assert views[12].get("blinded_at") is None
    second = engine.plan_retention(now=NOW + dt.timedelta(days=1))
    (entry,) = [e for e in second.entries if e.record_type == "views"]
    assert entry.count == 0
    assert engine.apply(second).counts()["page_views"] == {"anonymize": 0}


def test_without_a_marker_computed_strategies_are_noted(kind: str) -> None:
    dm = make_datamap(cookie="pseudonym")
    engine = engine_for(_adapter(kind, dm), dm)
    engine.apply(engine.plan_retention(now=NOW))
    plan = engine.plan_retention(now=NOW)
    assert any("cannot be recognised in a selection" in n for n in plan.notes)
    # applying rewrites the same values and counts only those that change: nothing
    assert engine.apply(plan).counts()["page_views"] == {"anonymize": 0}


def test_fate_says_kept_indefinitely(kind: str) -> None:
    dm = make_datamap()
    engine = engine_for(_adapter(kind, dm), dm)
    fate = engine.fate("security_log", 20, now=NOW)
    assert fate.sentence.startswith(
        "security_log 20 is kept indefinitely: Evidence of account takeovers is kept for good."
    )
    assert fate.expires_at is None
    assert fate.rule == "security_log"
    assert fate.to_dict()["kept_indefinitely"][0]["rule"] == "security_log"
    user = engine.fate("users", 1, now=NOW)
    assert f"signup_ip is kept indefinitely: {SPAM}" in user.sentence
    assert "cleared of its other personal data" in user.sentence


# -- erasure --------------------------------------------------------------------------------------


def test_erasure_keeps_forever_fields_and_reports_them(kind: str) -> None:
    dm = make_datamap(cookie="fixed")
    engine = engine_for(_adapter(kind, dm), dm)
    subject = pk.Subject.of("customer", user_id=2)
    plan = engine.plan_erasure(subject, now=NOW)
    kept = [k for k in plan.kept if k.record_type == "users" and k.count]
    assert [(k.fields, k.indefinite, k.until) for k in kept] == [(("signup_ip",), True, None)]
    assert f"signup_ip: archiving kept indefinitely: {SPAM}" in kept[0].describe()
    report = engine.apply(plan)
    user = table(engine, "users")[2]
    assert user["signup_ip"] == "10.0.0.2"
    assert user["name"] == "Former user"
    assert user["email"] is None
    assert report.anonymised["users"] == 1
    assert any(k.to_dict()["indefinite"] for k in report.kept)
    applied = [e for e in engine.audit.entries() if e.action == "erasure.applied"][-1]
    assert any(k["indefinite"] for k in applied.details["kept"])
    # no commitment ends what is kept forever
    assert not [c for c in report.commitments if c.record_type == "users"]


def test_re_erasing_counts_nothing(kind: str) -> None:
    dm = make_datamap(cookie="pseudonym")
    engine = engine_for(_adapter(kind, dm), dm)
    subject = pk.Subject.of("customer", user_id=2)
    first = engine.apply(engine.plan_erasure(subject, now=NOW))
    assert first.anonymised["users"] == 1
    again = engine.apply(engine.plan_erasure(subject, now=NOW + dt.timedelta(minutes=1)))
    assert again.anonymised.get("users", 0) == 0
    applied = [e for e in engine.audit.entries() if e.action == "erasure.applied"][-1]
    assert applied.details["anonymised"].get("users", 0) == 0


# -- server databases -----------------------------------------------------------------------------


def _sqlalchemy_run(engine_: Any) -> None:
    from privacy_kit.adapters import SQLAlchemyAdapter

    prefix = f"r1{uuid.uuid4().hex[:8]}_"
    dm = make_datamap(prefix, cookie="pseudonym", marker=True)
    db = SQLAlchemyAdapter(engine_)
    db.create_schema(dm)
    try:
        _fill(db, dm)
        engine = engine_for(db, dm)
        report = engine.apply(engine.plan_retention(now=NOW))
        assert report.counts()["page_views"] == {"anonymize": 2}
        users = table(engine, "users")
        assert users[1]["signup_ip"] == "10.0.0.1"
        assert users[1]["email"] is None
        views = table(engine, "views")
        assert views[10]["ip"] is None
        assert views[10]["page"] == "/a"
        assert views[10]["cookie"].startswith("anon_")
        again = engine.apply(engine.plan_retention(now=NOW + dt.timedelta(days=1)))
        assert again.total == 0
        subject = pk.Subject.of("customer", user_id=2)
        engine.apply(engine.plan_erasure(subject, now=NOW))
        assert table(engine, "users")[2]["signup_ip"] == "10.0.0.2"
        re_erased = engine.apply(engine.plan_erasure(subject, now=NOW))
        assert re_erased.anonymised.get("users", 0) == 0
    finally:
        db.drop_schema(dm)


def test_sqlalchemy_sqlite(tmp_path: Path) -> None:
    sa = pytest.importorskip("sqlalchemy")
    engine_ = sa.create_engine(f"sqlite:///{tmp_path / 'sa.db'}")
    try:
        _sqlalchemy_run(engine_)
    finally:
        engine_.dispose()


@pytest.mark.postgres
def test_postgres(postgres_engine: Any) -> None:
    _sqlalchemy_run(postgres_engine)


@pytest.mark.mariadb
def test_mariadb(mariadb_engine: Any) -> None:
    _sqlalchemy_run(mariadb_engine)


# -- notice and records of processing --------------------------------------------------------------


def test_the_notice_states_forever_once_and_truthfully() -> None:
    text = pk.render_notice(make_policy())
    assert "**Kept**: indefinitely" in text
    assert "**Why**: Evidence of account takeovers is kept for good." in text
    # the rule kept forever is never also "deleted"
    block = text[text.index("The security log is kept for good.") :]
    block = block[: block.index("\n\n")]
    assert "deleted" not in block
    assert "indefinitely" in block
    # the exception kept forever is stated as such, and the rule's end names what it keeps
    assert "**Then**: it is deleted; except IP address, which we keep indefinitely" in text
    assert f"{SPAM} (archiving, research or statistics, indefinitely)" in text
    # blind: what is anonymised, and that the rest is kept
    assert "**Then**: we anonymise IP address and Cookie identifier and keep the rest" in text
    arabic = pk.render_notice(make_policy(), lang="ar")
    assert "إلى أجل غير مسمّى" in arabic


def test_an_exception_kept_forever_over_all_the_data_replaces_the_rules_end() -> None:
    account = _rules()[0]
    account["exceptions"] = [{"kind": "archiving", "reason": SPAM, "duration": "forever"}]
    text = pk.render_notice(make_policy(account=account))
    block = text[text.index("Account data is kept while the account is open.") :]
    block = block[: block.index("Kept longer when")]
    assert "**Kept**: indefinitely" in block
    assert "deleted" not in block
    assert "until the account is closed" not in block


def test_records_of_processing_say_indefinitely() -> None:
    records = pk.records_of_processing(make_policy())
    lines = {line for a in records.activities for line in a.erasure_time_limits}
    assert any(
        line.startswith("security_log: kept indefinitely (Evidence of account takeovers")
        for line in lines
    )
    assert any("kept for archiving indefinitely" in line for line in lines)
    assert any(
        line.startswith("page_views: blind for 30 days after") and "user.device.ip_address" in line
        for line in lines
    )


# -- interop --------------------------------------------------------------------------------------


def test_fides_datasets_carry_forever_and_read_back() -> None:
    from privacy_kit.interop import dpv, fides

    dm = make_datamap(marker=True)
    manifest = fides.datamap_to_fides(dm, policy=make_policy())
    collections = {c["name"]: c for c in manifest["dataset"][0]["collections"]}
    assert collections["security_log"]["retention"] == "forever"
    assert collections["views"]["retention"] == "P30D after created"
    users = {f["name"]: f for f in collections["users"]["fields"]}
    assert users["signup_ip"]["retention"] == "forever"
    assert "retention" not in users["email"]
    assert fides.datamap_from_fides(manifest) == dm  # the marker travels too
    assert dpv.taxonomy_iris(make_policy().vocabulary)  # the DPV mapping reads such a policy


def test_the_policy_diff_says_forever() -> None:
    rule = {**_rules()[2], "duration": "P1Y"}
    del rule["reason"]
    changes = pk.diff(make_policy(security_log=rule), make_policy()).changes
    (change,) = [c for c in changes if c.key == "security_log"]
    assert change.kind is pk.ChangeKind.RETENTION_LENGTHENED
    assert "kept indefinitely (was 1 year after created)" in change.description


def test_no_commitment_step_for_a_rule_kept_forever() -> None:
    from privacy_kit.retention import schedule_after, trigger_source

    policy, dm = make_policy(), make_datamap()
    log = dm.record_type("security_log")
    rule = policy.rule("security_log")
    source = trigger_source(dm, log, rule.trigger)
    assert source is not None
    assert schedule_after(rule, log, source, NOW) == []
