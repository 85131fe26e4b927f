"""Breach incidents: each rule's deadline at its edges, with its citation; who to tell; the notice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import pydantic
import pytest

import privacy_kit as pk
from privacy_kit.adapters import InMemoryAdapter, Record, Selection
from privacy_kit.lifecycle import BREACH_RULES, DutyStatus

UTC = dt.UTC
PARIS = ZoneInfo("Europe/Paris")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


@pytest.fixture(scope="module")
def policy() -> pk.Policy:
    return pk.load_policy(pk.example_path("policy.yaml"))


@pytest.fixture(scope="module")
def datamap(policy: pk.Policy) -> pk.DataMap:
    return pk.load_datamap(pk.example_path("datamap.yaml"), policy=policy)


def incident(
    aware_at: dt.datetime,
    *,
    occurred_at: dt.datetime | None = None,
    risk: str = "high",
    subjects: dict[str, int] | None = None,
    **more: Any,
) -> pk.Incident:
    data: dict[str, Any] = {
        "occurred_at": occurred_at or aware_at - dt.timedelta(hours=5),
        "aware_at": aware_at,
        "categories": ["user.contact.email"],
        "risk": risk,
        "subjects": {"gdpr": 10} if subjects is None else subjects,
    }
    data.update(more)
    return pk.Incident(**data)


# -- GDPR Art. 33: the authority, 72 hours from awareness -------------------------------------
def test_gdpr_authority_deadline_is_exactly_72_hours(policy: pk.Policy) -> None:
    aware = dt.datetime(2025, 3, 2, 10, tzinfo=UTC)
    inc = incident(aware, risk="medium")
    deadline = aware + dt.timedelta(hours=72)
    on_time = pk.assess(inc, policy, now=deadline).duty("gdpr.authority")
    assert on_time.deadline == deadline
    assert on_time.status is DutyStatus.DUE
    assert on_time.citation == "GDPR Art. 33(1)"
    assert on_time.timing == "within 72 hours of becoming aware"
    late = pk.assess(inc, policy, now=deadline + dt.timedelta(microseconds=1)).duty(
        "gdpr.authority"
    )
    assert late.status is DutyStatus.LATE
    assert late.reason is not None
    assert "reasons for the delay" in late.reason
    assert "Art. 33(1)" in late.reason


def test_72_hours_are_elapsed_hours_across_dst(policy: pk.Policy) -> None:
    # Clocks in Paris jump from 02:00 to 03:00 on 30 March 2025: 72 real hours after
    # Saturday 12:00 CET is Tuesday 13:00 CEST.
    aware = dt.datetime(2025, 3, 29, 12, tzinfo=PARIS)
    duty = pk.assess(incident(aware), policy).duty("gdpr.authority")
    assert duty.deadline is not None
    # (Subtracting two datetimes of the same zone gives wall-clock time: compare in UTC.)
    assert duty.deadline.astimezone(UTC) - aware.astimezone(UTC) == dt.timedelta(hours=72)
    assert (duty.deadline.day, duty.deadline.hour) == (1, 13)
    assert duty.deadline.utcoffset() == dt.timedelta(hours=2)
    # And back in autumn (27 October 2024): Thursday 12:00 CEST + 72h is Sunday 11:00 CET.
    autumn = dt.datetime(2024, 10, 24, 12, tzinfo=PARIS)
    deadline = pk.assess(incident(autumn), policy).duty("gdpr.authority").deadline
    assert deadline is not None
    assert (deadline.day, deadline.hour) == (27, 11)


@pytest.mark.parametrize(
    ("aware", "expected"),
    [
        (dt.datetime(2024, 2, 27, 12, tzinfo=UTC), dt.datetime(2024, 3, 1, 12, tzinfo=UTC)),
        (dt.datetime(2025, 2, 27, 12, tzinfo=UTC), dt.datetime(2025, 3, 2, 12, tzinfo=UTC)),
        (
            dt.datetime(2024, 12, 30, 23, 30, tzinfo=UTC),
            dt.datetime(2025, 1, 2, 23, 30, tzinfo=UTC),
        ),
    ],
    ids=["leap-year", "non-leap-year", "year-end"],
)
def test_72_hours_over_month_and_year_ends(
    policy: pk.Policy, aware: dt.datetime, expected: dt.datetime
) -> None:
    assert pk.assess(incident(aware), policy).duty("gdpr.authority").deadline == expected


def test_low_risk_needs_no_authority_notice_but_is_documented(policy: pk.Policy) -> None:
    a = pk.assess(incident(dt.datetime(2025, 3, 2, tzinfo=UTC), risk="low"), policy)
    authority = a.duty("gdpr.authority")
    assert authority.status is DutyStatus.NOT_REQUIRED
    assert authority.reason is not None
    assert "unlikely to result in a risk" in authority.reason
    doc = a.duty("gdpr.documentation")
    assert doc.status is DutyStatus.ONGOING
    assert doc.citation == "GDPR Art. 33(5)"
    assert a.duty("gdpr.subjects").status is DutyStatus.NOT_REQUIRED


# -- GDPR Art. 34: the people affected --------------------------------------------------------
def test_high_risk_means_telling_the_subjects(policy: pk.Policy) -> None:
    duty = pk.assess(incident(dt.datetime(2025, 3, 2, tzinfo=UTC)), policy).duty("gdpr.subjects")
    assert duty.status is DutyStatus.DUE
    assert duty.timing == "without undue delay"
    assert duty.deadline is None
    assert duty.citation == "GDPR Art. 34(1)"
    medium = pk.assess(incident(dt.datetime(2025, 3, 2, tzinfo=UTC), risk="medium"), policy)
    assert medium.duty("gdpr.subjects").status is DutyStatus.NOT_REQUIRED


@pytest.mark.parametrize(
    ("flag", "citation"),
    [
        ("encrypted", "GDPR Art. 34(3)(a)"),
        ("risk_no_longer_likely", "GDPR Art. 34(3)(b)"),
        ("disproportionate_effort", "GDPR Art. 34(3)(c)"),
    ],
)
def test_art_34_exemptions(policy: pk.Policy, flag: str, citation: str) -> None:
    a = pk.assess(incident(dt.datetime(2025, 3, 2, tzinfo=UTC), **{flag: True}), policy)
    duty = a.duty("gdpr.subjects")
    assert duty.status is DutyStatus.EXEMPT
    assert citation in duty.citation
    assert not duty.required
    public = [d for d in a.duties if d.key == "gdpr.subjects.public"]
    if flag == "disproportionate_effort":
        (communication,) = public
        assert communication.to == "public"
        assert communication.status is DutyStatus.DUE
        assert communication.citation == citation
    else:
        assert public == []
    # The authority is still told: the exemptions are from Art. 34 only.
    assert a.duty("gdpr.authority").status is DutyStatus.DUE


def test_uk_gdpr_tells_the_ico_in_72_hours(policy: pk.Policy) -> None:
    aware = dt.datetime(2025, 6, 1, 8, tzinfo=ZoneInfo("Europe/London"))
    a = pk.assess(incident(aware, subjects={"uk_gdpr": 3}), policy)
    ico = a.duty("uk_gdpr.authority")
    assert "ICO" in ico.description
    assert ico.citation == "UK GDPR Art. 33(1)"
    assert ico.deadline == aware + dt.timedelta(hours=72)
    assert a.duty("uk_gdpr.subjects").citation == "UK GDPR Art. 34(1)"
    assert a.jurisdictions == ("uk_gdpr",)
    assert not any(d.regime == "gdpr" for d in a.duties)


# -- LGPD: 3 business days -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (dt.date(2025, 5, 5), dt.date(2025, 5, 8)),  # Monday -> Thursday
        (dt.date(2025, 5, 1), dt.date(2025, 5, 6)),  # Thursday -> Tuesday
        (dt.date(2025, 5, 2), dt.date(2025, 5, 7)),  # Friday -> Wednesday
        (dt.date(2025, 5, 3), dt.date(2025, 5, 7)),  # Saturday -> Wednesday
        (dt.date(2025, 5, 4), dt.date(2025, 5, 7)),  # Sunday -> Wednesday
        (dt.date(2025, 7, 31), dt.date(2025, 8, 5)),  # month end
        (dt.date(2024, 2, 28), dt.date(2024, 3, 4)),  # Wednesday over 29 Feb -> Monday
        (dt.date(2024, 12, 31), dt.date(2025, 1, 3)),  # year end
    ],
)
def test_add_business_days(start: dt.date, expected: dt.date) -> None:
    assert pk.add_business_days(start, 3) == expected
    assert expected.weekday() < 5


def test_business_days_skip_holidays_and_refuse_negatives() -> None:
    assert pk.add_business_days(dt.date(2025, 5, 2), 3, holidays=[dt.date(2025, 5, 5)]) == dt.date(
        2025, 5, 8
    )
    assert pk.add_business_days(dt.date(2025, 5, 3), 0) == dt.date(2025, 5, 3)
    with pytest.raises(ValueError, match="must not be negative"):
        pk.add_business_days(dt.date(2025, 5, 3), -1)


def test_lgpd_deadline_counts_local_business_days(policy: pk.Policy) -> None:
    # Friday evening in São Paulo is already Saturday in UTC: the local date counts.
    aware = dt.datetime(2025, 5, 2, 22, tzinfo=SAO_PAULO)
    inc = incident(aware, risk="medium", subjects={"lgpd": 4})
    duty = pk.assess(inc, policy).duty("lgpd.authority")
    assert duty.deadline == dt.datetime(2025, 5, 7, 23, 59, 59, 999999, tzinfo=SAO_PAULO)
    assert duty.citation == "LGPD Art. 48; ANPD Resolution CD/ANPD 15/2024"
    assert duty.to_check
    assert duty.note is not None
    assert "to be checked" in duty.note
    assert duty.timing == "within 3 business days of becoming aware"
    end = dt.datetime(2025, 5, 7, 23, 59, 59, 999999, tzinfo=SAO_PAULO)
    assert pk.assess(inc, policy, now=end).duty("lgpd.authority").status is DutyStatus.DUE
    after = dt.datetime(2025, 5, 8, 0, 0, tzinfo=SAO_PAULO)
    assert pk.assess(inc, policy, now=after).duty("lgpd.subjects").status is DutyStatus.LATE
    holiday = pk.assess(inc, policy, holidays=[dt.date(2025, 5, 5)]).duty("lgpd.authority")
    assert holiday.deadline is not None
    assert holiday.deadline.date() == dt.date(2025, 5, 8)
    low = pk.assess(incident(aware, risk="low", subjects={"lgpd": 4}), policy)
    assert low.duty("lgpd.authority").status is DutyStatus.NOT_REQUIRED


# -- PIPEDA and California --------------------------------------------------------------------
def test_pipeda_real_risk_of_significant_harm_and_records(policy: pk.Policy) -> None:
    aware = dt.datetime(2024, 2, 29, 9, tzinfo=ZoneInfo("America/Toronto"))
    a = pk.assess(incident(aware, subjects={"pipeda": 2}), policy)
    commissioner = a.duty("pipeda.authority")
    assert commissioner.status is DutyStatus.DUE
    assert commissioner.timing == "as soon as feasible"
    assert commissioner.citation == "PIPEDA s. 10.1(1)"
    assert a.duty("pipeda.subjects").citation == "PIPEDA s. 10.1(3)"
    records = a.duty("pipeda.records")
    assert records.status is DutyStatus.ONGOING
    assert records.citation == "PIPEDA s. 10.3"
    assert records.keep_until == dt.datetime(2026, 2, 28, 9, tzinfo=ZoneInfo("America/Toronto"))
    medium = pk.assess(incident(aware, risk="medium", subjects={"pipeda": 2}), policy)
    assert medium.duty("pipeda.authority").status is DutyStatus.NOT_REQUIRED
    assert medium.duty("pipeda.records").status is DutyStatus.ONGOING
    flagged = incident(aware, risk="medium", subjects={"pipeda": 2}, significant_harm=True)
    assert pk.assess(flagged, policy).duty("pipeda.subjects").status is DutyStatus.DUE


def test_california_before_and_from_2026(policy: pk.Policy) -> None:
    # The last evening of 2025 in Los Angeles is already 2026 in UTC: the local date counts.
    old = incident(dt.datetime(2025, 12, 31, 20, tzinfo=LOS_ANGELES), subjects={"ccpa": 9})
    before = pk.assess(old, policy).duty("ccpa.residents")
    assert before.deadline is None
    assert before.timing.startswith("in the most expedient time possible")
    assert before.citation == "Cal. Civ. Code 1798.82(a)"
    assert not before.to_check
    new = incident(dt.datetime(2026, 1, 1, 0, 30, tzinfo=LOS_ANGELES), subjects={"ccpa": 9})
    after = pk.assess(new, policy).duty("ccpa.residents")
    assert after.deadline == dt.datetime(2026, 1, 31, 0, 30, tzinfo=LOS_ANGELES)
    assert after.to_check
    assert after.note is not None
    assert "to be checked" in after.note
    encrypted = incident(new.aware_at, subjects={"ccpa": 9}, encrypted=True)
    assert pk.assess(encrypted, policy).duty("ccpa.residents").status is DutyStatus.EXEMPT


@pytest.mark.parametrize(("count", "status"), [(500, "not_required"), (501, "due")])
def test_california_attorney_general_over_500(policy: pk.Policy, count: int, status: str) -> None:
    inc = incident(dt.datetime(2025, 6, 1, tzinfo=UTC), subjects={"ccpa": count})
    duty = pk.assess(inc, policy).duty("ccpa.attorney_general")
    assert duty.status.value == status
    assert duty.citation == "Cal. Civ. Code 1798.82(f)"
    assert duty.subject_count == count


def test_every_rule_is_cited() -> None:
    for rule in BREACH_RULES:
        assert rule.citation
        assert all(e.citation for e in rule.exemptions)
    assert len({(r.key, r.from_date) for r in BREACH_RULES}) == len(BREACH_RULES)


# -- the policy's own promise -----------------------------------------------------------------
def test_policy_promise_to_customers(policy: pk.Policy) -> None:
    aware = dt.datetime(2025, 3, 2, 10, tzinfo=UTC)
    inc = incident(aware, kind="misconfiguration")
    duty = pk.assess(inc, policy).duty("policy.customer")
    assert duty.to == "customer"
    assert duty.deadline == aware + dt.timedelta(hours=72)
    assert duty.channels == ("email",)
    assert duty.citation == "policy 2024.1: breach.notify_within = PT72H"
    assert duty.status is DutyStatus.DUE
    late = pk.assess(inc, policy, now=aware + dt.timedelta(hours=73)).duty("policy.customer")
    assert late.status is DutyStatus.LATE
    other = incident(aware, kind="unauthorised_access")
    skipped = pk.assess(other, policy).duty("policy.customer")
    assert skipped.status is DutyStatus.NOT_REQUIRED
    assert skipped.reason is not None
    assert "breach, misconfiguration" in skipped.reason


def test_promise_counted_from_occurrence(policy: pk.Policy) -> None:
    breach = dict(policy.model_dump(mode="python")["breach"], from_awareness=False)
    counted = policy.replace(breach=breach)
    occurred = dt.datetime(2025, 3, 1, 9, tzinfo=UTC)
    inc = incident(dt.datetime(2025, 3, 2, 10, tzinfo=UTC), occurred_at=occurred)
    duty = pk.assess(inc, counted).duty("policy.customer")
    assert duty.deadline == occurred + dt.timedelta(hours=72)
    assert duty.timing == "within 72 hours of the incident"


def test_unknown_counts_assume_the_policy_jurisdictions(policy: pk.Policy) -> None:
    a = pk.assess(incident(dt.datetime(2025, 3, 2, tzinfo=UTC), subjects={}), policy)
    assert a.jurisdictions == ("gdpr", "uk_gdpr", "ccpa")
    assert "were assumed" in a.notes[0]
    ag = a.duty("ccpa.attorney_general")
    assert ag.status is DutyStatus.DUE
    assert ag.reason is not None
    assert "count unknown" in ag.reason
    zero = pk.assess(incident(dt.datetime(2025, 3, 2, tzinfo=UTC), subjects={"gdpr": 0}), policy)
    assert zero.jurisdictions == ()
    assert [d.key for d in zero.duties] == ["policy.customer"]


def test_assessment_summaries(policy: pk.Policy) -> None:
    aware = dt.datetime(2025, 3, 2, 10, tzinfo=UTC)
    inc = incident(aware, subjects={"gdpr": 5, "lgpd": 1})
    a = pk.assess(inc, policy, now=aware + dt.timedelta(hours=80))
    assert {d.key for d in a.late} == {"gdpr.authority", "policy.customer"}
    # LGPD: Sunday 2 March -> Wednesday 5 March, end of day: not late yet after 80 hours.
    assert a.next_deadline is not None
    assert a.next_deadline.key == "gdpr.authority"
    assert "lgpd.authority" in {d.key for d in a.required}
    assert str(a.duty("gdpr.authority")).startswith("gdpr.authority [late]")
    with pytest.raises(pk.UnknownNameError, match=r"unknown duty 'gdpr\.nothing'"):
        a.duty("gdpr.nothing")


# -- bad input --------------------------------------------------------------------------------
def test_naive_datetimes_are_refused(policy: pk.Policy) -> None:
    with pytest.raises(pydantic.ValidationError, match="aware_at must be a timezone-aware"):
        pk.Incident(
            occurred_at=dt.datetime(2025, 3, 1, tzinfo=UTC),
            aware_at=dt.datetime(2025, 3, 2),
            categories=["user.contact.email"],
            risk="low",
        )
    inc = incident(dt.datetime(2025, 3, 2, tzinfo=UTC))
    with pytest.raises(ValueError, match="now must be a timezone-aware"):
        pk.assess(inc, policy, now=dt.datetime(2025, 3, 3))


def test_aware_before_occurred_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match=r"aware_at .* is before occurred_at"):
        incident(
            dt.datetime(2025, 3, 2, tzinfo=UTC), occurred_at=dt.datetime(2025, 3, 3, tzinfo=UTC)
        )
    with pytest.raises(pydantic.ValidationError, match=r"contained_at .* is before occurred_at"):
        incident(
            dt.datetime(2025, 3, 2, tzinfo=UTC),
            occurred_at=dt.datetime(2025, 3, 1, tzinfo=UTC),
            contained_at=dt.datetime(2025, 2, 1, tzinfo=UTC),
        )


def test_bad_counts_and_jurisdictions() -> None:
    with pytest.raises(pydantic.ValidationError, match="did you mean 'uk_gdpr'"):
        incident(dt.datetime(2025, 3, 2, tzinfo=UTC), subjects={"uk-gdpr": 1})
    with pytest.raises(pydantic.ValidationError, match="must not be negative"):
        incident(dt.datetime(2025, 3, 2, tzinfo=UTC), subjects={"gdpr": -1})
    with pytest.raises(pydantic.ValidationError, match="risk"):
        incident(dt.datetime(2025, 3, 2, tzinfo=UTC), risk="severe")


def test_unknown_category_and_early_now(policy: pk.Policy) -> None:
    inc = incident(dt.datetime(2025, 3, 2, tzinfo=UTC), categories=["user.contact.emial"])
    with pytest.raises(
        pk.ConfigurationError, match=r"categories\[0\].*did you mean 'user\.contact\.email'"
    ):
        pk.assess(inc, policy)
    ok = incident(dt.datetime(2025, 3, 2, tzinfo=UTC))
    with pytest.raises(pk.ConfigurationError, match="before the controller became aware"):
        pk.assess(ok, policy, now=dt.datetime(2025, 3, 1, tzinfo=UTC))


# -- who must be told, through the data map and the adapters ----------------------------------
def row(datamap: pk.DataMap, table: str, **values: Any) -> dict[str, Any]:
    return dict.fromkeys(datamap.record_type(table).field_names) | values


class SpyAdapter(InMemoryAdapter):
    """Records every read: which fields and batch size were asked for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reads: list[tuple[str, tuple[str, ...] | None, int]] = []

    def iter_records(
        self,
        record_type: pk.RecordType,
        selection: Selection,
        *,
        fields: Sequence[str] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[list[Record]]:
        self.reads.append((record_type.name, tuple(fields) if fields else None, batch_size))
        return super().iter_records(record_type, selection, fields=fields, batch_size=batch_size)


@pytest.fixture
def bookings_store(datamap: pk.DataMap) -> SpyAdapter:
    t = dt.datetime(2025, 2, 1, tzinfo=UTC)
    tables: dict[str, list[dict[str, Any]]] = {rt.table_name: [] for rt in datamap.record_types}
    tables["users"] = [
        row(datamap, "users", id=7, email="host7@example.com", created_at=t),
        row(datamap, "users", id=8, email="host8@example.com", created_at=t),
    ]
    tables["bookings"] = [
        row(datamap, "bookings", id=1, host_id=7, invitee_email="ann@example.com", created_at=t),
        row(datamap, "bookings", id=2, host_id=7, invitee_email="bob@example.com", created_at=t),
        row(datamap, "bookings", id=3, host_id=8, invitee_email="ann@example.com", created_at=t),
        row(datamap, "bookings", id=4, host_id=8, invitee_email=None, created_at=t),
        row(datamap, "bookings", id=5, host_id=9, invitee_email="cy@example.com", created_at=None),
        # Created after the exposure was contained: not exposed.
        row(
            datamap,
            "bookings",
            id=6,
            host_id=10,
            invitee_email="late@example.com",
            created_at=dt.datetime(2025, 3, 10, tzinfo=UTC),
        ),
    ]
    return SpyAdapter(tables)


def invitee_breach() -> pk.Incident:
    return pk.Incident(
        occurred_at=dt.datetime(2025, 3, 1, 22, tzinfo=UTC),
        aware_at=dt.datetime(2025, 3, 2, 10, tzinfo=UTC),
        contained_at=dt.datetime(2025, 3, 2, 12, tzinfo=UTC),
        categories=["user.contact.email"],
        record_types=["bookings"],
        subjects={"gdpr": 3},
        risk="high",
        reference="INC-7",
    )


def test_invitee_email_breach_end_to_end(
    policy: pk.Policy, datamap: pk.DataMap, bookings_store: SpyAdapter
) -> None:
    engine = pk.Engine(policy, datamap, bookings_store)
    inc = invitee_breach()
    now = dt.datetime(2025, 3, 3, 9, tzinfo=UTC)
    a = pk.assess(inc, policy, now=now)
    assert a.duty("gdpr.authority").deadline == dt.datetime(2025, 3, 5, 10, tzinfo=UTC)
    assert a.duty("policy.customer").deadline == dt.datetime(2025, 3, 5, 10, tzinfo=UTC)
    assert a.duty("gdpr.subjects").status is DutyStatus.DUE
    found = list(pk.subjects_to_notify(engine, inc, now=now, batch_size=2))
    assert [(f.kind, f.role, f.subject.identities, f.data_affected) for f in found] == [
        ("customer", "host", (("user_id", 7),), False),
        ("customer", "host", (("user_id", 8),), False),
        ("customer", "host", (("user_id", 9),), False),
        ("end_user", "invitee", (("email", "ann@example.com"),), True),
        ("end_user", "invitee", (("email", "bob@example.com"),), True),
        ("end_user", "invitee", (("email", "cy@example.com"),), True),
    ]
    assert {f.record_type for f in found} == {"bookings"}
    # Only the subject-link fields were read, one field per pass, in the batches asked for.
    assert bookings_store.reads == [
        ("bookings", ("host_id",), 2),
        ("bookings", ("invitee_email",), 2),
    ]
    # The customers the policy promises to tell, and the data subjects Art. 34 concerns:
    customers = [f.subject for f in found if f.kind in policy.breach.notify]
    assert [s.identity("user_id") for s in customers] == [7, 8, 9]


def test_without_containment_now_bounds_the_exposure(
    policy: pk.Policy, datamap: pk.DataMap, bookings_store: SpyAdapter
) -> None:
    engine = pk.Engine(policy, datamap, bookings_store)
    inc = invitee_breach().replace(contained_at=None)
    later = dt.datetime(2025, 3, 20, tzinfo=UTC)
    emails = {
        f.subject.identity("email")
        for f in pk.subjects_to_notify(engine, inc, now=later)
        if f.kind == "end_user"
    }
    assert "late@example.com" in emails
    early = dt.datetime(2025, 3, 3, tzinfo=UTC)
    emails = {
        f.subject.identity("email")
        for f in pk.subjects_to_notify(engine, inc, now=early)
        if f.kind == "end_user"
    }
    assert "late@example.com" not in emails


def test_all_record_types_holding_the_category(
    policy: pk.Policy, datamap: pk.DataMap, bookings_store: SpyAdapter
) -> None:
    engine = pk.Engine(policy, datamap, bookings_store)
    inc = invitee_breach().replace(record_types=())
    found = list(pk.subjects_to_notify(engine, inc, now=dt.datetime(2025, 3, 3, tzinfo=UTC)))
    # users holds customers' own e-mails: those customers' data is affected.
    first = {f.subject.identity("user_id"): f for f in found if f.kind == "customer"}
    assert first[7].data_affected
    assert first[7].record_type == "users"
    assert first[9].record_type == "bookings"
    assert not first[9].data_affected
    assert len(found) == len({f.subject for f in found})  # each subject once


def test_subjects_to_notify_bad_input(
    policy: pk.Policy, datamap: pk.DataMap, bookings_store: SpyAdapter
) -> None:
    engine = pk.Engine(policy, datamap, bookings_store)
    now = dt.datetime(2025, 3, 3, tzinfo=UTC)
    with pytest.raises(pk.ConfigurationError, match="did you mean 'bookings'"):
        list(
            pk.subjects_to_notify(
                engine, invitee_breach().replace(record_types=["booking"]), now=now
            )
        )
    with pytest.raises(pk.ConfigurationError, match="'payment_methods' holds none"):
        list(
            pk.subjects_to_notify(
                engine, invitee_breach().replace(record_types=["payment_methods"]), now=now
            )
        )
    with pytest.raises(ValueError, match="now must be a timezone-aware"):
        list(pk.subjects_to_notify(engine, invitee_breach(), now=dt.datetime(2025, 3, 3)))
    with pytest.raises(pk.ConfigurationError, match="before the controller became aware"):
        list(
            pk.subjects_to_notify(engine, invitee_breach(), now=dt.datetime(2025, 3, 1, tzinfo=UTC))
        )
    with pytest.raises(pk.ConfigurationError, match="batch_size"):
        list(pk.subjects_to_notify(engine, invitee_breach(), now=now, batch_size=0))


def test_store_failures_name_the_adapter(policy: pk.Policy, datamap: pk.DataMap) -> None:
    class Broken(InMemoryAdapter):
        def iter_records(self, *args: Any, **kwargs: Any) -> Iterator[list[Record]]:
            raise OSError("connection reset")

    tables: dict[str, list[dict[str, Any]]] = {rt.table_name: [] for rt in datamap.record_types}
    engine = pk.Engine(policy, datamap, Broken(tables, name="store"))
    with pytest.raises(pk.AdapterError, match="store: read on bookings failed: OSError") as info:
        list(
            pk.subjects_to_notify(engine, invitee_breach(), now=dt.datetime(2025, 3, 3, tzinfo=UTC))
        )
    assert isinstance(info.value.__cause__, OSError)


# -- the notice -------------------------------------------------------------------------------
def test_draft_notice_in_english_and_arabic(policy: pk.Policy) -> None:
    inc = invitee_breach()
    a = pk.assess(inc, policy)
    en = pk.draft_notice(inc, a, policy, lang="en")
    assert en.subject == "Notice of a personal data breach"
    assert "Appointlet" in en.body
    assert "Data concerned: Email address." in en.body
    assert "2025-03-01 22:00 +0000" in en.body
    assert "within 72 hours of becoming aware of it" in en.body  # the policy's own words
    assert "privacy@appointlet.com" in en.body
    assert "data protection authority as the law requires" in en.body
    assert "Reference: INC-7" in en.body
    assert "encrypted" not in en.body
    ar = pk.draft_notice(inc, a, policy, lang="ar")
    assert ar.subject == "إشعار بخرق للبيانات الشخصية"
    assert "خلال 72 ساعة" in ar.body
    assert "المرجع: INC-7" in ar.body
    assert str(ar).startswith(ar.subject)


def test_draft_notice_variants(policy: pk.Policy) -> None:
    inc = invitee_breach().replace(kind="misconfiguration", encrypted=True, risk="low")
    notice = pk.draft_notice(inc, pk.assess(inc, policy), policy)
    assert notice.subject == "Notice of a security incident"
    assert "The data concerned was encrypted." in notice.body
    assert "as the law requires" not in notice.body  # low risk: no authority duty
    with pytest.raises(pk.ConfigurationError, match=r"available: \['ar', 'en'\]"):
        pk.draft_notice(inc, pk.assess(inc, policy), policy, lang="fr")


def test_draft_notice_language_tags_and_marked_fallbacks(policy: pk.Policy) -> None:
    inc = invitee_breach()
    a = pk.assess(inc, policy)
    # Tags are case-insensitive and served by their language: AR and ar-EG are Arabic.
    for tag in ("AR", "ar-EG"):
        notice = pk.draft_notice(inc, a, policy, lang=tag)
        assert notice.subject == "إشعار بخرق للبيانات الشخصية"
    # The policy's own text missing in Arabic is the English text, visibly marked.
    data = policy.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["complaints"] = {"en": "Complain to your regulator."}
    english_only = pk.load_policy(data)
    ar = pk.draft_notice(inc, pk.assess(inc, english_only), english_only, lang="ar")
    assert "[en] Complain to your regulator." in ar.body
    assert ar.body.count("[en] ") == 1
    en = pk.draft_notice(inc, pk.assess(inc, english_only), english_only, lang="en")
    assert "[en]" not in en.body
    with pytest.raises(pk.ConfigurationError, match="not a language tag"):
        pk.draft_notice(inc, a, policy, lang="not a tag!")


def test_change_notices_mark_what_is_not_in_their_language(policy: pk.Policy) -> None:
    data = policy.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["version"] = "next"
    data["languages"] = [*data["languages"], "de"]
    data["children"]["minimum_age"] = 13  # a material change (minimum_age_changed)
    new = pk.load_policy(data)
    (note, *_) = pk.diff(policy, new).notifications()
    en, ar, de = (note.text.get_text(lang) for lang in ("en", "ar", "de"))
    assert "[en]" not in en
    assert "ما الذي يتغيّر" in ar  # Arabic phrases, and the change's own text in Arabic
    assert "[en]" not in ar
    # No German phrases at all: the English ones are used, each passage marked once.
    for passage in de.split("\n\n"):
        assert passage.count("[en]") <= 1
    assert "[en] What changes:" in de
