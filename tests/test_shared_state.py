"""Shared, durable state: the registries backed by a StateStore, in one process and across several.

The multi-process tests start real processes (``spawn``) that each build their own
``Engine(policy, datamap, adapter, state=store)`` on one state store (an SQLite file, or a
PostgreSQL database) and one application database, as a host's web workers and sweep would.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import privacy_kit as pk
import shared_state_workers as workers
import state_workers
from conftest import POSTGRES_URL
from privacy_kit import audit, engine
from privacy_kit.adapters import InMemoryAdapter, SQLiteAdapter, where
from privacy_kit.audit import MemoryStateStore, SqliteStateStore, StateStore
from privacy_kit.lifecycle import DisclosureLog
from privacy_kit.retention import (
    Commitment,
    CommitmentRegistry,
    HoldRegistry,
    RetentionJournal,
    RetentionSettings,
)
from privacy_kit.rights import CodeVerifier, Preferences
from privacy_kit.rights._preference_records import PreferenceRecord

NOW = workers.NOW
POLICY = pk.load_policy(pk.example_path())
DATAMAP = pk.load_datamap(pk.example_path("datamap.yaml"))
SECRET = b"s" * 32
_CTX = multiprocessing.get_context("spawn")


def _user(i: int, closed: dt.datetime | None) -> dict[str, Any]:
    return {
        "id": i,
        "name": f"User {i}",
        "email": f"user{i}@example.org",
        "time_zone": "UTC",
        "language": "en",
        "closed_at": closed,
    }


def _booking(i: int, host: int, end: dt.datetime) -> dict[str, Any]:
    return {
        "id": i,
        "host_id": host,
        "service_id": None,
        "invitee_email": f"invitee{i}@example.org",
        "invitee_name": f"Invitee {i}",
        "start_at": end - dt.timedelta(hours=1),
        "end_at": end,
    }


def _fill(db: SQLiteAdapter) -> None:
    """Four users (1 and 3 closed in 2020), three bookings each in 2024."""
    db.create_schema(DATAMAP)
    closed = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    db.insert(
        DATAMAP.record_type("users"), [_user(i, closed if i % 2 else None) for i in (1, 2, 3, 4)]
    )
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    db.insert(
        DATAMAP.record_type("bookings"),
        [
            _booking(u * 1000 + j, u, start + dt.timedelta(hours=j))
            for u in (1, 2, 3, 4)
            for j in range(3)
        ],
    )


# == two engines in two processes =================================================================
def _run(target: Callable[..., None], argsets: list[tuple[Any, ...]]) -> list[Any]:
    """One process per argument tuple (each gets the result queue last), bounded in time."""
    queue = _CTX.Queue()
    processes = [_CTX.Process(target=target, args=(*args, queue)) for args in argsets]
    for p in processes:
        p.start()
    try:
        results = [queue.get(timeout=120) for _ in processes]
    finally:
        for p in processes:
            p.join(timeout=30)
            if p.is_alive():  # pragma: no cover - only when a child hangs
                p.kill()
                p.join(timeout=5)
    failures = [body for status, body in results if status != "ok"]
    assert not failures, failures
    assert [p.exitcode for p in processes] == [0] * len(processes)
    return [body for _status, body in results]


Shared = tuple[state_workers.Spec, dict[str, Any], list[dict[str, Any]]]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shared]:
    """A writer process, then two reader processes at once, on one store: the spec and results."""
    folder = tmp_path_factory.mktemp("shared")
    app_db = str(folder / "app.db")
    with SQLiteAdapter(app_db) as db:
        _fill(db)
    if request.param == "sqlite":
        spec: state_workers.Spec = ("sqlite", str(folder / "state.db"), "privacy_kit_")
    else:
        request.getfixturevalue("postgres_engine")  # skips, saying why, without a server
        spec = ("sqlalchemy", POSTGRES_URL, f"t{uuid.uuid4().hex[:12]}_")
    try:
        [written] = _run(workers.writer, [(spec, app_db)])
        barrier = _CTX.Barrier(2)
        argsets = [
            (spec, app_db, written["challenge"], written["code"], barrier, n) for n in (1, 2)
        ]
        yield spec, written, _run(workers.reader, argsets)
    finally:
        if spec[0] == "sqlalchemy":
            with state_workers.open_store(spec) as store:
                store.drop_tables()  # type: ignore[union-attr]


def test_same_store_same_secret_same_subject_references(shared: Shared) -> None:
    _spec, written, read = shared
    assert len(set(written["references"])) == 3
    assert [r["references"] for r in read] == [written["references"]] * 2


def test_a_hold_placed_in_one_process_stops_the_retention_plan_of_another(shared: Shared) -> None:
    _spec, _written, read = shared
    for r in read:  # the held user's row and their three bookings: counted apart, not deleted
        assert r["retention_held"] == {
            "bookings:default": [3, [workers.HOLD_ID]],
            "users:default": [1, [workers.HOLD_ID]],
        }
        assert r["retention_groups"]["account_data:users:default"] == 1  # user 3 only


def test_a_hold_placed_in_one_process_stops_the_erasure_plan_of_another(shared: Shared) -> None:
    _spec, _written, read = shared
    assert [r["erasure_held"] for r in read] == [{"users": 1, "bookings": 3}] * 2


def test_an_objection_recorded_in_one_process_is_honoured_in_another(shared: Shared) -> None:
    _spec, _written, read = shared
    assert [r["may_process"] for r in read] == [[False, "GDPR Art. 21(3)"]] * 2


def test_retention_overrides_set_in_one_process_are_planned_by_another(shared: Shared) -> None:
    _spec, _written, read = shared
    for r in read:
        assert r["retention_groups"]["booking_data:bookings:override P30D (1 account)"] == 3


def test_a_one_time_code_works_once_across_processes(shared: Shared) -> None:
    spec, written, read = shared
    verified = sorted(r["verified"] for r in read)
    assert verified == ["error: reused: this code was already used", written["references"][2]]
    with state_workers.open_store(spec) as store:
        verifier = CodeVerifier.shared(store)
        with pytest.raises(pk.VerificationError, match=r"^reused"):
            verifier.check(written["challenge"], written["code"], now=NOW)


def test_a_hold_released_by_two_processes_at_once_is_released_once(shared: Shared) -> None:
    spec, _written, read = shared
    outcomes = sorted(r["released"] for r in read)
    assert outcomes[1] in ("worker 1", "worker 2")
    assert outcomes[0].startswith(f"error: hold {workers.HOLD_ID!r} was already released at")
    with state_workers.open_store(spec) as store:
        assert HoldRegistry.shared(store).get(workers.HOLD_ID).released_by == outcomes[1]


def test_disclosures_from_two_processes_are_both_logged_in_sequence(shared: Shared) -> None:
    spec, _written, read = shared
    assert sorted(r["disclosure_seq"] for r in read) == [1, 2]
    with state_workers.open_store(spec) as store:
        log = DisclosureLog(POLICY, state=store)
        assert [e.seq for e in log] == [1, 2]
        assert sorted(str(e.note) for e in log) == ["worker 1", "worker 2"]


# == the engine's secret ==========================================================================
def _tables() -> InMemoryAdapter:
    return InMemoryAdapter({rt.table_name: [] for rt in DATAMAP.record_types})


def test_an_engine_without_secret_or_state_warns_that_references_will_differ() -> None:
    with pytest.warns(engine.UnsharedSecretWarning, match="neither secret= nor state="):
        one = pk.Engine(POLICY, DATAMAP, _tables())
    with pytest.warns(engine.UnsharedSecretWarning):
        two = pk.Engine(POLICY, DATAMAP, _tables())
    ann = pk.Subject.of("customer", user_id=7)
    assert one.reference(ann) != two.reference(ann)


def test_an_engine_with_a_secret_or_a_state_store_does_not_warn() -> None:
    store = MemoryStateStore()
    with warnings.catch_warnings():
        warnings.simplefilter("error", engine.UnsharedSecretWarning)
        given = pk.Engine(POLICY, DATAMAP, _tables(), secret=SECRET)
        one = pk.Engine(POLICY, DATAMAP, _tables(), state=store)
        two = pk.Engine(POLICY, DATAMAP, _tables(), state=store)
        explicit = pk.Engine(POLICY, DATAMAP, _tables(), state=store, secret=SECRET)
    assert one.secret == two.secret == store.secret()
    assert given.secret == explicit.secret == SECRET
    ann = pk.Subject.of("customer", user_id=7)
    assert one.reference(ann) == two.reference(ann) != given.reference(ann)


def test_an_engine_with_a_state_store_keeps_every_registry_there() -> None:
    store = MemoryStateStore()
    made = pk.Engine(POLICY, DATAMAP, _tables(), state=store)
    assert made.holds.state is store
    assert made.preferences.state is store
    assert made.commitments.state is store
    assert made.settings is not None
    assert made.settings.state is store
    assert made.disclosures is not None
    assert made.disclosures.state is store
    plain = pk.Engine(POLICY, DATAMAP, _tables(), secret=SECRET)
    assert plain.holds.state is None
    assert plain.settings is None
    assert plain.disclosures is None


def test_engine_journals_go_to_the_state_store(tmp_path: Path) -> None:
    with SQLiteAdapter(tmp_path / "app.db") as db:
        _fill(db)
        store = SqliteStateStore(tmp_path / "state.db")
        app = pk.Engine(POLICY, DATAMAP, db, state=store)
        erasure = app.plan_erasure(pk.Subject.of("customer", user_id=4), now=NOW)
        app.apply(erasure)
        logged = store.entries(f"journal.erasure.{erasure.plan_id}")
        assert [e.document["event"] for e in logged][-1] == "finished"
        retention = app.plan_retention(now=NOW)
        report = app.apply(retention)
        assert report.total == retention.total > 0
        done = store.entries(f"journal.retention.{retention.id}")
        assert {d.document["entry"] for d in done} == set(range(len(retention.entries)))
        # another process (another journal on the store) sees every unit as finished
        again = RetentionJournal(state=store)
        assert all(again.done(retention.id, d.document["entry"], d.document["unit"]) for d in done)
        store.close()


# == the registries on a store, in one process ====================================================
@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    if request.param == "memory":
        yield MemoryStateStore()
        return
    with SqliteStateStore(tmp_path / "state.db") as found:
        yield found


def test_holds_on_a_store(store: StateStore) -> None:
    one, two = HoldRegistry.shared(store), HoldRegistry(state=store)
    placed = one.place(
        reason="Case 12",
        placed_by="legal",
        now=NOW,
        record_type="bookings",
        selection=where.eq("host_id", 7),
        hold_id="h1",
    )
    assert two.get("h1") == placed
    assert [h.id for h in two.active(NOW)] == ["h1"]
    assert len(two) == 1
    with pytest.raises(pk.ConfigurationError, match="'h1' already exists"):
        two.place(reason="again", placed_by="legal", now=NOW, record_type="users", hold_id="h1")
    with pytest.raises(pk.ConfigurationError, match="no legal hold 'h2'"):
        two.release("h2", released_by="legal", now=NOW)
    released = two.release("h1", released_by="legal", now=NOW + dt.timedelta(days=1))
    assert one.get("h1") == released
    with pytest.raises(pk.ConfigurationError, match="'h1' was already released"):
        one.release("h1", released_by="other", now=NOW + dt.timedelta(days=2))
    assert one.get("h1").released_by == "legal"
    assert one.active(NOW + dt.timedelta(days=1)) == ()
    one.place(reason="r", placed_by="p", now=NOW, record_type="users", hold_id="h3")
    with pytest.raises(pk.ConfigurationError, match="before it was placed"):
        one.release("h3", released_by="p", now=NOW - dt.timedelta(days=1))
    assert one.get("h3").released_at is None


def test_a_malformed_stored_hold_is_named(store: StateStore) -> None:
    store.put("holds", "bad", {"id": "bad"})
    with pytest.raises(pk.ConfigurationError, match=r"holds/'bad': not a legal hold"):
        HoldRegistry.shared(store).active(NOW)


def test_a_registry_is_kept_in_a_file_or_a_store_not_both(tmp_path: Path) -> None:
    store = MemoryStateStore()
    for make in (
        lambda: HoldRegistry(tmp_path / "h.json", state=store),
        lambda: CommitmentRegistry(tmp_path / "c.json", state=store),
        lambda: RetentionSettings(POLICY, tmp_path / "s.json", state=store),
        lambda: RetentionJournal(tmp_path / "j.jsonl", state=store),
        lambda: DisclosureLog(POLICY, path=tmp_path / "d.jsonl", state=store),
    ):
        with pytest.raises(pk.ConfigurationError, match="file or a state store"):
            make()


def _commitment(ident: str) -> Commitment:
    return Commitment(
        id=ident,
        record_type="users",
        selection=where.eq("id", 7),
        fields=("name",),
        due=dt.datetime(2031, 6, 1, tzinfo=dt.UTC),
        action="delete",
        reason="legal_obligation",
        explanation="tax",
        origin="erasure p1",
        made_at=NOW,
    )


def test_commitments_on_a_store(store: StateStore) -> None:
    one, two = CommitmentRegistry.shared(store), CommitmentRegistry(state=store)
    first = one.record([_commitment("kept_1"), _commitment("kept_1")])
    assert [c.id for c in first] == ["kept_1", "kept_1"]
    due = dt.datetime(2031, 7, 1, tzinfo=dt.UTC)
    done = two.fulfil("kept_1", now=due, by="ret_x")
    assert done.fulfilled_by == "ret_x"
    assert one.fulfil("kept_1", now=due + dt.timedelta(days=1), by="ret_y").fulfilled_by == "ret_x"
    again = one.record([_commitment("kept_1")])  # recording again keeps the fulfilled one
    assert again[0].fulfilled_by == "ret_x"
    assert (len(one), one.pending(), two.due(due)) == (1, (), ())
    with pytest.raises(pk.ConfigurationError, match="no commitment 'kept_2'"):
        two.fulfil("kept_2", now=due, by="ret_x")


def test_retention_settings_on_a_store(store: StateStore) -> None:
    one, two = RetentionSettings.shared(POLICY, store), RetentionSettings(POLICY, state=store)
    one.set(7, "booking_data", "P30D")
    one.set("7", "booking_data", "P60D")  # another account: the key keeps the type
    one.set(8, "booking_data", "P1Y")
    assert str(two.get(7, "booking_data")) == "P30D"
    assert str(two.get("7", "booking_data")) == "P60D"
    assert two.get(9, "booking_data") is None
    assert {k: str(v) for k, v in two.overrides("booking_data").items()} == {
        7: "P30D",
        8: "P1Y",
        "7": "P60D",
    }
    assert len(two) == 3
    with pytest.raises(pk.ConfigurationError, match="outside the range"):
        two.set(7, "booking_data", "P20Y")
    with pytest.raises(pk.ConfigurationError, match="cannot be overridden"):
        two.set(7, "content", "P1Y")
    with pytest.raises(
        pk.ConfigurationError, match="an account key must be an integer or a string"
    ):
        two.set(1.5, "booking_data", "P30D")
    two.clear(7, "booking_data")
    assert one.get(7, "booking_data") is None
    assert str(one.get("7", "booking_data")) == "P60D"
    two.clear(8)
    assert one.get(8, "booking_data") is None
    assert len(one) == 1
    store.put("retention.overrides", "booking_data|9", {"rule": "booking_data"})
    with pytest.raises(pk.ConfigurationError, match=r"retention.overrides/'booking_data\|9'"):
        one.overrides("booking_data")


def test_preferences_on_a_store(store: StateStore) -> None:
    one, two = Preferences(state=store), Preferences(state=store)
    ads = pk.Purpose(
        key="marketing.email", name="Ads", legal_basis="consent", direct_marketing=True
    )
    first = one.object_to("subj_1", "marketing", now=NOW)
    assert two.object_to("subj_1", "marketing", now=NOW + dt.timedelta(hours=1)) == first
    assert not two.may_process("subj_1", ads, now=NOW)
    assert two.may_process("subj_10", ads, now=NOW)  # a reference that shares a prefix
    one.restrict("subj_1", ground="accuracy_contested", now=NOW)
    assert [r.key for r in two.restrictions("subj_1", now=NOW)] == ["accuracy_contested"]
    assert two.withdraw_objection("subj_1", "marketing", now=NOW + dt.timedelta(days=1)) is not None
    assert one.withdraw_objection("subj_1", "marketing", now=NOW + dt.timedelta(days=2)) is None
    assert one.lift_restriction("subj_1", now=NOW + dt.timedelta(days=1))
    assert one.may_process("subj_1", ads, now=NOW + dt.timedelta(days=1))
    assert [(r.kind, r.key) for r in two.records("subj_1")] == [
        ("objection", "marketing"),
        ("restriction", "accuracy_contested"),
    ]
    snapshot = one.to_json()
    copy = Preferences(state=MemoryStateStore())
    copy._load(PreferenceRecord.from_dict(r.to_dict(), "test") for r in one.records())
    assert copy.to_json() == snapshot


def test_retention_journal_on_a_store(store: StateStore) -> None:
    one, two = RetentionJournal(state=store), RetentionJournal(state=store)
    assert not two.done("ret_1", 0, 3)
    one.mark("ret_1", 0, 3)
    assert two.done("ret_1", 0, 3)
    assert not two.done("ret_2", 0, 3)
    one.mark("Plan With Capitals", 1, 1)  # not a collection name: kept under its hash
    assert two.done("Plan With Capitals", 1, 1)


def test_erasure_journal_on_a_store(store: StateStore) -> None:
    one, two = audit.StateJournal.for_plan(store, "p1"), audit.StateJournal.for_plan(store, "p1")
    one.started("p1", "users:delete")
    two.done("p1", "users:delete", 3)
    two.finished("p1")
    assert one.completed_steps("p1") == {"users:delete": 3}
    assert one.is_finished("p1")
    assert audit.StateJournal.for_plan(store, "p2").completed_steps("p2") == {}
    with pytest.raises(pk.PrivacyKitError, match="collection"):
        audit.StateJournal(store, "Not A Name")


def test_disclosure_log_on_a_store(store: StateStore) -> None:
    one, two = DisclosureLog(POLICY, state=store), DisclosureLog(POLICY, state=store)

    def record(log: DisclosureLog, ref: str) -> int:
        return log.record(
            recipient="other_users",
            subject_ref=ref,
            subject_kind="customer",
            categories=["user.contact.email"],
            purpose="service.scheduling",
            at=NOW,
        ).seq

    assert [record(one, "subj_1"), record(two, "subj_2"), record(one, "subj_1")] == [1, 2, 3]
    assert [e.seq for e in two.for_subject("subj_1")] == [1, 3]
    assert len(one) == len(two) == 3
    with pytest.raises(pk.DisclosureError):  # refused: nothing is appended
        two.record(
            recipient="nobody",
            subject_ref="s",
            categories=["user.contact.email"],
            purpose="service.scheduling",
            at=NOW,
        )
    assert len(one) == 3


def test_a_malformed_stored_disclosure_is_named() -> None:
    store = MemoryStateStore()
    store.append("disclosures", {"recipient": "x"})
    with pytest.raises(pk.ConfigurationError, match="disclosures, entry 1: malformed"):
        len(DisclosureLog(POLICY, state=store))


# == verification: one-time codes, found by id ===================================================
class _NoScan(dict[str, Any]):
    """A challenge table that fails the test if anything walks through it."""

    def _scanned(self, *_args: Any) -> Any:
        raise AssertionError("the verifier walked through every outstanding challenge")

    __iter__ = items = values = keys = _scanned  # type: ignore[assignment]


def test_issuing_a_code_does_not_walk_through_the_outstanding_ones() -> None:
    verifier = CodeVerifier(SECRET)
    for i in range(2_000):
        verifier.issue(f"subj_{i}", now=NOW)
    verifier._states = _NoScan(verifier._states)
    later = NOW + dt.timedelta(minutes=5)
    challenge = verifier.issue("subj_new", now=later)
    assert verifier.check(challenge.challenge_id, challenge.code, now=later) == "subj_new"
    # two days on, the next issue forgets the 2,001 expired challenges, and only those
    verifier._states = dict(dict.items(verifier._states))
    fresh = verifier.issue("subj_next", now=NOW + dt.timedelta(days=2))
    assert len(verifier._states) == 1
    assert verifier.check(fresh.challenge_id, fresh.code, now=NOW + dt.timedelta(days=2))


class _CountingStore(MemoryStateStore):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def items(self, collection: str, *, prefix: str = "") -> Any:
        self.calls.append(f"items {collection}")
        return super().items(collection, prefix=prefix)

    def put(self, collection: str, key: str, document: Any, **options: Any) -> Any:
        self.calls.append(f"put {collection}")
        return super().put(collection, key, document, **options)

    def update(self, collection: str, key: str, fn: Any) -> Any:
        self.calls.append(f"update {collection}")
        return super().update(collection, key, fn)


def test_a_shared_verifier_finds_a_challenge_by_its_key() -> None:
    store = _CountingStore()
    verifier = CodeVerifier.shared(store)
    for i in range(50):
        verifier.issue(f"subj_{i}", now=NOW)
    store.calls.clear()
    challenge = verifier.issue("subj_x", now=NOW)
    assert store.calls == ["put verification"]
    store.calls.clear()
    with pytest.raises(pk.VerificationError, match=r"^wrong: .*\(4 attempt"):
        CodeVerifier.shared(store).check(
            challenge.challenge_id, "000000" if challenge.code != "000000" else "111111", now=NOW
        )
    assert (
        CodeVerifier.shared(store).check(challenge.challenge_id, challenge.code, now=NOW)
        == "subj_x"
    )
    assert store.calls == ["update verification", "update verification"]


def test_a_shared_verifier_counts_wrong_attempts_across_instances() -> None:
    store = MemoryStateStore()
    challenge = CodeVerifier.shared(store, max_attempts=2).issue("subj_1", now=NOW)
    wrong = "000000" if challenge.code != "000000" else "111111"
    with pytest.raises(pk.VerificationError, match="1 attempt"):
        CodeVerifier.shared(store, max_attempts=2).check(challenge.challenge_id, wrong, now=NOW)
    with pytest.raises(pk.VerificationError, match=r"now locked"):
        CodeVerifier.shared(store, max_attempts=2).check(challenge.challenge_id, wrong, now=NOW)
    with pytest.raises(pk.VerificationError, match=r"^locked"):
        CodeVerifier.shared(store, max_attempts=2).check(
            challenge.challenge_id, challenge.code, now=NOW
        )


def test_a_shared_verifier_unknown_expired_and_purged_challenges() -> None:
    store = MemoryStateStore()
    verifier = CodeVerifier.shared(store)
    elsewhere = CodeVerifier(store.secret("verification"))  # same secret, its own state
    stray = elsewhere.issue("subj_1", now=NOW)
    with pytest.raises(pk.VerificationError, match=r"^unknown: .*not in the state store"):
        verifier.check(stray.challenge_id, stray.code, now=NOW)
    challenge = verifier.issue("subj_2", now=NOW)
    assert verifier.purge(now=NOW + dt.timedelta(hours=1)) == 0
    assert verifier.purge(now=NOW + dt.timedelta(days=2)) == 1
    assert store.items("verification") == ()
    with pytest.raises(pk.VerificationError, match=r"^expired"):
        verifier.check(challenge.challenge_id, challenge.code, now=NOW + dt.timedelta(days=2))
