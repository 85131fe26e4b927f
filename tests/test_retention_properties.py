"""The retention sweep against a brute-force oracle, on the in-memory and SQLite adapters.

For random stores, rules (triggers, durations, actions, legal-obligation exceptions), per-customer
overrides, legal holds and dates, the records a sweep deletes, anonymises or minimises are exactly
those whose expiry, computed record by record with ``relativedelta``, is at or before ``now`` and
that no hold in force covers; every other record is unchanged, field for field.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import privacy_kit as pk
from privacy_kit.adapters import All, Before, Eq, In, InMemoryAdapter, Not
from privacy_kit.model import is_within
from privacy_kit.retention import RetentionSettings, cutoff, expires_at
from privacy_kit.retention._anonymize import strategy_for
from strategies import example_policy_data

UTC = dt.UTC
SECRET = b"k" * 32

DATAMAP = pk.DataMap.model_validate(
    {
        "record_types": [
            {
                "name": "accounts",
                "retention": "rule_a",
                "subjects": [{"kind": "customer", "field": "id", "owner": True}],
                "account": {"field": "id", "record_type": "accounts"},
                "timestamps": {
                    "created": "created_at",
                    "closed": "closed_at",
                    "deactivated": "deactivated_at",
                    "last_activity": "seen_at",
                },
                "fields": [
                    {"name": "id", "type": "integer", "categories": ["user.account.identifier"]},
                    {
                        "name": "name",
                        "categories": ["user.account.name"],
                        "anonymize": {"kind": "fixed", "value": "Gone"},
                    },
                    {
                        "name": "email",
                        "categories": ["user.contact.email"],
                        "anonymize": {"kind": "pseudonym"},
                    },
                    {"name": "language", "categories": ["user.account.settings"]},
                    {"name": "created_at", "type": "timestamp", "personal": False},
                    {"name": "closed_at", "type": "timestamp", "personal": False},
                    {"name": "deactivated_at", "type": "timestamp", "personal": False},
                    {
                        "name": "seen_at",
                        "type": "timestamp",
                        "categories": ["user.usage.activity_time"],
                    },
                ],
            },
            {
                "name": "items",
                "retention": "rule_b",
                "subjects": [{"kind": "customer", "field": "account_id", "owner": True}],
                "account": {"field": "account_id", "record_type": "accounts"},
                "timestamps": {"created": "created_at", "event": "end_at"},
                "fields": [
                    {"name": "id", "type": "integer", "personal": False},
                    {
                        "name": "account_id",
                        "type": "integer",
                        "categories": ["user.account.identifier"],
                    },
                    {
                        "name": "phone",
                        "categories": ["user.contact.phone"],
                        "anonymize": {"kind": "mask", "keep": 2},
                    },
                    {"name": "note", "categories": ["user.content.messages"]},
                    {"name": "created_at", "type": "timestamp", "personal": False},
                    {"name": "end_at", "type": "timestamp", "personal": False},
                ],
            },
        ]
    }
)
ACCOUNTS = DATAMAP.record_type("accounts")
ITEMS = DATAMAP.record_type("items")
TIME_FIELDS = {
    "accounts": {
        "created": "created_at",
        "account_closed": "closed_at",
        "account_deactivated": "deactivated_at",
        "last_activity": "seen_at",
    },
    "items": {"created": "created_at", "event": "end_at"},
}

# Instants around month ends and leap days, where calendar arithmetic is most treacherous.
INSTANTS = st.sampled_from(
    [
        dt.datetime(2023, 1, 31, 23, 30, tzinfo=UTC),
        dt.datetime(2023, 2, 28, 12, tzinfo=UTC),
        dt.datetime(2023, 3, 31, tzinfo=UTC),
        dt.datetime(2024, 1, 31, 6, tzinfo=UTC),
        dt.datetime(2024, 2, 29, 18, tzinfo=UTC),
        dt.datetime(2024, 3, 1, tzinfo=UTC),
        dt.datetime(2024, 3, 31, 23, 59, 59, 999999, tzinfo=UTC),
        dt.datetime(2024, 4, 30, tzinfo=UTC),
        dt.datetime(2024, 12, 31, 23, tzinfo=UTC),
        dt.datetime(2025, 2, 28, tzinfo=UTC),
    ]
)
NOWS = st.sampled_from(
    [
        dt.datetime(2024, 3, 31, tzinfo=UTC),
        dt.datetime(2024, 3, 29, 18, tzinfo=UTC),
        dt.datetime(2024, 4, 1, tzinfo=UTC),
        dt.datetime(2025, 1, 31, 23, tzinfo=UTC),
        dt.datetime(2025, 3, 1, tzinfo=UTC),
        dt.datetime(2026, 3, 31, tzinfo=UTC),
    ]
)
DURATIONS = st.sampled_from(["P1D", "PT36H", "P1M", "P1M1D", "P2M", "P1Y", "P13M"])
TRIGGERS = st.sampled_from(
    ["created", "event", "account_closed", "account_deactivated", "last_activity"]
)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    rule_a: dict[str, Any] = {
        "key": "rule_a",
        "description": "accounts",
        "categories": ["user.account", "user.contact.email", "user.usage"],
        "trigger": draw(TRIGGERS),
        "action": draw(st.sampled_from(["delete", "anonymize"])),
    }
    if draw(st.booleans()):
        rule_a["duration"] = draw(DURATIONS)
    if draw(st.booleans()):
        rule_a["exceptions"] = [
            {
                "kind": "legal_obligation",
                "reason": "tax",
                "duration": draw(DURATIONS),
                "categories": draw(
                    st.sampled_from(
                        [["user.account.name"], ["user.account.name", "user.contact.email"]]
                    )
                ),
            }
        ]
    rule_b: dict[str, Any] = {
        "key": "rule_b",
        "description": "items",
        "categories": ["user.content", "user.contact.phone"],
        "trigger": draw(TRIGGERS),
        "action": draw(st.sampled_from(["delete", "anonymize"])),
    }
    if draw(st.booleans()):
        rule_b["duration"] = draw(DURATIONS)
    overridable = draw(st.booleans())
    if overridable:
        rule_b["override"] = {
            "minimum": "P1D",
            "maximum": "P2Y",
            "trigger": draw(st.one_of(st.none(), TRIGGERS)),
        }
    n_accounts = draw(st.integers(0, 5))
    accounts = [
        {
            "id": i,
            "name": draw(st.one_of(st.none(), st.just(f"name{i}"))),
            "email": f"user{i}@example.org",
            "language": draw(st.sampled_from([None, "en", "ar"])),
            "created_at": draw(INSTANTS),
            "closed_at": draw(st.one_of(st.none(), INSTANTS)),
            "deactivated_at": draw(st.one_of(st.none(), INSTANTS)),
            "seen_at": draw(st.one_of(st.none(), INSTANTS)),
        }
        for i in range(1, n_accounts + 1)
    ]
    account_ids = st.one_of(st.none(), st.integers(1, n_accounts + 1))  # n+1: an orphan
    items = [
        {
            "id": i,
            "account_id": draw(account_ids),
            "phone": draw(st.sampled_from([None, "+44 20 7946 0000", "555-0101"])),
            "note": draw(st.sampled_from([None, "call back"])),
            "created_at": draw(INSTANTS),
            "end_at": draw(st.one_of(st.none(), INSTANTS)),
        }
        for i in range(1, draw(st.integers(0, 12)) + 1)
    ]
    overrides: dict[int, str] = {}
    if overridable and n_accounts:
        for account in draw(st.lists(st.integers(1, n_accounts), unique=True, max_size=3)):
            overrides[account] = draw(DURATIONS)
    now = draw(NOWS)
    holds = []
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["subject", "items", "items_sel", "accounts_sel"]))
        placed = draw(st.sampled_from([now - dt.timedelta(days=30), now + dt.timedelta(days=1)]))
        released = draw(
            st.sampled_from([None, now - dt.timedelta(days=1), now + dt.timedelta(days=5)])
        )
        if released is not None and released < placed:
            released = None
        hold: dict[str, Any] = {"kind": kind, "placed": placed, "released": released}
        if kind == "subject":
            hold["user_id"] = draw(st.integers(1, max(n_accounts, 1)))
        elif kind == "items_sel":
            hold["selection"] = draw(
                st.sampled_from(
                    [
                        Eq("account_id", 1),
                        In("id", (1, 2, 3)),
                        Before("end_at", dt.datetime(2024, 3, 1, tzinfo=UTC)),
                        Not(Eq("account_id", 2)),
                    ]
                )
            )
        elif kind == "accounts_sel":
            hold["selection"] = draw(st.sampled_from([Eq("id", 1), Not(Eq("language", "en"))]))
        holds.append(hold)
    return {
        "rules": [rule_a, rule_b],
        "accounts": accounts,
        "items": items,
        "overrides": overrides,
        "holds": holds,
        "now": now,
    }


_BASE_POLICY = example_policy_data()


@functools.lru_cache(maxsize=512)
def _policy(rules_json: str) -> pk.Policy:
    data = copy.deepcopy(_BASE_POLICY)
    data["retention"] = json.loads(rules_json)
    return pk.Policy.model_validate(data)


def build_policy(rules: list[dict[str, Any]]) -> pk.Policy:
    return _policy(json.dumps(rules, sort_keys=True))


def make_engine(scenario: dict[str, Any], kind: str) -> tuple[pk.Engine, Any]:
    policy = build_policy(scenario["rules"])
    if kind == "memory":
        adapter: Any = InMemoryAdapter(
            {"accounts": scenario["accounts"], "items": scenario["items"]}
        )
    else:
        from privacy_kit.adapters import SQLiteAdapter

        adapter = SQLiteAdapter(":memory:")
        adapter.create_schema(DATAMAP)
        adapter.insert(ACCOUNTS, scenario["accounts"])
        adapter.insert(ITEMS, scenario["items"])
    engine = pk.Engine(policy, DATAMAP, adapter, secret=SECRET)
    for i, h in enumerate(scenario["holds"]):
        args: dict[str, Any] = {}
        if h["kind"] == "subject":
            args["subject"] = pk.Subject.of("customer", user_id=h["user_id"])
        elif h["kind"] == "items":
            args["record_type"] = "items"
        else:
            args["record_type"] = "items" if h["kind"] == "items_sel" else "accounts"
            args["selection"] = h["selection"]
        engine.place_hold(
            reason="case", placed_by="legal", now=h["placed"], hold_id=f"h{i}", **args
        )
        if h["released"] is not None:
            engine.release_hold(f"h{i}", released_by="legal", now=h["released"])
    return engine, adapter


def rows(adapter: Any, rt: pk.RecordType) -> dict[int, dict[str, Any]]:
    out = {}
    for batch in adapter.iter_records(rt, All()):
        for r in batch:
            out[r["id"]] = {f: r.get(f) for f in rt.field_names}
    return out


# -- the oracle: record by record, no selections, no cutoffs -----------------------------------------
def _rd(text: str | None) -> relativedelta:
    return relativedelta() if text is None else pk.Duration.parse(text).to_relativedelta()


def _longer(a: str | None, b: str | None) -> bool:
    return pk.Duration.parse(a or "P0D") > pk.Duration.parse(b or "P0D")


def _held(
    scenario: dict[str, Any], rt: str, record: dict[str, Any], *, applying: bool = False
) -> bool:
    """Held at ``now`` (planning), or, ``applying``, by any hold not released at ``now``: applying
    re-reads the holds, and one placed after the plan's instant keeps its records too."""
    now = scenario["now"]
    for h in scenario["holds"]:
        placed = h["placed"] <= now or applying
        if not (placed and (h["released"] is None or now < h["released"])):
            continue
        if h["kind"] == "subject":
            field = "id" if rt == "accounts" else "account_id"
            if record.get(field) == h["user_id"]:
                return True
        elif (h["kind"] == "items" and rt == "items") or (
            h["kind"] == f"{rt}_sel" and h["selection"].evaluate(record) is True
        ):
            return True
    return False


def expected(
    scenario: dict[str, Any], *, applying: bool = False
) -> dict[str, dict[int, tuple[str, dict[str, Any] | None]]]:
    """Per record: ("keep" | "delete" | "anonymize" | "minimize", the record afterwards)."""
    now = scenario["now"]
    accounts = {a["id"]: a for a in scenario["accounts"]}
    out: dict[str, dict[int, tuple[str, dict[str, Any] | None]]] = {}
    for rt, rule, records in (
        (ACCOUNTS, scenario["rules"][0], scenario["accounts"]),
        (ITEMS, scenario["rules"][1], scenario["items"]),
    ):
        result: dict[int, tuple[str, dict[str, Any] | None]] = {}
        for record in records:
            full = {f: record.get(f) for f in rt.field_names}
            trigger, duration = rule["trigger"], rule.get("duration")
            link = full["id"] if rt.name == "accounts" else full["account_id"]
            if "override" in rule and link in scenario["overrides"]:
                trigger = rule["override"].get("trigger") or trigger
                duration = scenario["overrides"][link]
            field = TIME_FIELDS[rt.name].get(trigger)
            if field is not None:
                when = full[field]
                structural = {"id", field} | ({"account_id"} if rt.name == "items" else set())
            else:
                account_field = TIME_FIELDS["accounts"].get(trigger)
                account = accounts.get(link) if link is not None else None
                when = account.get(account_field) if account and account_field else None
                structural = {"id"} | ({"account_id"} if rt.name == "items" else set())
            if when is None or _held(scenario, rt.name, full, applying=applying):
                result[full["id"]] = ("keep", full)
                continue
            # Exceptions: the fields they name are kept until trigger + their duration.
            keep_until: dict[str, str | None] = {}
            for exc in rule.get("exceptions", []):
                if not _longer(exc["duration"], duration):
                    continue
                for f in rt.fields:
                    if (
                        f.personal
                        and f.name not in structural
                        and any(is_within(c, k) for c in f.categories for k in exc["categories"])
                    ):
                        keep_until[f.name] = exc["duration"]
            final = max(
                [duration, *keep_until.values()], key=lambda d: pk.Duration.parse(d or "P0D")
            )
            start = when.astimezone(UTC)
            if start + _rd(final) <= now:
                if rule["action"] == "delete":
                    result[full["id"]] = ("delete", None)
                else:
                    after = dict(full)
                    for f in rt.fields:
                        if f.personal and f.name != "id":
                            after[f.name] = strategy_for(f).apply(full[f.name], SECRET)
                    result[full["id"]] = ("anonymize", after)
            elif keep_until and start + _rd(duration) <= now:
                after = dict(full)
                for f in rt.fields:
                    if f.personal and f.name not in structural and f.name not in keep_until:
                        after[f.name] = None
                changed = after != full
                result[full["id"]] = ("minimize" if changed else "keep", after)
            else:
                result[full["id"]] = ("keep", full)
        out[rt.name] = result
    return out


def _norm(record: dict[str, Any] | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {k: (v.astimezone(UTC) if isinstance(v, dt.datetime) else v) for k, v in record.items()}


def check_sweep(scenario: dict[str, Any], kind: str) -> None:
    engine, adapter = make_engine(scenario, kind)
    settings_ = RetentionSettings(engine.policy)
    for account, duration in scenario["overrides"].items():
        settings_.set(account, "rule_b", duration)
    want = expected(scenario)
    plan = engine.plan_retention(now=scenario["now"], settings=settings_, batch_size=2)
    planned = {
        rt: sum(1 for action, _ in want[rt].values() if action != "keep")
        for rt in ("accounts", "items")
    }
    for rt in ("accounts", "items"):
        assert sum(e.count for e in plan.entries if e.record_type == rt) == planned[rt], (
            plan.summary()
        )
    before = {rt.name: rows(adapter, rt) for rt in (ACCOUNTS, ITEMS)}
    # Each record's fate (asked before the sweep) agrees with what the sweep does.
    for rt in (ACCOUNTS, ITEMS):
        for key, record in before[rt.name].items():
            fate = engine.fate(rt, record, now=scenario["now"], settings=settings_)
            action = want[rt.name][key][0]
            if fate.held:
                assert action == "keep", (rt.name, key, fate.sentence)
                continue
            assert fate.expired == (action in ("delete", "anonymize")), (
                rt.name,
                key,
                fate.sentence,
            )
            if action == "minimize":
                assert any(stage.at <= scenario["now"] for stage in fate.stages[:-1])
    report = engine.apply(plan)
    want = expected(scenario, applying=True)
    # The report counts what changed: a record already in its anonymised state is not counted
    # (its strategies cannot be recognised in a selection, so the plan counts it).
    changed = 0
    for rt in (ACCOUNTS, ITEMS):
        after = rows(adapter, rt)
        changed += sum(
            1
            for key, record in before[rt.name].items()
            if key not in after or _norm(after[key]) != _norm(record)
        )
    assert report.total == changed, report.summary()
    assert report.total <= sum(planned.values())
    for rt in (ACCOUNTS, ITEMS):
        after = rows(adapter, rt)
        for key, (action, record) in want[rt.name].items():
            if action == "delete":
                assert key not in after, (rt.name, key)
            else:
                assert _norm(after[key]) == _norm(record), (
                    rt.name,
                    key,
                    action,
                    before[rt.name][key],
                )
        assert set(after) <= set(want[rt.name])
    # A second sweep at the same instant finds nothing left to delete or minimise.
    # (What it counts is only what a hold placed after ``now`` keeps, and applying keeps it.)
    again = engine.plan_retention(now=scenario["now"], settings=settings_)
    second = engine.apply(again)
    assert second.total == 0, again.summary()
    assert [e.count for e in again.entries if e.action != "anonymize"] == [
        line.newly_held for line in second.lines if line.action != "anonymize"
    ], again.summary()


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(scenarios())
def test_sweep_matches_the_oracle_in_memory(scenario: dict[str, Any]) -> None:
    check_sweep(scenario, "memory")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_sweep_matches_the_oracle_on_sqlite(scenario: dict[str, Any]) -> None:
    check_sweep(scenario, "sqlite")


# -- the calendar: the cutoff is the exact inverse of adding the duration --------------------------
@settings(max_examples=400, deadline=None)
@given(
    st.datetimes(
        min_value=dt.datetime(2000, 1, 1),
        max_value=dt.datetime(2030, 12, 31),
        timezones=st.just(UTC),
    ),
    st.datetimes(
        min_value=dt.datetime(2000, 1, 1),
        max_value=dt.datetime(2030, 12, 31),
        timezones=st.just(UTC),
    ),
    st.builds(
        pk.Duration,
        years=st.integers(0, 3),
        months=st.integers(0, 14),
        days=st.integers(0, 40),
        hours=st.integers(0, 30),
    ),
)
def test_cutoff_is_exact(trigger: dt.datetime, now: dt.datetime, duration: pk.Duration) -> None:
    c = cutoff(duration, now)
    assert (trigger <= c) == (expires_at(trigger, duration) <= now)
    assert expires_at(c, duration) <= now
    assert expires_at(c + dt.timedelta(microseconds=1), duration) > now


@pytest.mark.parametrize(
    ("trigger", "duration"),
    [
        (dt.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC), "P1M"),
        (dt.datetime(2024, 1, 31, 12, tzinfo=UTC), "P1M"),
        (dt.datetime(2023, 2, 28, 12, tzinfo=UTC), "P1Y"),
    ],
)
def test_month_end_triggers_expire_when_the_calendar_says(
    trigger: dt.datetime, duration: str
) -> None:
    d = pk.Duration.parse(duration)
    due = expires_at(trigger, d)
    assert trigger <= cutoff(d, due)
    assert trigger > cutoff(d, due - dt.timedelta(microseconds=1))


def test_naive_subtraction_is_not_the_inverse() -> None:
    now = dt.datetime(2024, 3, 31, tzinfo=UTC)
    d = pk.Duration.parse("P1M")
    late_on_29_feb = dt.datetime(2024, 2, 29, 18, tzinfo=UTC)
    assert expires_at(late_on_29_feb, d) <= now  # expired on 29 March
    assert late_on_29_feb > d.before(now)  # but now - 1 month is 29 Feb 00:00
    assert late_on_29_feb <= cutoff(d, now)
