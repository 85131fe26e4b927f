"""Data-subject requests: due dates per regime, transitions, extensions, pauses, audit."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo

import orjson
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import privacy_kit as pk
from privacy_kit.audit._log import AuditLog
from privacy_kit.rights._deadlines import STOP_THE_CLOCK, add_deadline
from privacy_kit.rights._request_states import TRANSITIONS, RequestStatus
from privacy_kit.rights._requests import DataSubjectRequest

UTC = dt.UTC
LONDON = zoneinfo.ZoneInfo("Europe/London")
LA = zoneinfo.ZoneInfo("America/Los_Angeles")
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


def new(jurisdiction: str, received: dt.datetime, **kw: object) -> DataSubjectRequest:
    return DataSubjectRequest.receive(
        kw.pop("type", "access"),  # type: ignore[arg-type]
        "customer",
        {"email": "ann@example.com"},
        jurisdiction=jurisdiction,
        received_at=received,
        **kw,  # type: ignore[arg-type]
    )


def end_of(day: dt.date, tz: dt.tzinfo = UTC) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.max, tzinfo=tz)


# -- due dates -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("jurisdiction", "received", "due"),
    [
        ("gdpr", dt.date(2024, 1, 31), dt.date(2024, 2, 29)),  # leap year
        ("gdpr", dt.date(2023, 1, 31), dt.date(2023, 2, 28)),
        ("gdpr", dt.date(2100, 1, 31), dt.date(2100, 2, 28)),  # not a leap year
        ("gdpr", dt.date(2026, 3, 31), dt.date(2026, 4, 30)),
        ("gdpr", dt.date(2026, 12, 15), dt.date(2027, 1, 15)),
        ("gdpr", dt.date(2026, 9, 3), dt.date(2026, 10, 3)),
        ("uk_gdpr", dt.date(2024, 1, 30), dt.date(2024, 2, 29)),
        ("uk_gdpr", dt.date(2026, 5, 31), dt.date(2026, 6, 30)),
        ("ccpa", dt.date(2026, 1, 1), dt.date(2026, 2, 15)),
        ("ccpa", dt.date(2024, 2, 1), dt.date(2024, 3, 17)),  # through 29 February
        ("ccpa", dt.date(2026, 12, 1), dt.date(2027, 1, 15)),
        ("lgpd", dt.date(2026, 2, 20), dt.date(2026, 3, 7)),
        ("lgpd", dt.date(2024, 2, 20), dt.date(2024, 3, 6)),
        ("pipeda", dt.date(2024, 2, 15), dt.date(2024, 3, 16)),
        ("pipeda", dt.date(2026, 12, 10), dt.date(2027, 1, 9)),
    ],
)
def test_due_dates(jurisdiction: str, received: dt.date, due: dt.date) -> None:
    request = new(jurisdiction, dt.datetime.combine(received, dt.time(9, 30), tzinfo=UTC))
    assert request.due_at == end_of(due)
    assert request.citation == pk.get_jurisdiction(jurisdiction).request_deadline.citation


def test_deadline_runs_in_the_zone_of_receipt() -> None:
    # 00:30 on 1 February in Tokyo is still 31 January in UTC.
    tokyo = new("gdpr", dt.datetime(2026, 2, 1, 0, 30, tzinfo=TOKYO))
    assert tokyo.due_at == end_of(dt.date(2026, 3, 1), TOKYO)
    as_utc = new("gdpr", tokyo.received_at.astimezone(UTC))
    assert as_utc.due_at == end_of(dt.date(2026, 2, 28))


def test_deadline_across_dst_has_the_summer_offset() -> None:
    london = new("uk_gdpr", dt.datetime(2026, 3, 1, 10, tzinfo=LONDON))  # GMT
    assert london.due_at.date() == dt.date(2026, 4, 1)
    assert london.due_at.utcoffset() == dt.timedelta(hours=1)  # BST
    la = new("ccpa", dt.datetime(2026, 2, 1, 10, tzinfo=LA))  # PST
    assert la.due_at.date() == dt.date(2026, 3, 18)
    assert la.due_at.utcoffset() == dt.timedelta(hours=-7)  # PDT
    # Autumn: back to winter time.
    autumn = new("gdpr", dt.datetime(2026, 10, 15, 10, tzinfo=LONDON))
    assert autumn.due_at.date() == dt.date(2026, 11, 15)
    assert autumn.due_at.utcoffset() == dt.timedelta(0)


def test_zone_name_is_kept_and_can_be_given() -> None:
    london = new("uk_gdpr", dt.datetime(2026, 3, 1, 10, tzinfo=LONDON))
    assert london.timezone == "Europe/London"
    again = DataSubjectRequest.from_json(london.to_json())
    assert again.due_at == london.due_at
    assert again.due_at.utcoffset() == dt.timedelta(hours=1)
    fixed = new("uk_gdpr", dt.datetime(2026, 3, 1, 10, tzinfo=UTC))
    assert fixed.timezone is None
    assert fixed.due_at.utcoffset() == dt.timedelta(0)
    named = fixed.model_copy(update={"timezone": "Asia/Tokyo"})
    assert named.due_at == end_of(dt.date(2026, 4, 1), TOKYO)
    with pytest.raises(pk.RequestError, match="unknown time zone 'Mars/Olympus'"):
        DataSubjectRequest.from_json(
            fixed.model_copy(update={"timezone": "Mars/Olympus"}).to_json()
        )


def test_overdue_and_time_left() -> None:
    request = new("gdpr", dt.datetime(2024, 1, 31, 9, tzinfo=UTC))
    last_minute = dt.datetime(2024, 2, 29, 23, 59, tzinfo=UTC)
    assert not request.is_overdue(last_minute)
    assert request.time_left(last_minute) > dt.timedelta(0)
    after = dt.datetime(2024, 3, 1, 0, 0, tzinfo=UTC)
    assert request.is_overdue(after)
    assert request.time_left(after) < dt.timedelta(0)
    done = request.verify(now=request.received_at).complete(now=after)
    assert not done.is_overdue(after + dt.timedelta(days=100))


def test_add_deadline_business_days() -> None:
    friday = dt.date(2026, 1, 2)
    assert add_deadline(friday, pk.Duration(days=10), business_days=True) == dt.date(2026, 1, 16)
    assert add_deadline(friday, pk.Duration(weeks=1), business_days=True) == dt.date(2026, 1, 13)
    assert add_deadline(dt.date(2026, 1, 3), pk.Duration(days=1), business_days=True) == dt.date(
        2026, 1, 5
    )
    with pytest.raises(ValueError, match="whole days or weeks"):
        add_deadline(friday, pk.Duration(months=1), business_days=True)


# -- extensions ----------------------------------------------------------------------------------
def test_gdpr_extension_two_months_from_the_original_due_date() -> None:
    request = new("gdpr", dt.datetime(2024, 1, 31, 9, tzinfo=UTC))
    assert request.extension_notice_due_at == end_of(dt.date(2024, 2, 29))
    extended = request.extend("complex: many systems", now=dt.datetime(2024, 2, 29, 23, tzinfo=UTC))
    assert extended.due_at == end_of(dt.date(2024, 4, 29))
    assert extended.extensions[0].by == pk.Duration(months=2)
    with pytest.raises(pk.RequestError, match=r"already extended; GDPR Art\. 12\(3\) allows 1"):
        extended.extend("again", now=dt.datetime(2024, 2, 29, 23, tzinfo=UTC))


def test_extension_after_the_first_month_is_refused() -> None:
    request = new("uk_gdpr", dt.datetime(2024, 1, 31, 9, tzinfo=UTC))
    with pytest.raises(pk.RequestError, match=r"too late to extend .* told by 2024-02-29T23:59:59"):
        request.extend("complex", now=dt.datetime(2024, 3, 1, 0, 0, tzinfo=UTC))


def test_ccpa_and_pipeda_extensions() -> None:
    ccpa = new("ccpa", dt.datetime(2026, 1, 1, tzinfo=UTC)).extend(
        "volume", now=dt.datetime(2026, 2, 1, tzinfo=UTC)
    )
    assert ccpa.due_at == end_of(dt.date(2026, 4, 1))  # 90 days in total
    assert (ccpa.due_at.date() - dt.date(2026, 1, 1)).days == 90
    pipeda = new("pipeda", dt.datetime(2024, 2, 15, tzinfo=UTC)).extend(
        "conversion", now=dt.datetime(2024, 3, 1, tzinfo=UTC)
    )
    assert pipeda.due_at == end_of(dt.date(2024, 4, 15))


def test_lgpd_has_no_extension() -> None:
    with pytest.raises(pk.RequestError, match=r"lgpd allows no extension .*LGPD Art\. 19 II"):
        new("lgpd", dt.datetime(2026, 1, 1, tzinfo=UTC)).extend(
            "x", now=dt.datetime(2026, 1, 2, tzinfo=UTC)
        )
    assert new("lgpd", dt.datetime(2026, 1, 1, tzinfo=UTC)).extension_notice_due_at is None


def test_extension_needs_a_reason_and_an_open_request() -> None:
    request = new("gdpr", dt.datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(pk.RequestError, match="needs a reason"):
        request.extend("  ", now=request.received_at)
    done = request.cancel(now=request.received_at)
    with pytest.raises(pk.RequestError, match="'cancelled': nothing to extend"):
        done.extend("x", now=request.received_at)


# -- pause for identity --------------------------------------------------------------------------
def test_uk_stop_the_clock() -> None:
    received = dt.datetime(2026, 3, 2, 10, tzinfo=LONDON)
    request = new("uk_gdpr", received)
    assert request.clock_stops
    paused = request.await_identity(now=dt.datetime(2026, 3, 3, 9, tzinfo=LONDON))
    assert paused.paused
    # While paused the clock stands still: time left does not shrink.
    early = dt.datetime(2026, 3, 4, 12, tzinfo=LONDON)
    late = dt.datetime(2026, 3, 6, 12, tzinfo=LONDON)
    assert paused.time_left(early) == paused.time_left(late)
    assert not paused.is_overdue(dt.datetime(2026, 4, 20, tzinfo=LONDON))  # a long wait
    verified = paused.verify(now=dt.datetime(2026, 3, 8, 16, tzinfo=LONDON))
    assert not verified.paused
    assert verified.due_at == end_of(dt.date(2026, 4, 7), LONDON)  # 2 April + 5 days
    assert verified.paused_days() == 5
    # The extension notice deadline moves too.
    assert verified.extension_notice_due_at == end_of(dt.date(2026, 4, 7), LONDON)


def test_gdpr_clock_keeps_running_unless_overridden() -> None:
    received = dt.datetime(2026, 3, 2, 10, tzinfo=UTC)
    wait = (dt.datetime(2026, 3, 3, tzinfo=UTC), dt.datetime(2026, 3, 13, tzinfo=UTC))
    plain = new("gdpr", received).await_identity(now=wait[0]).identity_received(now=wait[1])
    assert not plain.clock_stops
    assert STOP_THE_CLOCK["gdpr"][0] is False
    assert plain.due_at == end_of(dt.date(2026, 4, 2))
    chosen = (
        new("gdpr", received, stop_the_clock=True)
        .await_identity(now=wait[0])
        .identity_received(now=wait[1])
    )
    assert chosen.due_at == end_of(dt.date(2026, 4, 12))
    ccpa = new("ccpa", received).await_identity(now=wait[0]).identity_received(now=wait[1])
    assert ccpa.due_at == end_of(dt.date(2026, 4, 16))  # 45 days, no pause (regs 7021(b))


def test_several_pauses_add_up() -> None:
    request = new("uk_gdpr", dt.datetime(2026, 1, 5, tzinfo=UTC))
    for start, end in [(6, 8), (10, 11)]:
        request = request.await_identity(now=dt.datetime(2026, 1, start, tzinfo=UTC))
        request = request.identity_received(now=dt.datetime(2026, 1, end, tzinfo=UTC))
    assert request.paused_days() == 3
    assert request.due_at == end_of(dt.date(2026, 2, 8))


def test_pause_rules() -> None:
    request = new("uk_gdpr", dt.datetime(2026, 1, 5, tzinfo=UTC))
    now = dt.datetime(2026, 1, 6, tzinfo=UTC)
    with pytest.raises(pk.RequestError, match="not awaiting identity"):
        request.identity_received(now=now)
    paused = request.await_identity(now=now)
    with pytest.raises(pk.RequestError, match="already awaiting identity"):
        paused.await_identity(now=now)
    verified = request.verify(now=now)
    with pytest.raises(pk.RequestError, match="only while 'received'"):
        verified.await_identity(now=now)
    refused = paused.refuse("identity_not_verified", now=now + dt.timedelta(days=2))
    assert not refused.paused
    assert refused.pauses[-1].ended_at == now + dt.timedelta(days=2)


# -- transitions ---------------------------------------------------------------------------------
T0 = dt.datetime(2026, 1, 5, 9, tzinfo=UTC)


def reach(status: RequestStatus) -> DataSubjectRequest:
    request = new("gdpr", T0)
    path = {
        RequestStatus.RECEIVED: [],
        RequestStatus.VERIFIED: [RequestStatus.VERIFIED],
        RequestStatus.IN_PROGRESS: [RequestStatus.VERIFIED, RequestStatus.IN_PROGRESS],
        RequestStatus.COMPLETED: [RequestStatus.VERIFIED, RequestStatus.COMPLETED],
        RequestStatus.REFUSED: [RequestStatus.REFUSED],
        RequestStatus.CANCELLED: [RequestStatus.CANCELLED],
    }[status]
    for step in path:
        refusal = pk.RefusalReason.MANIFESTLY_UNFOUNDED if step is RequestStatus.REFUSED else None
        request = request.transition(step, now=T0, refusal=refusal)
    assert request.status is status
    return request


@pytest.mark.parametrize(
    ("source", "target"), list(itertools.product(RequestStatus, RequestStatus))
)
def test_every_transition(source: RequestStatus, target: RequestStatus) -> None:
    request = reach(source)
    refusal = pk.RefusalReason.LEGAL_PROHIBITION if target is RequestStatus.REFUSED else None
    later = T0 + dt.timedelta(hours=1)
    if target in TRANSITIONS[source]:
        moved = request.transition(target, now=later, refusal=refusal, note="n")
        assert moved.status is target
        assert moved.history[-1].from_status is source
        assert moved.history[-1].to_status is target
        assert moved.history[-1].at == later
        assert len(moved.history) == len(request.history) + 1
        assert request.status is source  # the original is unchanged
    else:
        with pytest.raises(pk.InvalidTransitionError) as info:
            request.transition(target, now=later, refusal=refusal)
        assert f"from {source.value!r} to {target.value!r}" in str(info.value)


def test_terminal_states() -> None:
    assert {s for s in RequestStatus if s.terminal} == {
        RequestStatus.COMPLETED,
        RequestStatus.REFUSED,
        RequestStatus.CANCELLED,
    }
    with pytest.raises(pk.InvalidTransitionError, match="nowhere \\(final\\)"):
        reach(RequestStatus.COMPLETED).cancel(now=T0)


def test_refusal_needs_a_reason_and_only_refusal_takes_one() -> None:
    request = new("gdpr", T0)
    with pytest.raises(pk.RequestError, match="refusal needs a reason"):
        request.transition("refused", now=T0)
    with pytest.raises(pk.RequestError, match="refusal reason was given for a move to 'verified'"):
        request.transition("verified", now=T0, refusal="legal_prohibition")
    refused = request.refuse(
        pk.RefusalReason.REVEALS_OTHER_USER_DATA, now=T0, note="shared booking"
    )
    assert refused.refusal is pk.RefusalReason.REVEALS_OTHER_USER_DATA
    with pytest.raises(ValueError, match="not_a_reason"):
        request.refuse("not_a_reason", now=T0)


def test_time_before_receipt_refused() -> None:
    request = new("gdpr", T0)
    with pytest.raises(pk.RequestError, match="before the request was received"):
        request.verify(now=T0 - dt.timedelta(seconds=1))
    with pytest.raises(ValueError, match="timezone-aware"):
        request.verify(now=dt.datetime(2026, 2, 1))


# -- validation, JSON, audit ---------------------------------------------------------------------
def test_bad_requests() -> None:
    with pytest.raises(pk.RequestError, match="did you mean 'gdpr'"):
        new("gdrp", T0)
    with pytest.raises(pk.RequestError, match="type"):
        new("gdpr", T0, type="delete_everything")
    with pytest.raises(pk.RequestError, match="identities"):
        DataSubjectRequest.receive("access", "customer", {}, jurisdiction="gdpr", received_at=T0)
    with pytest.raises(ValueError, match="received_at must be a timezone-aware"):
        new("gdpr", dt.datetime(2026, 1, 1))


def test_json_round_trip_and_validation() -> None:
    request = (
        new("uk_gdpr", dt.datetime(2026, 3, 2, 10, tzinfo=LONDON), subject_ref="subj_1")
        .await_identity(now=dt.datetime(2026, 3, 3, tzinfo=LONDON))
        .verify(now=dt.datetime(2026, 3, 5, tzinfo=LONDON))
        .start(now=dt.datetime(2026, 3, 5, tzinfo=LONDON))
        .extend("complex", now=dt.datetime(2026, 3, 6, tzinfo=LONDON))
    )
    again = DataSubjectRequest.from_json(request.to_json())
    assert again == request
    assert again.due_at == request.due_at
    with pytest.raises(pk.RequestError, match="invalid data-subject request"):
        DataSubjectRequest.from_json(b"{not json")
    data = request.model_dump(mode="json")
    data["status"] = "completed"
    with pytest.raises(pk.RequestError, match="does not match the last transition"):
        DataSubjectRequest.from_json(orjson.dumps(data))
    data = request.model_dump(mode="json")
    data["surprise"] = 1
    with pytest.raises(pk.RequestError, match="unknown key 'surprise'"):
        DataSubjectRequest.from_json(orjson.dumps(data))


def test_transitions_are_audited_without_personal_data() -> None:
    log = AuditLog.memory()
    request = new("gdpr", T0, audit=log, subject_ref="subj_abc")
    request = request.await_identity(now=T0, audit=log)
    request = request.verify(now=T0, audit=log, note="passport seen")
    request = request.start(now=T0, audit=log)
    request = request.extend("complex", now=T0, audit=log)
    request = request.refuse("legal_prohibition", now=T0, audit=log)
    entries = list(log.entries())
    assert [e.action for e in entries] == [
        "request.received",
        "request.paused",
        "request.transition",
        "request.transition",
        "request.extended",
        "request.transition",
    ]
    assert all(e.subject == "subj_abc" for e in entries)
    assert all(e.details["request_id"] == str(request.id) for e in entries)
    assert entries[2].details["from"] == "received"
    assert entries[2].details["to"] == "verified"
    assert len(entries[2].details["note_sha256"]) == 64
    assert entries[-1].details["refusal"] == "legal_prohibition"
    flat = str([e.to_dict() for e in entries])
    assert "ann@example.com" not in flat
    assert "passport" not in flat
    assert log.verify().ok


# -- a state machine over random sequences of operations ---------------------------------------
class RequestMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.log = AuditLog.memory()
        self.now = dt.datetime(2026, 1, 31, 12, tzinfo=LONDON)
        self.request = new("uk_gdpr", self.now, audit=self.log, subject_ref="subj_m")
        self.base_due = self.request.due_at
        self.moves = 1

    @rule(hours=st.integers(0, 24 * 20))
    def wait(self, hours: int) -> None:
        self.now += dt.timedelta(hours=hours)

    @rule(to=st.sampled_from(list(RequestStatus)), refusal=st.sampled_from(list(pk.RefusalReason)))
    def move(self, to: RequestStatus, refusal: pk.RefusalReason) -> None:
        target = to
        reason = refusal if target is RequestStatus.REFUSED else None
        before = self.request.status
        if target in TRANSITIONS[before]:
            self.request = self.request.transition(
                target, now=self.now, refusal=reason, audit=self.log
            )
            self.moves += 1
            assert self.request.status is target
        else:
            with pytest.raises(pk.InvalidTransitionError):
                self.request.transition(target, now=self.now, refusal=reason, audit=self.log)
            assert self.request.status is before

    @precondition(
        lambda self: self.request.status is RequestStatus.RECEIVED and not self.request.paused
    )
    @rule()
    def pause(self) -> None:
        self.request = self.request.await_identity(now=self.now, audit=self.log)

    @precondition(lambda self: self.request.paused)
    @rule()
    def resume(self) -> None:
        self.request = self.request.identity_received(now=self.now, audit=self.log)

    @rule()
    def extend(self) -> None:
        notice = self.request.extension_notice_due_at
        allowed = (
            not self.request.status.terminal
            and not self.request.extensions
            and notice is not None
            and self.now <= notice
        )
        if allowed:
            self.request = self.request.extend("complex", now=self.now, audit=self.log)
        else:
            with pytest.raises(pk.RequestError):
                self.request.extend("complex", now=self.now, audit=self.log)

    @invariant()
    def consistent(self) -> None:
        r = self.request
        assert r.status is r.history[-1].to_status
        assert len(r.history) == self.moves
        assert all(b.at >= a.at for a, b in itertools.pairwise(r.history))
        assert r.due_at >= self.base_due
        assert (r.refusal is not None) == (r.status is RequestStatus.REFUSED)
        assert not (r.paused and r.status is not RequestStatus.RECEIVED)
        expected = self.base_due.date() + dt.timedelta(days=r.paused_days())
        if r.extensions:
            expected = add_deadline(self.base_due.date(), pk.Duration(months=2)) + dt.timedelta(
                days=r.paused_days()
            )
        assert r.due_at.date() == expected
        assert DataSubjectRequest.from_json(r.to_json()) == r
        assert self.log.verify().ok


TestRequestMachine = RequestMachine.TestCase
TestRequestMachine.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)


# -- the end of the calendar ---------------------------------------------------------------------
def test_an_extension_past_the_year_9999_is_refused_with_a_request_error() -> None:
    request = new("gdpr", dt.datetime(9999, 10, 1, tzinfo=UTC))
    assert request.due_at == end_of(dt.date(9999, 11, 1))
    with pytest.raises(pk.RequestError, match="falls after the year 9999") as caught:
        request.extend("a complex request", now=dt.datetime(9999, 10, 2, tzinfo=UTC))
    assert str(request.id) in str(caught.value)
    assert request.extensions == ()  # the request itself is unchanged


def test_a_pause_that_pushes_the_deadline_past_9999_is_a_request_error() -> None:
    request = new("uk_gdpr", dt.datetime(9999, 10, 1, tzinfo=UTC))
    paused = request.await_identity(now=dt.datetime(9999, 10, 2, tzinfo=UTC))
    late = dt.datetime(9999, 12, 31, tzinfo=UTC)
    with pytest.raises(pk.RequestError, match="falls after the year 9999"):
        paused.time_left(late)
    with pytest.raises(pk.RequestError, match="falls after the year 9999"):
        paused.identity_received(now=late)
    # Views never raise: the repr says why there is no date.
    assert "after 9999-12-31" in repr(
        paused.model_copy(
            update={"pauses": (paused.pauses[0].model_copy(update={"ended_at": late}),)}
        )
    )
