"""Subjects resolve or fail loudly: checked kinds and identities, normalised values, one reference.

A typo never becomes an empty export or erasure, a string id and an integer id name the same
person, an address in another case finds the stored one, a value the field cannot hold is
refused before any statement, and a subject found nowhere is reported as "nothing held" with
what was searched.
"""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import privacy_kit as pk
from privacy_kit.adapters import Adapter, BaseAdapter
from test_export import NOW, adapter_kind, make_adapter, make_engine, snapshot

__all__ = ["adapter_kind"]


class _NoReads(BaseAdapter):
    """An adapter that fails the test if anything is read or written."""

    def __init__(self, inner: Adapter) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the store was touched ({name}) for a subject that must be refused")


def test_unknown_kind_and_identity_are_refused_with_a_hint() -> None:
    engine = make_engine(make_adapter("memory"))
    with pytest.raises(pk.SubjectError, match="did you mean 'customer'"):
        engine.plan_erasure(pk.Subject.of("custmer", user_id=1), now=NOW)
    with pytest.raises(pk.SubjectError, match="no identity 'usr_id'; did you mean 'user_id'"):
        engine.plan_erasure(pk.Subject.of("customer", usr_id=9), now=NOW)
    with pytest.raises(pk.SubjectError, match="no identity 'usr_id'"):
        engine.export(pk.Subject.of("customer", usr_id=9), Path("/nonexistent/x.zip"), now=NOW)
    # a SubjectError is a ValueError too, and one of the family
    assert issubclass(pk.SubjectError, pk.PrivacyKitError)
    assert issubclass(pk.SubjectError, ValueError)


@pytest.mark.parametrize(
    ("identities", "message"),
    [
        ({"user_id": 1.5}, "float 1.5 cannot be a value of the integer field"),
        ({"user_id": "2abc"}, "str '2abc' cannot be a value of the integer field"),
        ({"user_id": True}, "bool True cannot be a value of the integer field"),
        ({"email": 0}, "int 0 cannot be a value of the text field"),
        ({"email": "   "}, "an empty identity value matches nobody"),
    ],
)
def test_values_the_field_cannot_hold_are_refused_before_any_read(
    identities: dict[str, Any], message: str
) -> None:
    engine = make_engine(_NoReads(make_adapter("memory")), verify=False)
    with pytest.raises(pk.SubjectError, match=message):
        engine.scope(pk.Subject.of("customer", **identities))


def test_string_and_integer_ids_are_one_person(adapter_kind: str) -> None:
    engine = make_engine(make_adapter(adapter_kind))
    as_int, as_str = pk.Subject.of("customer", user_id=1), pk.Subject.of("customer", user_id=" 1 ")
    assert engine.reference(as_int) == engine.reference(as_str)
    # an objection recorded with one is honoured when checked with the other
    engine.object_to(as_str, "marketing.email", now=NOW)
    assert not engine.may_process(as_int, "marketing.email", now=NOW).allowed
    # the same plan either way (the in-memory adapter compares types strictly)
    by_int = engine.plan_erasure(as_int, now=NOW)
    by_str = engine.plan_erasure(as_str, now=NOW)
    assert by_str.deleted == by_int.deleted
    assert by_str.deleted["sessions"] >= 1
    assert by_str.content_id == by_int.content_id


def test_an_address_in_another_case_finds_the_stored_one(adapter_kind: str, tmp_path: Path) -> None:
    engine = make_engine(make_adapter(adapter_kind))
    result = engine.export(
        pk.Subject.of("end_user", email="  ANN@Example.COM "), tmp_path / "ann.zip", now=NOW
    )
    assert result.counts == {"bookings": 2}
    assert not result.nothing_held
    lower = engine.reference(pk.Subject.of("end_user", email="ann@example.com"))
    assert result.subject_reference == lower


def test_a_subject_found_nowhere_is_nothing_held_with_what_was_searched(
    adapter_kind: str, tmp_path: Path
) -> None:
    audit = pk.AuditLog.memory()
    engine = make_engine(make_adapter(adapter_kind), audit=audit)
    nobody = pk.Subject.of("end_user", email="nobody@example.com")
    result = engine.export(nobody, tmp_path / "nobody.zip", now=NOW)
    assert result.nothing_held
    assert result.searched == ("bookings (invitee)",)
    with zipfile.ZipFile(result.path) as z:
        manifest = json.loads(z.read("manifest.json"))
    assert manifest["nothing_held"] is True
    assert manifest["searched"] == ["bookings (invitee)"]
    (entry,) = [e for e in audit.entries() if e.action == "export.completed"]
    assert entry.details["nothing_held"] is True
    assert entry.details["searched"] == ["bookings (invitee)"]

    plan = engine.plan_erasure(pk.Subject.of("customer", user_id=999), now=NOW)
    assert plan.nothing_held
    assert "users (customer)" in plan.searched
    assert "nothing is held about this subject; searched: users (customer)" in str(plan)
    (planned,) = [e for e in audit.entries() if e.action == "erasure.planned"]
    assert planned.details["nothing_held"] is True

    held = engine.plan_erasure(pk.Subject.of("customer", user_id=1), now=NOW)
    assert not held.nothing_held


def test_a_person_with_several_roles_gets_all_of_them_in_one_export(
    adapter_kind: str, tmp_path: Path
) -> None:
    adapter = make_adapter(adapter_kind)
    engine = make_engine(adapter)
    # Omar (customer 2, omar@host.example) also books one of Hana's services as an invitee
    adapter.insert(
        "bookings",
        [
            {
                "id": 200,
                "host_id": 1,
                "service_id": 20,
                "invitee_name": "Omar",
                "invitee_email": "omar@host.example",
                "host_notes": "Hana's private note about Omar",
                "start_at": dt.datetime(2025, 4, 1, 9, tzinfo=dt.UTC),
                "end_at": dt.datetime(2025, 4, 1, 10, tzinfo=dt.UTC),
                "created_at": dt.datetime(2025, 3, 30, tzinfo=dt.UTC),
            }
        ],
    )
    omar = pk.Subject.of("customer", user_id=2)
    result = engine.export(omar, tmp_path / "omar", format="folder", now=NOW)
    assert result.counts["bookings.invitee"] == 1
    assert result.counts["bookings.host"] == snapshot_hosted(engine, 2)
    rows = json.loads((tmp_path / "omar" / "records" / "bookings.invitee.json").read_text())
    assert [r["id"] for r in rows] == [200]
    assert "host_notes" not in rows[0]  # Hana's field, redacted in Omar's invitee role
    manifest = json.loads((tmp_path / "omar" / "manifest.json").read_text())
    assert manifest["subject"]["kinds"] == ["customer", "end_user"]
    everything = "".join(p.read_text() for p in (tmp_path / "omar").rglob("*.json"))
    assert "Hana's private note" not in everything


def snapshot_hosted(engine: pk.Engine, host_id: int) -> int:
    return sum(1 for b in snapshot(engine)["bookings"].values() if b["host_id"] == host_id)


def test_person_identities_must_be_identities_links_use(tmp_path: Path) -> None:
    data = pk.load_datamap(pk.example_path("datamap.yaml")).model_dump(mode="json")
    data["person_identities"] = ["emial"]
    path = tmp_path / "datamap.json"
    path.write_text(json.dumps(data))
    with pytest.raises(pk.PolicyError, match=r"person_identities\[0\]: .*did you mean 'email'"):
        pk.load_datamap(path)


def test_normalize_is_for_text_fields_only() -> None:
    with pytest.raises(ValueError, match="'normalize' applies to text fields only"):
        pk.FieldSpec(name="id", type="integer", normalize=("lower",))


_SPELLINGS = st.sampled_from(
    [
        lambda v: v,
        str,
        lambda v: f" {v} ",
        lambda v: f"{v}\t",
        lambda v: f"+{v}",
    ]
)
_CASES = st.sampled_from([str.lower, str.upper, str.title, lambda s: f"  {s} "])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(user_id=st.sampled_from([1, 2]), spell=_SPELLINGS, case=_CASES)
def test_any_spelling_of_an_identity_resolves_to_the_same_reference_and_records(
    user_id: int, spell: Any, case: Any
) -> None:
    engine = make_engine(make_adapter("memory"))
    canonical = engine.scope(pk.Subject.of("customer", user_id=user_id))
    spelled = engine.scope(pk.Subject.of("customer", user_id=spell(user_id)))
    assert spelled.reference == canonical.reference
    assert [(e.record_type.name, e.selection) for e in spelled] == [
        (e.record_type.name, e.selection) for e in canonical
    ]
    email = canonical.resolved.identity("email")
    by_email = engine.scope(pk.Subject.of("customer", email=case(email)))
    assert by_email.reference == canonical.reference
    for entry in by_email:
        assert entry.adapter.count(entry.record_type, entry.selection) == entry.adapter.count(
            entry.record_type, canonical.selection_for(entry.record_type) or pk.adapters.All()
        )


def test_the_request_workflow_records_nothing_held(tmp_path: Path) -> None:
    audit = pk.AuditLog.memory()
    engine = make_engine(make_adapter("memory"), audit=audit)
    request = pk.DataSubjectRequest.receive(
        "access", "end_user", {"email": "nobody@example.com"}, jurisdiction="gdpr", received_at=NOW
    )
    request = request.verify(now=NOW).start(now=NOW)
    subject = pk.Subject("end_user", request.identities)
    result = engine.export(subject, tmp_path / "nobody.zip", now=NOW)
    done = request.complete(now=NOW, result=result, audit=audit)
    assert done.outcome is not None
    assert done.outcome.nothing_held
    assert done.outcome.searched == ("bookings (invitee)",)
    assert pk.DataSubjectRequest.from_json(done.to_json()).outcome == done.outcome
    (entry,) = [e for e in audit.entries() if e.details.get("to") == "completed"]
    assert entry.details["nothing_held"] is True
    assert entry.details["searched"] == ["bookings (invitee)"]

    # an erasure report that found something is recorded with its count
    erasure = (
        pk.DataSubjectRequest.receive(
            "erasure", "customer", {"user_id": "1"}, jurisdiction="gdpr", received_at=NOW
        )
        .verify(now=NOW)
        .start(now=NOW)
    )
    report = engine.apply(engine.plan_erasure(pk.Subject("customer", erasure.identities), now=NOW))
    assert not report.nothing_held
    finished = erasure.complete(now=NOW, result=report)
    assert finished.outcome is not None
    assert not finished.outcome.nothing_held
    assert finished.outcome.records > 0


# == parsing subjects from command-line arguments ====================================================
@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("customer", "no ':' after the kind"),
        (":email=ann@example.com", "no kind before ':'"),
        ("customer:", "no identity after ':'"),
        ("customer:user_id", "'user_id' has no '='"),
        ("customer:email=", "'email=' has an empty value"),
        ("customer:email=  ", "'email=  ' has an empty value"),
        ("customer:=7", "'=7' names no identity"),
        ("customer:user_id=7,", "an empty identity"),
        ("customer:user_id=7,user_id=8", "identity 'user_id' is given twice"),
        ("customer:user_id=7, user_id=8", "identity 'user_id' is given twice"),
    ],
)
def test_a_malformed_subject_argument_is_refused_naming_the_argument(
    text: str, problem: str
) -> None:
    with pytest.raises(pk.SubjectError) as info:
        pk.Subject.parse(text, argument="--subject")
    message = str(info.value)
    assert message.startswith(f"--subject {text!r}: {problem}")
    assert "expected kind:identity=value" in message


@pytest.mark.parametrize(
    ("items", "problem"),
    [
        (["member_id"], "'member_id' has no '='"),
        (["email="], "'email=' has an empty value"),
        (["email=a@example.com", "email=b@example.com"], "identity 'email' is given twice"),
        ([], "no identity"),
    ],
)
def test_identities_given_apart_from_the_kind_are_refused_the_same_way(
    items: list[str], problem: str
) -> None:
    with pytest.raises(pk.SubjectError, match="expected identity=value") as info:
        pk.Subject.parse(items, kind="customer", argument="identities")
    assert str(info.value).startswith(f"identities {' '.join(items)!r}: {problem}")


def test_with_the_data_map_an_unknown_kind_or_identity_is_refused_with_a_hint() -> None:
    datamap = make_engine(make_adapter("memory")).datamap
    with pytest.raises(pk.SubjectError) as info:
        pk.Subject.parse("customer:usr_id=7", argument="--subject", datamap=datamap)
    assert str(info.value) == (
        "--subject 'customer:usr_id=7': a customer has no identity 'usr_id'; did you mean "
        "'user_id'? (known: email, user_id)"
    )
    with pytest.raises(
        pk.SubjectError, match=r"^identities 'user_id=7': .*did you mean 'customer'"
    ):
        pk.Subject.parse(["user_id=7"], kind="custmer", argument="identities", datamap=datamap)
    # Without the data map only the shape is checked: the resolver checks the names later.
    assert pk.Subject.parse("customer:usr_id=7").identity("usr_id") == "7"


def test_a_well_formed_subject_argument_keeps_its_values() -> None:
    datamap = make_engine(make_adapter("memory")).datamap
    parsed = pk.Subject.parse(" customer : email=Ann@Example.com , user_id=7", datamap=datamap)
    assert parsed == pk.Subject.of("customer", email="Ann@Example.com ", user_id="7")
    assert pk.Subject.parse("end_user:note=a=b").identity("note") == "a=b"
    assert pk.Subject.parse("user_id=7,email=a@example.com", kind="customer") == pk.Subject.of(
        "customer", user_id="7", email="a@example.com"
    )
