"""Access and portability exports: bundle layout, manifest, redaction, streaming, audit.

The small hand-written data set of the reference scheduling service at the top of this module
(``example_rows``/``make_engine``) is shared by the other rights tests (erasure, anonymisation,
rectification, properties).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import gc
import hashlib
import io
import json
import weakref
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.adapters import BaseAdapter, InMemoryAdapter, Selection, SQLiteAdapter
from privacy_kit.rights import iter_bundle_records

NOW = dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC)
SECRET = b"test-secret-for-pseudonyms-0123456789"
ANN = pk.Subject.of("end_user", email="ann@example.com")
BOB = pk.Subject.of("end_user", email="bob@example.com")
HANA = pk.Subject.of("customer", user_id=1)
OMAR = pk.Subject.of("customer", user_id=2)


def _t(day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2025, 3, day, hour, tzinfo=dt.UTC)


def example_rows() -> dict[str, list[dict[str, Any]]]:
    """Two hosts (Hana, Omar) and two invitees (Ann books both hosts, Bob books Hana)."""
    users = [
        {"id": 1, "name": "Hana Haddad", "email": "hana@host.example", "time_zone": "Asia/Amman",
         "language": "ar", "is_admin": True, "created_at": _t(1), "last_seen_at": _t(20),
         "closed_at": None, "deactivated_at": None},
        {"id": 2, "name": "Omar Odeh", "email": "omar@host.example", "time_zone": "Europe/Paris",
         "language": "fr", "is_admin": False, "created_at": _t(2), "last_seen_at": _t(21),
         "closed_at": None, "deactivated_at": None},
    ]  # fmt: skip
    companies = [
        {"id": 10, "owner_id": 1, "name": "Hana Consulting", "description": "Tax advice",
         "website": "https://hana.example", "created_at": _t(1)},
        {"id": 11, "owner_id": 2, "name": "Odeh Law", "description": "Lawyers",
         "website": "https://odeh.example", "created_at": _t(2)},
    ]  # fmt: skip
    services = [
        {"id": 20, "owner_id": 1, "title": "Intro call", "description": "30 minutes with Hana",
         "duration_minutes": 30, "created_at": _t(1)},
        {"id": 21, "owner_id": 2, "title": "Legal advice", "description": "An hour with Omar",
         "duration_minutes": 60, "created_at": _t(2)},
    ]  # fmt: skip
    bookings = [
        {"id": 100, "host_id": 1, "service_id": 20, "invitee_email": "ann@example.com",
         "invitee_name": "Ann Invitee", "invitee_phone": "+44 7700 900123",
         "invitee_notes": "About my tax return", "host_notes": "Ann is a VIP",
         "start_at": _t(10), "end_at": _t(10, 10), "conferencing_provider": "zoom",
         "meeting_url": "https://meet.example/hana-ann", "created_at": _t(5)},
        {"id": 101, "host_id": 2, "service_id": 21, "invitee_email": "ann@example.com",
         "invitee_name": "Ann Invitee", "invitee_phone": None, "invitee_notes": "Contract review",
         "host_notes": "Ann owes a fee", "start_at": _t(11), "end_at": _t(11, 10),
         "conferencing_provider": "meet", "meeting_url": "https://meet.example/omar-ann",
         "created_at": _t(6)},
        {"id": 102, "host_id": 1, "service_id": 20, "invitee_email": "bob@example.com",
         "invitee_name": "Bob Booker", "invitee_phone": "+1 555 0100", "invitee_notes": None,
         "host_notes": "Bob is always late", "start_at": _t(12), "end_at": _t(12, 10),
         "conferencing_provider": "zoom", "meeting_url": "https://meet.example/hana-bob",
         "created_at": _t(7)},
    ]  # fmt: skip
    support = [
        {"id": 30, "user_id": 1, "subject": "Invoice", "body": "Please fix my invoice",
         "created_at": _t(8)},
    ]  # fmt: skip
    payments = [
        {"id": 40, "user_id": 1, "card_brand": "visa", "card_last4": "4242",
         "card_holder": "Hana Haddad", "expires": "12/27", "created_at": _t(3)},
    ]  # fmt: skip
    sessions = [
        {"id": 50, "user_id": 1, "ip_address": "203.0.113.5", "device_type": "laptop",
         "browser": "firefox", "cookie_id": "ck-hana", "created_at": _t(9), "last_seen_at": _t(20)},
        {"id": 51, "user_id": 2, "ip_address": "198.51.100.7", "device_type": "phone",
         "browser": "safari", "cookie_id": "ck-omar", "created_at": _t(9), "last_seen_at": _t(21)},
    ]  # fmt: skip
    usage = [
        {"id": 60, "user_id": 1, "feature": "calendar_sync", "occurred_at": _t(15, 14)},
        {"id": 61, "user_id": 2, "feature": "reminders", "occurred_at": _t(16, 15)},
    ]
    return {
        "users": users,
        "companies": companies,
        "services": services,
        "bookings": bookings,
        "support_tickets": support,
        "payment_methods": payments,
        "sessions": sessions,
        "usage_events": usage,
    }


@functools.cache
def policy_and_datamap() -> tuple[pk.Policy, pk.DataMap]:
    policy = pk.load_policy(pk.example_path())
    return policy, pk.load_datamap(pk.example_path("datamap.yaml"), policy=policy)


def make_adapter(kind: str, rows: Mapping[str, list[dict[str, Any]]] | None = None) -> Any:
    """An adapter of ``kind`` (``memory`` or ``sqlite``) holding ``rows`` (default: the example)."""
    _, datamap = policy_and_datamap()
    rows = example_rows() if rows is None else rows
    if kind == "memory":
        mem = InMemoryAdapter({rt.table_name: [] for rt in datamap.record_types})
        for table, items in rows.items():
            mem.insert(table, items)
        return mem
    db = SQLiteAdapter(":memory:")
    db.create_schema(datamap)
    for table, items in rows.items():
        db.insert(datamap.record_type(table), items)
    return db


def make_engine(adapter: Any, **kwargs: Any) -> pk.Engine:
    policy, datamap = policy_and_datamap()
    kwargs.setdefault("secret", SECRET)
    return pk.Engine(policy, datamap, adapter, **kwargs)


def snapshot(engine: pk.Engine) -> dict[str, dict[Any, dict[str, Any]]]:
    """Every record of every record type, by primary key (read through the adapters)."""
    out: dict[str, dict[Any, dict[str, Any]]] = {}
    for rt in engine.datamap.record_types:
        adapter = engine.adapter_for(rt)
        out[rt.name] = {
            r[rt.primary_key]: r
            for batch in adapter.iter_records(rt, pk.adapters.All())
            for r in batch
        }
    return out


@pytest.fixture(params=["memory", "sqlite"])
def adapter_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- tests ------------------------------------------------------------------------------------


def _zip_text(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name).decode("utf-8") for name in z.namelist()}


def test_invitee_export_holds_their_bookings_with_host_fields_redacted(
    adapter_kind: str, tmp_path: Path
) -> None:
    engine = make_engine(make_adapter(adapter_kind))
    out = tmp_path / "ann.zip"
    result = engine.export(ANN, out, now=NOW)

    assert result.counts == {"bookings": 2}
    assert result.redacted == {"bookings": ("host_id", "host_notes", "meeting_url")}
    files = _zip_text(out)
    assert set(files) == {
        "records/bookings.json",
        "records/bookings.ndjson",
        "records/bookings.csv",
        "summary.html",
        "manifest.json",
    }
    rows = json.loads(files["records/bookings.json"])
    assert sorted(r["id"] for r in rows) == [100, 101]
    for r in rows:
        assert {"host_id", "host_notes", "meeting_url"}.isdisjoint(r)
        assert r["invitee_email"] == "ann@example.com"
        # non-personal fields (internal ids, creation time) are still exported
        assert "service_id" in r
        assert "created_at" in r
        assert dt.datetime.fromisoformat(r["start_at"]).tzinfo is not None
    everything = "".join(files.values())
    for secret_of_host in ("Ann is a VIP", "Ann owes a fee", "hana-ann", "Bob"):
        assert secret_of_host not in everything
    # the three formats hold the same records
    ndjson = [json.loads(line) for line in files["records/bookings.ndjson"].splitlines()]
    assert ndjson == rows
    table = list(csv.DictReader(io.StringIO(files["records/bookings.csv"])))
    assert [int(r["id"]) for r in table] == [r["id"] for r in rows]
    assert table[1]["invitee_phone"] == ""  # None is an empty cell
    assert table[0]["start_at"] == rows[0]["start_at"]

    manifest = json.loads(files["manifest.json"])
    assert manifest["policy"]["version"] == "2024.1"
    assert manifest["generated_at"] == "2025-06-01T12:00:00+00:00"
    assert manifest["subject"] == {
        "kind": "end_user",
        "kind_name": "End user",
        "kinds": ["end_user"],
        "identities": ["email"],
        "reference": engine.reference(ANN),
    }
    assert manifest["nothing_held"] is False
    assert manifest["searched"] == ["bookings (invitee)"]
    (entry,) = manifest["record_types"]
    assert entry["role"] == "invitee"
    assert entry["count"] == 2
    assert [(r["field"], r["party"], r["reason"]) for r in entry["redacted"]] == [
        ("host_id", "host", "reveals_other_user_data"),
        ("host_notes", "host", "reveals_other_user_data"),
        ("meeting_url", "host", "reveals_other_user_data"),
    ]
    cats = {c["key"]: c for c in entry["categories"]}
    assert cats["user.contact.email"]["fields"] == ["invitee_email"]
    assert cats["user.contact.email"]["name"]
    assert "user.account.identifier" not in cats  # host_id was redacted
    purposes = {p["key"]: p for p in entry["purposes"]}
    assert purposes["service.scheduling"]["legal_basis"] in {b.value for b in pk.LegalBasis}
    assert purposes["service.scheduling"]["article"].startswith("GDPR Art. 6(1)")
    recipients = {r["key"] for r in entry["recipients"]}
    assert "other_users" in recipients
    assert "account_admins" not in recipients  # declared for customers and admins only
    assert entry["source"] == ["automatic", "provided"]
    assert entry["retention"]["rule"] == "booking_data"
    assert entry["retention"]["trigger"] == "account_closed"
    assert entry["retention"]["customer_configurable"] is True
    assert entry["files"]["json"]["path"] == "records/bookings.json"
    sha = hashlib.sha256(files["records/bookings.json"].encode()).hexdigest()
    assert entry["files"]["json"]["sha256"] == sha
    assert manifest["disclosures"] is None
    assert "Left out" in files["summary.html"]
    assert "host_notes" in files["summary.html"]
    assert result.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    assert list(iter_bundle_records(out, "bookings")) == rows


def test_host_export_covers_every_record_type_and_redacts_invitee_fields(
    adapter_kind: str, tmp_path: Path
) -> None:
    engine = make_engine(make_adapter(adapter_kind))
    result = engine.export(HANA, tmp_path / "hana", now=NOW, format="folder")
    assert result.counts == {
        "users": 1,
        "companies": 1,
        "services": 1,
        "bookings": 2,
        "support_tickets": 1,
        "payment_methods": 1,
        "sessions": 1,
        "usage_events": 1,
    }
    bookings = list(iter_bundle_records(result.path, "bookings"))
    assert sorted(b["id"] for b in bookings) == [100, 102]
    assert all("invitee_email" not in b and "invitee_name" not in b for b in bookings)
    assert {b["host_notes"] for b in bookings} == {"Ann is a VIP", "Bob is always late"}
    text = "".join(p.read_text("utf-8") for p in result.path.rglob("*") if p.is_file())
    for other in ("Omar", "omar@host.example", "ck-omar", "ann@example.com", "Ann Invitee"):
        assert other not in text
    manifest = json.loads((result.path / "manifest.json").read_text("utf-8"))
    assert result.sha256 == hashlib.sha256((result.path / "manifest.json").read_bytes()).hexdigest()
    for entry in manifest["record_types"]:
        for kind, info in entry["files"].items():
            data = (result.path / info["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == info["sha256"], kind
            assert len(data) == info["bytes"]
    users = next(e for e in manifest["record_types"] if e["name"] == "users")
    assert users["retention"]["rule"] == "account_data"
    assert [x["kind"] for x in users["retention"]["exceptions"]] == [
        "legal_obligation",
        "legal_claims",
    ]
    assert {r["key"] for r in users["recipients"]} >= {"account_admins", "service_providers"}
    assert manifest["subject"]["identities"] == ["email", "user_id"]  # resolved from users


def test_subject_with_no_records_gets_an_empty_but_valid_bundle(tmp_path: Path) -> None:
    engine = make_engine(make_adapter("memory"))
    stranger = pk.Subject.of("end_user", email="nobody@example.com")
    result = engine.export(stranger, tmp_path / "x.zip", now=NOW)
    assert result.counts == {"bookings": 0}
    files = _zip_text(tmp_path / "x.zip")
    assert json.loads(files["records/bookings.json"]) == []
    assert files["records/bookings.ndjson"] == ""
    assert files["records/bookings.csv"].startswith("id,service_id,invitee_email")


def test_export_is_audited_with_counts_and_hash_but_no_data(tmp_path: Path) -> None:
    audit = pk.AuditLog.memory()
    engine = make_engine(make_adapter("memory"), audit=audit)
    result = engine.export(ANN, tmp_path / "a.zip", now=NOW)
    (entry,) = [e for e in audit.entries() if e.action == "export.completed"]
    assert entry.subject == engine.reference(ANN)
    assert entry.details["sha256"] == result.sha256
    assert entry.details["counts"] == {"bookings": 2}
    assert "ann@example.com" not in json.dumps(entry.details)
    audit.verify()


def test_manifest_says_who_received_the_data(tmp_path: Path) -> None:
    policy, _ = policy_and_datamap()
    log = pk.DisclosureLog(policy)
    engine = make_engine(make_adapter("memory"), disclosures=log)
    log.record(
        recipient="integration_partners",
        subject_ref=engine.reference(ANN),
        subject_kind="end_user",
        categories=["user.contact.email"],
        record_types=["bookings"],
        purpose="service.integrations",
        at=NOW - dt.timedelta(days=3),
    )
    result = engine.export(ANN, tmp_path / "a.zip", now=NOW)
    files = _zip_text(result.path)
    manifest = json.loads(files["manifest.json"])
    (d,) = manifest["disclosures"]
    assert d["recipient"] == "integration_partners"
    assert d["categories"] == ["user.contact.email"]
    assert d["count"] == 1
    assert "Who received your data" in files["summary.html"]


class _Tracked(dict):  # type: ignore[type-arg]
    """A record the spy can watch: it knows when the exporter lets go of it."""


class SpyAdapter(BaseAdapter):
    """Wraps an adapter; checks that the consumer holds at most one batch when asking for more."""

    def __init__(self, inner: Any, *, track: bool = True) -> None:
        super().__init__(name="spy")
        self.inner = inner
        self.track = track
        self.capabilities = inner.capabilities
        self.live = 0
        self.max_live_when_asked = 0
        self.batches = 0
        self.batch_sizes: list[int] = []

    def _release(self) -> None:
        self.live -= 1

    def iter_records(
        self,
        record_type: pk.RecordType,
        selection: Selection,
        *,
        fields: Sequence[str] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[list[dict[str, Any]]]:
        self.batch_sizes.append(batch_size)
        if not self.track:
            yield from self.inner.iter_records(
                record_type, selection, fields=fields, batch_size=batch_size
            )
            return
        for batch in self.inner.iter_records(
            record_type, selection, fields=fields, batch_size=batch_size
        ):
            gc.collect()
            self.max_live_when_asked = max(self.max_live_when_asked, self.live)
            tracked = []
            for record in batch:
                item = _Tracked(record)
                self.live += 1
                weakref.finalize(item, self._release)
                tracked.append(item)
            del batch
            self.batches += 1
            yield tracked
            del tracked

    def count(self, record_type: pk.RecordType, selection: Selection) -> int:
        return int(self.inner.count(record_type, selection))

    def delete(
        self, record_type: pk.RecordType, selection: Selection, *, batch_size: int = 1000
    ) -> int:
        return int(self.inner.delete(record_type, selection, batch_size=batch_size))

    def update(
        self,
        record_type: pk.RecordType,
        selection: Selection,
        values: Mapping[str, Any],
        *,
        batch_size: int = 1000,
    ) -> int:
        return int(self.inner.update(record_type, selection, values, batch_size=batch_size))

    def update_by_key(self, record_type: pk.RecordType, changes: Any, **kw: Any) -> int:
        return int(self.inner.update_by_key(record_type, changes))

    def atomic(self) -> Any:
        """The wrapped adapter's block (asked only when it declares ``Capability.ATOMIC``)."""
        return self.inner.atomic()

    def verify(self, datamap: pk.DataMap) -> list[pk.Problem]:
        return list(self.inner.verify(datamap))


def test_export_streams_in_batches_and_holds_at_most_one_batch(tmp_path: Path) -> None:
    rows = example_rows()
    template = rows["bookings"][0]
    rows["bookings"] = [
        {**template, "id": 1000 + i, "invitee_notes": f"note {i}"} for i in range(95)
    ]
    spy = SpyAdapter(make_adapter("memory", rows))
    engine = make_engine(spy)
    result = engine.export(ANN, tmp_path / "big.zip", now=NOW, batch_size=10)
    assert result.counts == {"bookings": 95}
    assert spy.batch_sizes == [10]
    assert spy.batches == 10
    # When the exporter asks for the next batch it holds no more than one batch of records.
    assert 0 < spy.max_live_when_asked <= 10
    gc.collect()
    assert spy.live == 0
    notes = [r["invitee_notes"] for r in iter_bundle_records(result.path, "bookings")]
    assert notes == [f"note {i}" for i in range(95)]


class _FailingReads(SpyAdapter):
    def iter_records(self, *args: Any, **kwargs: Any) -> Iterator[list[dict[str, Any]]]:
        yield from super().iter_records(*args, **kwargs)
        raise pk.AdapterError("disk gone", adapter="spy", record_type="bookings", operation="read")


@pytest.mark.parametrize("fmt", ["zip", "folder"])
def test_a_failed_export_leaves_nothing_behind(tmp_path: Path, fmt: str) -> None:
    engine = make_engine(_FailingReads(make_adapter("memory")))
    with pytest.raises(pk.AdapterError, match="disk gone"):
        engine.export(ANN, tmp_path / "out", now=NOW, format=fmt)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_bad_export_arguments_are_refused(tmp_path: Path) -> None:
    engine = make_engine(make_adapter("memory"))
    existing = tmp_path / "a.zip"
    existing.write_bytes(b"x")
    with pytest.raises(pk.ConfigurationError, match="never overwrites"):
        engine.export(ANN, existing, now=NOW)
    with pytest.raises(pk.ConfigurationError, match="is a directory"):
        engine.export(ANN, tmp_path, now=NOW)
    with pytest.raises(pk.ConfigurationError, match="not an empty directory"):
        engine.export(ANN, tmp_path, now=NOW, format="folder")
    with pytest.raises(pk.ConfigurationError, match="unknown export format"):
        engine.export(ANN, tmp_path / "b", now=NOW, format="tar")  # type: ignore[arg-type]
    with pytest.raises(pk.ConfigurationError, match="batch_size"):
        engine.export(ANN, tmp_path / "c.zip", now=NOW, batch_size=0)
    with pytest.raises(pk.ConfigurationError, match=r"unknown record format\(s\) \['xml'\]"):
        engine.export(ANN, tmp_path / "e.zip", now=NOW, formats=["json", "xml"])
    with pytest.raises(pk.ConfigurationError, match="at least one"):
        engine.export(ANN, tmp_path / "f.zip", now=NOW, formats=[])
    with pytest.raises(ValueError, match="timezone-aware"):
        engine.export(ANN, tmp_path / "d.zip", now=dt.datetime(2025, 1, 1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip"]


def test_only_the_chosen_record_formats_are_written(tmp_path: Path) -> None:
    engine = make_engine(make_adapter("memory"))
    result = engine.export(ANN, tmp_path / "a.zip", now=NOW, formats=["json"])
    files = _zip_text(tmp_path / "a.zip")
    assert sorted(files) == ["manifest.json", "records/bookings.json", "summary.html"]
    rows = json.loads(files["records/bookings.json"])
    assert len(rows) == result.counts["bookings"] == 2
    manifest = json.loads(files["manifest.json"])
    assert list(manifest["record_types"][0]["files"]) == ["json"]
    # The same records as a full export, whichever formats were chosen.
    full = engine.export(ANN, tmp_path / "b", now=NOW, format="folder", formats=["csv", "ndjson"])
    assert full.counts == result.counts
    assert [r["id"] for r in iter_bundle_records(tmp_path / "b", "bookings")] == [
        r["id"] for r in rows
    ]
    assert not (tmp_path / "b" / "records" / "bookings.json").exists()


def test_empty_existing_folder_is_filled(tmp_path: Path) -> None:
    engine = make_engine(make_adapter("memory"))
    target = tmp_path / "empty"
    target.mkdir()
    result = engine.export(BOB, target, now=NOW, format="folder")
    assert result.counts == {"bookings": 1}
    assert (target / "manifest.json").exists()
    assert [r["invitee_name"] for r in iter_bundle_records(target, "bookings")] == ["Bob Booker"]


class _IgnoresFields(InMemoryAdapter):
    """A careless adapter: it returns every field, whatever it was asked for."""

    def iter_records(
        self,
        record_type: Any,
        selection: Selection,
        *,
        fields: Sequence[str] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[list[dict[str, Any]]]:
        return super().iter_records(record_type, selection, batch_size=batch_size)


def test_fields_an_adapter_sends_unasked_never_reach_the_bundle(tmp_path: Path) -> None:
    engine = make_engine(_IgnoresFields(make_adapter("memory").tables))
    engine.export(ANN, tmp_path / "a.zip", now=NOW)
    files = _zip_text(tmp_path / "a.zip")
    for name in ("records/bookings.json", "records/bookings.ndjson", "records/bookings.csv"):
        assert "Ann is a VIP" not in files[name]
        assert "host_notes" not in files[name]
