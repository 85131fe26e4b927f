"""The promises of the rights module as properties, over generated stores with shared records.

- An export for subject A never contains a value that only other subjects' records hold, nor
  another party's fields of A's own shared records; and it contains every value of A's.
- After applying an erasure, no record links to the subject except kept ones, each with a
  reason; every record of other subjects is unchanged; held records are untouched.
- Fault injection: an adapter that fails half-way through an erasure leaves a journal;
  applying again with it completes the erasure, to exactly the state of an uninterrupted run,
  and nothing outside the plan changed in between.

Every text value in a generated store is a unique token such as ``<hnotes-7>``, so "this value
is in the export" is an exact substring test.
"""

from __future__ import annotations

import copy
import datetime as dt
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import privacy_kit as pk
from privacy_kit.adapters import Selection, where
from privacy_kit.audit._journal import FileJournal
from privacy_kit.rights._erasure import KeepReason
from test_export import SECRET, SpyAdapter, make_adapter, make_engine, snapshot

_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)

# fields of the other party, per role, in a booking
_HOST_ONLY = ("host_notes", "meeting_url")
_INVITEE_ONLY = ("invitee_email", "invitee_name", "invitee_phone", "invitee_notes")


def _tok(name: str, key: int) -> str:
    return f"<{name}-{key}>"


@st.composite
def stores(draw: st.DrawFn) -> dict[str, list[dict[str, Any]]]:
    """A store of the reference service: hosts, their records, and bookings shared with invitees."""
    hosts = list(range(1, draw(st.integers(1, 3)) + 1))
    invitees = [f"inv{i}@example.com" for i in range(1, draw(st.integers(1, 3)) + 1)]
    ids = iter(range(1000, 100000))
    rows: dict[str, list[dict[str, Any]]] = {
        "users": [],
        "companies": [],
        "services": [],
        "bookings": [],
        "support_tickets": [],
        "payment_methods": [],
        "sessions": [],
        "usage_events": [],
    }
    for h in hosts:
        rows["users"].append(
            {"id": h, "name": _tok("uname", h), "email": f"host{h}@host.example",
             "time_zone": _tok("tz", h), "language": _tok("lang", h), "is_admin": draw(st.booleans()),
             "created_at": T0, "last_seen_at": T0 + dt.timedelta(days=h), "closed_at": None,
             "deactivated_at": None}
        )  # fmt: skip
        for _ in range(draw(st.integers(0, 1))):
            i = next(ids)
            rows["companies"].append(
                {"id": i, "owner_id": h, "name": _tok("cname", i), "description": _tok("cdesc", i),
                 "website": _tok("web", i), "created_at": T0}
            )  # fmt: skip
        for _ in range(draw(st.integers(0, 2))):
            i = next(ids)
            rows["services"].append(
                {"id": i, "owner_id": h, "title": _tok("stitle", i), "description": _tok("sdesc", i),
                 "duration_minutes": 30, "created_at": T0}
            )  # fmt: skip
        for table, fields in (
            ("support_tickets", {"subject": "subj", "body": "body"}),
            ("payment_methods", {"card_brand": "brand", "card_last4": "last4",
                                 "card_holder": "holder", "expires": "exp"}),
            ("sessions", {"ip_address": "ip", "device_type": "dev", "browser": "br",
                          "cookie_id": "ck"}),
            ("usage_events", {"feature": "feat"}),
        ):  # fmt: skip
            for _ in range(draw(st.integers(0, 2))):
                i = next(ids)
                row: dict[str, Any] = {"id": i, "user_id": h, "created_at": T0}
                row.update({f: _tok(p, i) for f, p in fields.items()})
                if table == "sessions":
                    row["last_seen_at"] = T0
                if table == "usage_events":
                    del row["created_at"]
                    row["occurred_at"] = T0 + dt.timedelta(hours=i)
                rows[table].append(row)
    for _ in range(draw(st.integers(0, 8))):
        i = next(ids)
        rows["bookings"].append(
            {"id": i, "host_id": draw(st.sampled_from(hosts)), "service_id": None,
             "invitee_email": draw(st.sampled_from(invitees)), "invitee_name": _tok("iname", i),
             "invitee_phone": draw(st.sampled_from([None, f"+{i}{i}"])),
             "invitee_notes": draw(st.sampled_from([None, _tok("inotes", i)])),
             "host_notes": _tok("hnotes", i), "start_at": T0 + dt.timedelta(days=i % 300),
             "end_at": T0 + dt.timedelta(days=i % 300, hours=1), "conferencing_provider": "zoom",
             "meeting_url": _tok("murl", i), "created_at": T0}
        )  # fmt: skip
    return rows


def _subjects(rows: Mapping[str, list[dict[str, Any]]]) -> list[pk.Subject]:
    hosts = [pk.Subject.of("customer", user_id=u["id"]) for u in rows["users"]]
    emails = sorted({b["invitee_email"] for b in rows["bookings"]} | {"inv1@example.com"})
    return hosts + [pk.Subject.of("end_user", email=e) for e in emails]


def _tokens(value: Any) -> list[str]:
    return [value] if isinstance(value, str) and value.startswith("<") else []


def _linked(
    engine: pk.Engine, subject: pk.Subject
) -> list[tuple[pk.RecordType, pk.SubjectLink, Selection]]:
    return list(engine.links(engine.resolve(subject)))


@_SETTINGS
@given(rows=stores(), data=st.data())
def test_an_export_never_contains_another_subjects_values(
    rows: dict[str, list[dict[str, Any]]], data: st.DataObject
) -> None:
    engine = make_engine(make_adapter("memory", rows))
    subject = data.draw(st.sampled_from(_subjects(rows)))
    links = _linked(engine, subject)
    mine: set[str] = set()
    forbidden: set[str] = set()
    for rt in engine.datamap.record_types:
        for record in rows[rt.name]:
            roles = [
                link.role_name
                for r, link, sel in links
                if r.name == rt.name and sel.matches(record)
            ]
            for field in rt.fields:
                values = _tokens(record.get(field.name))
                if field.name in ("invitee_email", "email") and record.get(field.name):
                    values.append(str(record[field.name]))
                if roles and any(field.party in (None, role) for role in roles):
                    mine.update(values)
                else:
                    forbidden.update(values)
    forbidden -= mine  # a value A's own records also hold is A's
    with tempfile.TemporaryDirectory() as tmp:
        result = engine.export(subject, Path(tmp) / "out", now=NOW, format="folder")
        text = "".join(p.read_text("utf-8") for p in result.path.rglob("*") if p.is_file())
    leaked = sorted(v for v in forbidden if v in text)
    assert not leaked, f"export of {subject} leaked {leaked}"
    missing = sorted(v for v in mine if v not in text)
    assert not missing, f"export of {subject} lacks {missing}"


def _check_erasure(
    engine: pk.Engine,
    subject: pk.Subject,
    before: dict[str, dict[Any, dict[str, Any]]],
    plan: Any,
    held_booking: int | None,
) -> None:
    after = snapshot(engine)
    links = _linked(engine, subject)
    touched: dict[str, set[Any]] = {}
    for rt, _link, sel in links:
        touched.setdefault(rt.name, set()).update(
            k for k, r in before[rt.name].items() if sel.matches(r)
        )
    # every record of other subjects is unchanged
    for table, records in before.items():
        for key, record in records.items():
            if key not in touched.get(table, set()):
                assert after[table].get(key) == record, (table, key)
    # what still links to the subject is kept, each with a reason
    for rt, link, sel in links:
        for key, record in after[rt.name].items():
            if not sel.matches(record):
                continue
            reasons = [
                k
                for k in plan.kept
                if k.record_type == rt.name
                and k.role == link.role_name
                and k.reason is not KeepReason.OTHER_PARTY
                and k.selection is not None
                and k.selection.matches(before[rt.name][key])
            ]
            assert reasons, f"{rt.name} {key} still links to {subject} without a reason"
            assert all(k.explanation for k in reasons)
    # a held record is untouched
    if held_booking is not None and held_booking in before["bookings"]:
        assert after["bookings"][held_booking] == before["bookings"][held_booking]


@_SETTINGS
@given(rows=stores(), data=st.data())
def test_after_erasure_only_kept_records_link_to_the_subject(
    rows: dict[str, list[dict[str, Any]]], data: st.DataObject
) -> None:
    engine = make_engine(make_adapter("memory", rows))
    subject = data.draw(st.sampled_from(_subjects(rows)))
    held_booking = None
    if rows["bookings"] and data.draw(st.booleans()):
        held_booking = data.draw(st.sampled_from([b["id"] for b in rows["bookings"]]))
        engine.place_hold(
            reason="Case 1", placed_by="legal", now=T0, record_type="bookings",
            selection=where.eq("id", held_booking),
        )  # fmt: skip
    before = snapshot(engine)
    plan = engine.plan_erasure(subject, now=NOW)
    engine.apply(plan)
    _check_erasure(engine, subject, before, plan, held_booking)
    # re-applying changes nothing
    once = snapshot(engine)
    engine.apply(plan)
    assert snapshot(engine) == once


class FaultyAdapter(SpyAdapter):
    """Delegates to an adapter, but the ``fail_at``-th write (delete or update) raises."""

    def __init__(self, inner: Any, fail_at: int) -> None:
        super().__init__(inner, track=False)
        self.fail_at = fail_at
        self.writes = 0

    def _write(self, record_type: pk.RecordType, operation: str) -> None:
        self.writes += 1
        if self.writes == self.fail_at:
            raise pk.AdapterError(
                "connection reset",
                adapter=self.name,
                record_type=record_type.name,
                operation=operation,
            )

    def delete(
        self, record_type: pk.RecordType, selection: Selection, *, batch_size: int = 1000
    ) -> int:
        self._write(record_type, "delete")
        return super().delete(record_type, selection, batch_size=batch_size)

    def update(
        self,
        record_type: pk.RecordType,
        selection: Selection,
        values: Mapping[str, Any],
        *,
        batch_size: int = 1000,
    ) -> int:
        self._write(record_type, "update")
        return super().update(record_type, selection, values, batch_size=batch_size)

    def update_by_key(self, record_type: pk.RecordType, changes: Any, **kw: Any) -> int:
        self._write(record_type, "update_by_key")
        return super().update_by_key(record_type, changes)


def _interrupted_then_resumed(
    kind: str, rows: dict[str, list[dict[str, Any]]], subject: pk.Subject, pick: Any
) -> None:
    # the uninterrupted run, counting the writes it makes
    counting = FaultyAdapter(make_adapter(kind, copy.deepcopy(rows)), fail_at=0)
    clean = make_engine(counting)
    plan = clean.plan_erasure(subject, now=NOW)
    clean.apply(plan)
    expected = snapshot(clean)
    if counting.writes == 0:
        return
    fail_at = pick(counting.writes)

    store = make_adapter(kind, copy.deepcopy(rows))
    faulty = make_engine(FaultyAdapter(store, fail_at=fail_at))
    before = snapshot(faulty)
    with tempfile.TemporaryDirectory() as tmp:
        journal = FileJournal(Path(tmp) / "erasure.jsonl")
        with pytest.raises(pk.AdapterError) as raised:
            faulty.apply(plan, journal=journal)
        # the failing write's error, or a group's naming it (its steps in one transaction)
        assert "connection reset" in f"{raised.value} {raised.value.__cause__}"
        # left in the journal: the failing step, and with it the steps of its group (rolled back)
        failed = set(journal.interrupted_steps(plan.plan_id))
        assert failed
        done_before = journal.completed_steps(plan.plan_id)
        assert not failed & set(done_before)
        assert not journal.is_finished(plan.plan_id)
        # nothing outside the plan changed
        partial = snapshot(faulty)
        planned: dict[str, set[Any]] = {}
        for rt, _link, sel in _linked(faulty, subject):
            planned.setdefault(rt.name, set()).update(
                k for k, r in before[rt.name].items() if sel.matches(r)
            )
        for table, records in before.items():
            for key, record in records.items():
                if key not in planned.get(table, set()):
                    assert partial[table].get(key) == record
        # applying again with the journal completes it
        healthy = make_engine(store, secret=SECRET)
        report = healthy.apply(plan, journal=journal)
        assert journal.is_finished(plan.plan_id)
        assert set(report.resumed_steps) == set(done_before)  # done steps are skipped
        assert not failed & set(report.resumed_steps)
    assert snapshot(healthy) == expected


@_SETTINGS
@given(rows=stores(), data=st.data())
def test_an_erasure_interrupted_half_way_resumes_from_its_journal(
    rows: dict[str, list[dict[str, Any]]], data: st.DataObject
) -> None:
    subject = data.draw(st.sampled_from(_subjects(rows)))
    _interrupted_then_resumed(
        "memory", rows, subject, lambda n: data.draw(st.integers(1, n), label="fail_at")
    )


@pytest.mark.parametrize("fail_at", [1, 2, 4, 6])
def test_interrupted_host_erasure_resumes_on_sqlite(fail_at: int) -> None:
    from test_export import HANA, example_rows

    _interrupted_then_resumed("sqlite", example_rows(), HANA, lambda n: min(fail_at, n))
