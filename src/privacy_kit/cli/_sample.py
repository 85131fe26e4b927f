"""Sample data: realistic, deterministic fake data for the reference example's data map.

:func:`generate` fills the scheduling service's record types (users, companies, services,
bookings, support tickets, payment methods, sessions, usage events) at a chosen scale, into any
adapter that has an ``insert(record_type, records, batch_size=...)`` method (the built-in ones do).
The same seed, scale and ``now`` always give the same records. Invitees are shared between hosts
(one person books meetings with several customers), some accounts are closed or deactivated, and
timestamps spread over the years before ``now``. Records are produced and inserted in batches, so
a million rows go into SQLite in bounded memory.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from .._errors import ConfigurationError
from .._types import require_aware
from ..model._datamap import DataMap, RecordType

__all__ = ["SampleSummary", "generate"]

_FIRST = [
    "Ada",
    "Ahmed",
    "Aiko",
    "Alejandro",
    "Amara",
    "Ana",
    "Andrei",
    "Anouk",
    "Arjun",
    "Astrid",
    "Ayşe",
    "Beatriz",
    "Bilal",
    "Björn",
    "Camille",
    "Chen",
    "Chiara",
    "Chloé",
    "Dalia",
    "Daniel",
    "David",
    "Diego",
    "Dmitri",
    "Elena",
    "Elif",
    "Emeka",
    "Emma",
    "Farah",
    "Fatima",
    "Felix",
    "Freya",
    "Gabriel",
    "Hana",
    "Hugo",
    "Ibrahim",
    "Ines",
    "Ivan",
    "Jamal",
    "Jana",
    "João",
    "Jonas",
    "Julia",
    "Kai",
    "Karim",
    "Kenji",
    "Lars",
    "Layla",
    "Leila",
    "Liam",
    "Lina",
    "Lucas",
    "Maja",
    "Malik",
    "Marta",
    "Mateo",
    "Maya",
    "Mei",
    "Mohammed",
    "Nadia",
    "Nia",
    "Noah",
    "Nour",
    "Olga",
    "Omar",
    "Oskar",
    "Paula",
    "Pedro",
    "Priya",
    "Rafael",
    "Rania",
    "Ravi",
    "Rosa",
    "Sakura",
    "Samir",
    "Sara",
    "Sofia",
    "Sven",
    "Tariq",
    "Tomás",
    "Uma",
    "Valentina",
    "Wei",
    "Yara",
    "Yusuf",
    "Zainab",
    "Zoë",
    "Zoran",
]
_LAST = [
    "Abe",
    "Adeyemi",
    "Alvarez",
    "Andersen",
    "Bauer",
    "Becker",
    "Chen",
    "Costa",
    "Dubois",
    "Eriksson",
    "Fernandes",
    "Fischer",
    "García",
    "Gonzalez",
    "Haddad",
    "Hansen",
    "Hoffmann",
    "Ivanova",
    "Jensen",
    "Kaya",
    "Khan",
    "Kim",
    "Kowalski",
    "Larsen",
    "Lee",
    "Lopez",
    "Martin",
    "Meyer",
    "Moreau",
    "Müller",
    "Nakamura",
    "Nguyen",
    "Novak",
    "O'Brien",
    "Okafor",
    "Olsen",
    "Park",
    "Petrov",
    "Popescu",
    "Quinn",
    "Rossi",
    "Santos",
    "Schmidt",
    "Silva",
    "Singh",
    "Smith",
    "Suzuki",
    "Tanaka",
    "Yilmaz",
    "Zhang",
]
_COMPANY = [
    "Studio",
    "Clinic",
    "Coaching",
    "Consulting",
    "Tutoring",
    "Labs",
    "Legal",
    "Partners",
    "Wellness",
    "Design",
]
_SERVICES = (
    ("Intro call", 15),
    ("Consultation", 30),
    ("Strategy session", 60),
    ("Follow-up", 30),
    ("Workshop", 90),
    ("Office hours", 45),
)
_ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "Europe/London", "America/Sao_Paulo")
_LANGS = ("en", "de", "fr", "es", "pt", "ja", "ar")
_PROVIDERS = ("zoom", "google_meet", "teams", "phone", None)
_FEATURES = ("calendar_sync", "booking_page", "reminders", "payments", "team_scheduling", "export")
_DEVICES = (
    ("desktop", "Firefox"),
    ("desktop", "Chrome"),
    ("mobile", "Safari"),
    ("tablet", "Chrome"),
)
_BRANDS = ("visa", "mastercard", "amex")
_TICKET_SUBJECTS = ("Cannot sync calendar", "Refund request", "How do I add a team member?",
                    "Reminder e-mails not arriving", "Delete my account")  # fmt: skip


@attrs.frozen
class SampleSummary:
    """What :func:`generate` wrote.

    Attributes:
        counts: records inserted per record type name.
        customer_ids: every customer's user id, in order.
        closed_ids: user ids of closed accounts.
        deactivated_ids: user ids of deactivated (not closed) accounts.
        invitee_emails: every invitee e-mail address that has at least one booking.
        seed: the seed used.
        now: the instant the data ends at.
    """

    counts: dict[str, int]
    customer_ids: tuple[int, ...]
    closed_ids: tuple[int, ...]
    deactivated_ids: tuple[int, ...]
    invitee_emails: tuple[str, ...]
    seed: int
    now: dt.datetime

    @property
    def total(self) -> int:
        """Records inserted in all."""
        return sum(self.counts.values())


def _slug(text: str) -> str:
    return "".join(c for c in text.lower() if c.isascii() and c.isalnum()) or "x"


def generate(
    adapter: Any,
    datamap: DataMap,
    *,
    now: dt.datetime,
    customers: int = 100,
    bookings_per_customer: int = 20,
    invitees: int | None = None,
    events_per_customer: int = 10,
    sessions_per_customer: int = 3,
    years: int = 3,
    closed_fraction: float = 0.1,
    deactivated_fraction: float = 0.05,
    seed: int = 0,
    batch_size: int = 5000,
) -> SampleSummary:
    """Fill the example data map's record types with realistic fake data.

    Args:
        adapter: where to write; needs ``insert(record_type, records, batch_size=...)``.
        datamap: the data map (the reference example's, or one with the same record types;
            record types other than ``users`` and ``bookings`` are filled only if present, and
            only declared fields are written).
        now: the instant the data ends at (timezone-aware). Every record was created before it;
            bookings of open accounts may start after it (upcoming meetings), none of closed ones.
        customers: how many customer accounts (users).
        bookings_per_customer: bookings per customer, on average.
        invitees: size of the invitee pool shared by all hosts (default: a third of the bookings,
            so most invitees book with several hosts).
        events_per_customer: usage events per customer, on average.
        sessions_per_customer: sign-in sessions per customer, on average.
        years: how far back account creation dates reach.
        closed_fraction: share of accounts that are closed.
        deactivated_fraction: share of accounts that are deactivated (not closed).
        seed: the random seed; the same arguments give the same records.
        batch_size: records per ``insert`` call.

    Returns:
        A :class:`SampleSummary` of what was written.

    Raises:
        ConfigurationError: a count or fraction is out of range, or the adapter cannot insert.
        ValueError: ``now`` is naive.

    Example:
        >>> import datetime as dt
        >>> import privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> from privacy_kit.cli import generate
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> mem = InMemoryAdapter()
        >>> summary = generate(mem, dm, customers=5, bookings_per_customer=4,
        ...                    now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        >>> summary.counts["users"], summary.counts["bookings"]
        (5, 20)
    """
    require_aware(now, "now")
    if customers < 1 or bookings_per_customer < 0 or events_per_customer < 0:
        raise ConfigurationError("customers must be >= 1 and per-customer counts >= 0")
    if sessions_per_customer < 0 or years < 1 or batch_size < 1:
        raise ConfigurationError("sessions_per_customer >= 0, years >= 1 and batch_size >= 1")
    if not (0 <= closed_fraction <= 1 and 0 <= deactivated_fraction <= 1):
        raise ConfigurationError("closed_fraction and deactivated_fraction must be within 0..1")
    if not callable(getattr(adapter, "insert", None)):
        raise ConfigurationError(
            f"{type(adapter).__name__} has no insert(record_type, records) method to load data with"
        )
    for required in ("users", "bookings"):
        if not datamap.has_record_type(required):
            raise ConfigurationError(f"the data map has no record type {required!r}")
    pool_size = invitees if invitees is not None else max(1, customers * bookings_per_customer // 3)
    if pool_size < 1:
        raise ConfigurationError("invitees must be at least 1")

    rng = random.Random(seed)  # noqa: S311 - fake data, reproducible by design
    now = now.astimezone(dt.UTC)
    span = dt.timedelta(days=365 * years)
    counts: dict[str, int] = {}

    def write(name: str, rows: Iterable[dict[str, Any]]) -> None:
        if not datamap.has_record_type(name):
            return
        rt = datamap.record_type(name)
        counts[name] = adapter_insert(adapter, rt, rows, batch_size)

    def instant(after: dt.datetime, before: dt.datetime = now) -> dt.datetime:
        seconds = max(0, int((before - after).total_seconds()))
        return after + dt.timedelta(
            seconds=rng.randint(0, seconds), microseconds=rng.randrange(10**6)
        )

    # Users: created over the years; some closed, some deactivated, most active.
    users: list[dict[str, Any]] = []
    closed: list[int] = []
    deactivated: list[int] = []
    for uid in range(1, customers + 1):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        created = instant(now - span, now - dt.timedelta(days=1))
        roll = rng.random()
        closed_at = deactivated_at = None
        if roll < closed_fraction:
            closed_at = instant(created, now)
            closed.append(uid)
        elif roll < closed_fraction + deactivated_fraction:
            deactivated_at = instant(created, now)
            deactivated.append(uid)
        ended = closed_at or deactivated_at or now
        users.append(
            {
                "id": uid,
                "name": f"{first} {last}",
                "email": f"{_slug(first)}.{_slug(last)}{uid}@example.com",
                "time_zone": rng.choice(_ZONES),
                "language": rng.choice(_LANGS),
                "is_admin": rng.random() < 0.1,
                "created_at": created,
                "last_seen_at": instant(created, ended),
                "closed_at": closed_at,
                "deactivated_at": deactivated_at,
            }
        )
    write("users", users)

    write(
        "companies",
        (
            {
                "id": u["id"],
                "owner_id": u["id"],
                "name": f"{u['name'].split()[-1]} {rng.choice(_COMPANY)}",
                "description": "We help our clients plan and meet.",
                "website": f"https://{_slug(u['name'])}.example.com",
                "created_at": u["created_at"],
            }
            for u in users
            if rng.random() < 0.6
        ),
    )

    services: dict[int, list[int]] = {}
    service_rows: list[dict[str, Any]] = []
    for u in users:
        for title, minutes in rng.sample(_SERVICES, rng.randint(1, 3)):
            sid = len(service_rows) + 1
            services.setdefault(u["id"], []).append(sid)
            service_rows.append(
                {
                    "id": sid,
                    "owner_id": u["id"],
                    "title": title,
                    "description": f"{title} ({minutes} minutes)",
                    "duration_minutes": minutes,
                    "created_at": instant(u["created_at"], u["closed_at"] or now),
                }
            )
    write("services", service_rows)

    # The invitee pool, shared by every host.
    pool = []
    for i in range(pool_size):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        pool.append(
            (
                f"{first} {last}",
                f"{_slug(first)}.{_slug(last)}.{i}@invitee.example.org",
                f"+1555{i:07d}",
            )
        )
    used_invitees: set[str] = set()

    def bookings() -> Iterator[dict[str, Any]]:
        bid = 0
        for u in users:
            end_of_account = u["closed_at"] or u["deactivated_at"] or now
            for _ in range(bookings_per_customer):
                bid += 1
                name, email, phone = pool[rng.randrange(pool_size)]
                used_invitees.add(email)
                created = instant(u["created_at"], end_of_account)
                start = created + dt.timedelta(
                    days=rng.randint(0, 30), minutes=15 * rng.randint(0, 40)
                )
                if end_of_account is not now:  # a closed account has no upcoming meetings
                    start = min(start, end_of_account - dt.timedelta(hours=2))
                sid = rng.choice(services[u["id"]])
                minutes = service_rows[sid - 1]["duration_minutes"]
                provider = rng.choice(_PROVIDERS)
                yield {
                    "id": bid,
                    "host_id": u["id"],
                    "service_id": sid,
                    "invitee_email": email,
                    "invitee_name": name,
                    "invitee_phone": phone if rng.random() < 0.5 else None,
                    "invitee_notes": "Looking forward to it." if rng.random() < 0.3 else None,
                    "host_notes": "Returning client." if rng.random() < 0.2 else None,
                    "start_at": start,
                    "end_at": start + dt.timedelta(minutes=minutes),
                    "conferencing_provider": provider,
                    "meeting_url": f"https://meet.example.com/{bid:08x}" if provider else None,
                    "created_at": created,
                }

    write("bookings", bookings())

    def per_user(count: int, make: Any) -> Iterator[dict[str, Any]]:
        rid = 0
        for u in users:
            for _ in range(rng.randint(0, 2 * count) if count else 0):
                rid += 1
                yield make(rid, u)

    write(
        "support_tickets",
        per_user(
            1,
            lambda rid, u: {
                "id": rid,
                "user_id": u["id"],
                "subject": rng.choice(_TICKET_SUBJECTS),
                "body": f"Hello, this is {u['name']}. Could you help me, please?",
                "created_at": instant(u["created_at"], u["closed_at"] or now),
            },
        ),
    )
    write(
        "payment_methods",
        (
            {
                "id": u["id"],
                "user_id": u["id"],
                "card_brand": rng.choice(_BRANDS),
                "card_last4": f"{rng.randrange(10000):04d}",
                "card_holder": u["name"],
                "expires": f"{rng.randint(1, 12):02d}/{(now.year + rng.randint(0, 5)) % 100:02d}",
                "created_at": instant(u["created_at"], u["closed_at"] or now),
            }
            for u in users
            if rng.random() < 0.4
        ),
    )

    def session(rid: int, u: dict[str, Any]) -> dict[str, Any]:
        device, browser = rng.choice(_DEVICES)
        created = instant(u["created_at"], u["closed_at"] or u["deactivated_at"] or now)
        return {
            "id": rid,
            "user_id": u["id"],
            "ip_address": f"203.0.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            "device_type": device,
            "browser": browser,
            "cookie_id": f"{rng.getrandbits(64):016x}",
            "created_at": created,
            "last_seen_at": instant(created, min(now, created + dt.timedelta(days=30))),
        }

    write("sessions", per_user(sessions_per_customer, session))
    write(
        "usage_events",
        per_user(
            events_per_customer,
            lambda rid, u: {
                "id": rid,
                "user_id": u["id"],
                "feature": rng.choice(_FEATURES),
                "occurred_at": instant(
                    u["created_at"], u["closed_at"] or u["deactivated_at"] or now
                ),
            },
        ),
    )
    return SampleSummary(
        counts=counts,
        customer_ids=tuple(u["id"] for u in users),
        closed_ids=tuple(closed),
        deactivated_ids=tuple(deactivated),
        invitee_emails=tuple(sorted(used_invitees)),
        seed=seed,
        now=now,
    )


def adapter_insert(
    adapter: Any, record_type: RecordType, rows: Iterable[Mapping[str, Any]], batch_size: int
) -> int:
    """Insert ``rows`` (only the record type's declared fields) in batches; return how many.

    Example:
        >>> import privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> adapter_insert(InMemoryAdapter(), dm.record_type("users"), [{"id": 1, "junk": 2}], 10)
        1
    """
    names = record_type.field_names
    total = 0
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append({n: row.get(n) for n in names})
        if len(batch) >= batch_size:
            total += adapter.insert(record_type, batch, batch_size=batch_size)
            batch = []
    if batch:
        total += adapter.insert(record_type, batch, batch_size=batch_size)
    return int(total)
