"""The engine's shared plumbing: adapter routing, schema checks, subjects and their references."""

from __future__ import annotations

import datetime as dt

import pytest

import privacy_kit as pk
from privacy_kit.adapters import InMemoryAdapter

NOW = dt.datetime(2026, 1, 15, 12, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def policy() -> pk.Policy:
    return pk.load_policy(pk.example_path())


@pytest.fixture(scope="module")
def datamap(policy: pk.Policy) -> pk.DataMap:
    return pk.load_datamap(pk.example_path("datamap.yaml"), policy=policy)


def _tables(datamap: pk.DataMap) -> dict[str, list[dict[str, object]]]:
    tables: dict[str, list[dict[str, object]]] = {rt.table_name: [] for rt in datamap.record_types}
    tables["users"] = [
        {"id": 7, "name": "Ann", "email": "ann@example.com", "created_at": NOW},
        {"id": 8, "name": "Bob", "email": "bob@example.com", "created_at": NOW},
    ]
    tables["bookings"] = [
        {"id": 1, "host_id": 7, "invitee_email": "zoe@example.com", "end_at": NOW},
    ]
    for rt in datamap.record_types:
        blank = dict.fromkeys(rt.field_names)
        tables[rt.table_name] = [{**blank, **row} for row in tables[rt.table_name]]
    return tables


@pytest.fixture
def engine(policy: pk.Policy, datamap: pk.DataMap) -> pk.Engine:
    return pk.Engine(policy, datamap, InMemoryAdapter(_tables(datamap)), secret=b"k" * 32)


def test_missing_store_adapter_is_refused(policy: pk.Policy, datamap: pk.DataMap) -> None:
    with pytest.raises(pk.ConfigurationError, match="no adapter for store\\(s\\) 'main'"):
        pk.Engine(policy, datamap, {"other": InMemoryAdapter()})


def test_schema_mismatch_is_found_at_construction(policy: pk.Policy, datamap: pk.DataMap) -> None:
    tables = _tables(datamap)
    del tables["sessions"]
    with pytest.raises(pk.SchemaMismatchError, match="table 'sessions' does not exist"):
        pk.Engine(policy, datamap, InMemoryAdapter(tables))


def test_short_secret_is_refused(policy: pk.Policy, datamap: pk.DataMap) -> None:
    with pytest.raises(pk.ConfigurationError, match="at least 16 bytes"):
        pk.Engine(policy, datamap, InMemoryAdapter(_tables(datamap)), secret=b"short")


def test_subject_needs_an_identity() -> None:
    with pytest.raises(ValueError, match="at least one identity"):
        pk.Subject.of("customer")


def test_primary_identity_per_kind(engine: pk.Engine) -> None:
    assert engine.primary_identity("customer") == "user_id"
    assert engine.primary_identity("end_user") == "email"
    assert engine.primary_identity("visitor") is None


def test_resolve_from_any_identity(engine: pk.Engine) -> None:
    by_id = engine.resolve(pk.Subject.of("customer", user_id=7))
    by_email = engine.resolve(pk.Subject.of("customer", email="ann@example.com"))
    assert by_id.identity("email") == "ann@example.com"
    assert by_email.identity("user_id") == 7
    assert by_id == by_email


def test_reference_is_the_same_however_the_subject_is_named(engine: pk.Engine) -> None:
    refs = {
        engine.reference(pk.Subject.of("customer", user_id=7)),
        engine.reference(pk.Subject.of("customer", email="ann@example.com")),
        engine.reference(pk.Subject.of("customer", user_id=7, email="ann@example.com")),
    }
    assert len(refs) == 1
    (ref,) = refs
    assert ref.startswith("subj_")
    assert "ann" not in ref
    other = engine.reference(pk.Subject.of("customer", user_id=8))
    assert other != ref
    # The same identity of another kind is another person.
    assert engine.reference(pk.Subject.of("end_user", email="ann@example.com")) != ref


def test_reference_depends_on_the_secret(policy: pk.Policy, datamap: pk.DataMap) -> None:
    a = pk.Engine(policy, datamap, InMemoryAdapter(_tables(datamap)), secret=b"a" * 32)
    b = pk.Engine(policy, datamap, InMemoryAdapter(_tables(datamap)), secret=b"b" * 32)
    subject = pk.Subject.of("end_user", email="zoe@example.com")
    assert a.reference(subject) != b.reference(subject)
    assert a.reference(subject) == a.reference(subject)


def test_preferences_follow_the_person_not_the_identity(engine: pk.Engine) -> None:
    engine.opt_out(pk.Subject.of("customer", email="ann@example.com"), "newsletter", now=NOW)
    decision = engine.may_send(pk.Subject.of("customer", user_id=7), "newsletter", now=NOW)
    assert not decision.allowed


def test_selection_for_each_role(engine: pk.Engine, datamap: pk.DataMap) -> None:
    bookings = datamap.record_type("bookings")
    host = engine.resolve(pk.Subject.of("customer", user_id=7))
    invitee = pk.Subject.of("end_user", email="zoe@example.com")
    adapter = engine.adapter_for(bookings)
    host_sel = engine.selection_for(host, bookings)
    invitee_sel = engine.selection_for(invitee, bookings)
    assert host_sel is not None
    assert invitee_sel is not None
    assert adapter.count(bookings, host_sel) == 1
    assert adapter.count(bookings, invitee_sel) == 1
    # an identity no end_user link uses is refused, never an empty selection
    with pytest.raises(pk.SubjectError, match="no identity 'user_id'"):
        engine.selection_for(pk.Subject.of("end_user", user_id=1), bookings)
