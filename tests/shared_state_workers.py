"""Process bodies for tests/test_shared_state.py: engines in separate processes sharing one store.

They live in an importable module because the tests start processes with ``spawn`` (see
tests/state_workers.py). Every process opens its own state store from a spec and its own
connection to the application's SQLite file, and builds its own ``Engine(..., state=store)``
without a secret, as a host's web worker and nightly sweep would.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import privacy_kit as pk
from privacy_kit.adapters import SQLiteAdapter
from privacy_kit.rights import CodeVerifier
from state_workers import Spec, _report, open_store

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
HOLD_ID = "hold_dispute_4411"
HELD = pk.Subject.of("customer", user_id=1)  # a closed account: the sweep would delete it
OBJECTOR = pk.Subject.of("customer", user_id=2)
VERIFIED = pk.Subject.of("customer", user_id=3)
OVERRIDE_ACCOUNT = 2  # keeps its bookings 30 days instead of the default


def make_engine(store: Any, app_db: str) -> pk.Engine:
    policy = pk.load_policy(pk.example_path())
    datamap = pk.load_datamap(pk.example_path("datamap.yaml"))
    return pk.Engine(policy, datamap, SQLiteAdapter(app_db), state=store)


def writer(spec: Spec, app_db: str, queue: Any) -> None:
    """The first process: places a hold, records an objection and an override, issues a code."""

    def body() -> dict[str, Any]:
        with open_store(spec) as store:
            engine = make_engine(store, app_db)
            engine.place_hold(
                reason="Dispute 4411",
                placed_by="legal",
                now=NOW - dt.timedelta(days=1),
                subject=HELD,
                hold_id=HOLD_ID,
            )
            engine.object_to(OBJECTOR, "marketing.email", now=NOW)
            assert engine.settings is not None
            engine.settings.set(OVERRIDE_ACCOUNT, "booking_data", "P30D")
            challenge = CodeVerifier.shared(store).issue(engine.reference(VERIFIED), now=NOW)
            return {
                "references": [engine.reference(s) for s in (HELD, OBJECTOR, VERIFIED)],
                "challenge": challenge.challenge_id,
                "code": challenge.code,
            }

    _report(queue, body)


def reader(
    spec: Spec, app_db: str, challenge: str, code: str, barrier: Any, worker: int, queue: Any
) -> None:
    """A later process (two run at once): plans, asks, then races the others to use the code
    and to release the hold, and records a disclosure."""

    def body() -> dict[str, Any]:
        with open_store(spec) as store:
            engine = make_engine(store, app_db)
            found: dict[str, Any] = {
                "references": [engine.reference(s) for s in (HELD, OBJECTOR, VERIFIED)]
            }
            barrier.wait(timeout=120)
            plan = engine.plan_retention(now=NOW)
            found["retention_held"] = {
                f"{e.record_type}:{e.group}": [e.held, list(e.hold_ids)]
                for e in plan.entries
                if e.held
            }
            found["retention_groups"] = {
                f"{e.rule}:{e.record_type}:{e.group}": e.count for e in plan.entries
            }
            erasure = engine.plan_erasure(HELD, now=NOW)
            found["erasure_held"] = {
                k.record_type: k.count for k in erasure.kept if k.reason.value == "legal_hold"
            }
            decision = engine.may_process(OBJECTOR, "marketing.email", now=NOW)
            found["may_process"] = [decision.allowed, decision.citation]
            barrier.wait(timeout=120)
            try:
                found["verified"] = CodeVerifier.shared(store).check(challenge, code, now=NOW)
            except pk.VerificationError as exc:
                found["verified"] = f"error: {exc}"
            barrier.wait(timeout=120)
            try:
                released = engine.release_hold(HOLD_ID, released_by=f"worker {worker}", now=NOW)
                found["released"] = released.released_by
            except pk.ConfigurationError as exc:
                found["released"] = f"error: {exc}"
            assert engine.disclosures is not None
            found["disclosure_seq"] = engine.disclosures.record(
                recipient="other_users",
                subject_ref=found["references"][0],
                subject_kind="customer",
                categories=["user.contact.email"],
                purpose="service.scheduling",
                at=NOW,
                note=f"worker {worker}",
            ).seq
            return found

    _report(queue, body)
