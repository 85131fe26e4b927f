"""The corpus of example policies: each validates clean, renders, and its promises are kept.

Every example folder under ``examples/`` (the reference scheduling service aside, tested in
test_example.py) holds ``policy.yaml``, ``datamap.yaml`` and ``schema.sql``. For each, on SQLite
and on PostgreSQL, the tables are created from ``schema.sql``, seeded by the deterministic
function below, and then:

1. a retention sweep runs at a fixed ``NOW``: each record follows the rule of its own state
   (``retention:`` lists in the data maps); the records whose trigger time plus their rule's
   duration is at or before ``NOW`` are gone, or lose exactly their blinded fields
   (``action: blind``), and only those (every other record unchanged, records kept forever
   included); a second sweep selects, changes and counts nothing;
2. one subject is erased: the records they own are gone (or kept unchanged where an exception
   with a duration keeps their fields), their fields in other people's records are anonymised,
   and every other record is untouched;
3. one subject is exported: the bundle holds exactly the records linked to them, no more and no
   fewer, and ``nothing_held`` is false.

The expectations are computed here from the seed, the data map and the rules' durations, not
read from the engine's plans.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

import privacy_kit as pk
from privacy_kit import Trigger
from privacy_kit.adapters import All, SQLiteAdapter
from privacy_kit.model import RuleChoice, retention_choices, rule_for_record

UTC = dt.UTC
NOW = dt.datetime(2026, 1, 15, 12, tzinfo=UTC)
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
Row = dict[str, Any]
Tables = dict[str, list[Row]]


def at(y: int, m: int, d: int, h: int = 9) -> dt.datetime:
    return dt.datetime(y, m, d, h, tzinfo=UTC)


# == the seeds =====================================================================================
def seed_project_management() -> Tables:
    """Worklane: Ada (open), Ben (closed long ago), Cleo (closed two weeks ago), Dev (open)."""
    people = [
        (1, "Ada Lovelace", "ada@worklane.example", None),
        (2, "Ben Okoro", "ben@worklane.example", at(2025, 11, 1)),
        (3, "Cleo Park", "cleo@worklane.example", at(2026, 1, 1)),
        (4, "Dev Shah", "dev@worklane.example", None),
    ]
    tables: Tables = {
        "people": [
            {
                "id": i,
                "name": name,
                "email": email,
                "time_zone": "Europe/Paris",
                "created_at": at(2023, 1, i),
                "last_seen_at": closed or at(2026, 1, 10),
                "closed_at": closed,
            }
            for i, name, email, closed in people
        ],
        "sign_ins": [],
        "signups": [
            {
                "id": 500 + i,
                "person_id": i,
                "ip_address": f"192.0.2.{i}",
                "signed_up_at": at(2023, 1, i),
            }
            for i, *_ in people
        ],
        "items": [],
        "chat_lines": [],
        "charges": [],
        "page_views": [],
    }
    for i, *_ in people:
        tables["chat_lines"].extend(
            {
                "id": 700 + 10 * i + j,
                "author_id": i,
                "room": "general",
                "body": f"Line {j} by {i}",
                "posted_at": at(2025, 10, 5 + j),
            }
            for j in range(2)
        )
        for j in range(2):
            tables["sign_ins"].append(
                {
                    "id": 10 * i + j,
                    "person_id": i,
                    "ip_address": f"203.0.113.{10 * i + j}",
                    "user_agent": "Firefox on Linux",
                    "signed_in_at": at(2025, 10, 1 + j),
                }
            )
            tables["items"].append(
                {
                    "id": 100 * i + j,
                    "creator_id": i,
                    "project": "Launch",
                    "kind": "todo" if j else "message",
                    "title": f"Item {j} by {i}",
                    "body": "Details",
                    "created_at": at(2025, 6, 1 + j),
                    "trashed_at": at(2025, 12, 1) if j else None,
                }
            )
        tables["charges"].extend(
            {
                "id": 1000 * i + k,
                "payer_id": i,
                "amount_cents": 1500,
                "currency": "EUR",
                "card_brand": "visa",
                "card_last4": "4242",
                "card_expiry": "12/27",
                "billing_address": f"{i} Rue Exemple, Lyon",
                "charged_at": charged,
            }
            for k, charged in enumerate((at(2018, 6, 1), at(2019, 2, 1), at(2025, 12, 1)))
        )
    for k in range(6):
        viewed = at(2025, 12, 1 + k) if k < 3 else at(2026, 1, 5 + k)
        tables["page_views"].append(
            {
                "id": k + 1,
                "visitor_id": f"v-{k % 2}",
                "ip_address": f"198.51.100.{k}",
                "page": "/pricing",
                "referrer": "https://search.example",
                "browser": "Safari",
                "viewed_at": viewed,
            }
        )
    return tables


def seed_email_service() -> Tables:
    """Postvault: Amal (open), Bruno (deleted his account), Chen (open, erased in the test)."""
    accounts = [(1, "amal", None), (2, "bruno", at(2025, 12, 20)), (3, "chen", None)]
    tables: Tables = {
        "accounts": [
            {
                "id": i,
                "username": name,
                "address": f"{name}@postvault.example",
                "recovery_email": f"{name}@elsewhere.example" if i != 3 else None,
                "plan": "free" if i % 2 else "paid",
                "storage_bytes": 1000 * i,
                "created_at": at(2024, 1, i),
                "last_login_at": closed or at(2026, 1, 12),
                "closed_at": closed,
            }
            for i, name, closed in accounts
        ],
        "messages": [],
        "signup_checks": [],
        "payments": [],
        "support_messages": [],
    }
    for i, name, _ in accounts:
        tables["messages"].extend(
            {
                "id": 10 * i + j,
                "account_id": i,
                "folder": "inbox",
                "sender": f"friend{j}@example.org",
                "recipients": f"{name}@postvault.example",
                "subject": f"Hello {j}",
                "body_ciphertext": "-----BEGIN PGP MESSAGE-----",
                "received_at": at(2025, 9, 1 + j),
            }
            for j in range(3)
        )
        tables["signup_checks"].extend(
            {
                "id": 100 * i + j,
                "account_id": i,
                "method": "sms" if j else "captcha",
                "ip_address": f"192.0.2.{i}",
                "phone": "+41 79 000 00 00" if j else None,
                "checked_at": at(2025, 11, 1) if j else at(2026, 1, 2),
            }
            for j in range(2)
        )
        tables["payments"].extend(
            {
                "id": 1000 * i + j,
                "account_id": i,
                "amount_cents": 499,
                "card_last4": "1881",
                "paid_at": paid,
            }
            for j, paid in enumerate((at(2015, 3, 1), at(2024, 3, 1)))
        )
        tables["support_messages"].extend(
            {
                "id": 10000 * i + j,
                "account_id": i,
                "from_address": f"{name}@postvault.example",
                "body": "My filters stopped working.",
                "written_at": written,
            }
            for j, written in enumerate((at(2023, 5, 1), at(2025, 5, 1)))
        )
    return tables


def seed_mobile_app() -> Tables:
    """Lingofox: Mia (open, subscriber, two devices), Noor (deleted her account), Omar (open, erased)."""
    learners = [(1, "Mia", None), (2, "Noor", at(2026, 1, 3)), (3, "Omar", None)]
    tables: Tables = {
        "learners": [
            {
                "id": i,
                "display_name": name,
                "email": f"{name.lower()}@mail.example",
                "age_range": "18-24",
                "created_at": at(2024, 2, i),
                "last_active_at": closed or at(2026, 1, 14),
                "closed_at": closed,
            }
            for i, name, closed in learners
        ],
        "lessons": [],
        "app_sessions": [],
        "ad_impressions": [],
        "purchases": [],
    }
    for i, _, _ in learners:
        tables["lessons"].extend(
            {
                "id": 10 * i + j,
                "learner_id": i,
                "course": "es",
                "score": 80 + j,
                "completed_at": at(2025, 8, 1 + j),
            }
            for j in range(2)
        )
        for j in range(2):  # one old session, one recent, each on its own device
            ad_id = f"ad-{i}-{j}"
            tables["app_sessions"].append(
                {
                    "id": 100 * i + j,
                    "learner_id": i,
                    "advertising_id": ad_id,
                    "ip_address": f"198.51.100.{i}",
                    "device_model": "Pixel 8",
                    "region": "FR-IDF",
                    "subscriber": i == 1,
                    "started_at": at(2025, 11, 1) if j == 0 else at(2026, 1, 10),
                }
            )
            tables["ad_impressions"].extend(
                {
                    "id": 1000 * i + 10 * j + k,
                    "learner_id": i,
                    "advertising_id": ad_id,
                    "network": "network-a",
                    "placement": "after_lesson",
                    "clicked": k == 0,
                    "shown_at": at(2025, 9, 1) if k == 0 else at(2025, 12, 20),
                }
                for k in range(2)
            )
        tables["purchases"].extend(
            {
                "id": 10000 * i + j,
                "learner_id": i,
                "product": "plus_yearly",
                "price_cents": 8399,
                "store_receipt": f"GPA.{i}{j}",
                "purchased_at": bought,
            }
            for j, bought in enumerate((at(2018, 1, 10), at(2025, 1, 10)))
        )
    return tables


def seed_marketplace() -> Tables:
    """Makersquare: Sana sells; Theo buys (erased); Uma sold and bought, then left; Vik buys."""
    members = [
        (1, "sana", None),
        (2, "theo", None),
        (3, "uma", at(2025, 10, 1)),
        (4, "vik", None),
    ]
    tables: Tables = {
        "members": [
            {
                "id": i,
                "username": name,
                "full_name": name.title() + " Example",
                "email": f"{name}@mail.example",
                "created_at": at(2016, 1, i),
                "last_seen_at": closed or at(2026, 1, 11),
                "closed_at": closed,
            }
            for i, name, closed in members
        ],
        "shops": [
            {
                "id": 10 * i,
                "owner_id": i,
                "shop_name": f"{i}'s workshop",
                "about": "Hand-thrown mugs",
                "ships_from": "PT",
                "opened_at": at(2016, 2, i),
            }
            for i in (1, 3)
        ],
        "orders": [],
        "reviews": [],
    }
    n = 0
    for seller in (1, 3):
        for buyer in (2, 3, 4):
            if buyer == seller:
                continue
            for placed in (at(2017, 3, 1), at(2025, 3, 1)):
                n += 1
                tables["orders"].append(
                    {
                        "id": n,
                        "buyer_id": buyer,
                        "seller_id": seller,
                        "ship_to_name": f"Buyer {buyer}",
                        "ship_to_address": f"{buyer} Rua Exemplo, Porto",
                        "note_to_seller": "Blue glaze, please" if buyer == 2 else None,
                        "items": "1 mug",
                        "total_cents": 2800,
                        "placed_at": placed,
                    }
                )
    tables["reviews"] = [
        {
            "id": 100 + k,
            "author_id": author,
            "shop_id": shop,
            "rating": 5,
            "body": "Lovely work",
            "written_at": at(2025, 4, 1 + k),
        }
        for k, (author, shop) in enumerate(((2, 10), (3, 10), (4, 10), (2, 30)))
    ]
    return tables


# == the scenarios =================================================================================
@attrs.frozen
class Scenario:
    """An example folder, its seed, and the subjects erased and exported."""

    name: str
    seed: Callable[[], Tables]
    erase: pk.Subject
    export: pk.Subject
    minimum_export: Mapping[str, int]  # record type -> at least this many exported records

    @property
    def folder(self) -> Path:
        return EXAMPLES / self.name


SCENARIOS = (
    Scenario(
        "project_management",
        seed_project_management,
        erase=pk.Subject.of("customer", user_id=4),
        export=pk.Subject.of("customer", email="ADA@worklane.example"),
        minimum_export={
            "people": 1,
            "signups": 1,
            "sign_ins": 2,
            "items": 1,
            "chat_lines": 2,
            "charges": 1,
        },
    ),
    Scenario(
        "email_service",
        seed_email_service,
        erase=pk.Subject.of("customer", user_id=3),
        export=pk.Subject.of("customer", email="Amal@Postvault.example"),
        minimum_export={"accounts": 1, "messages": 3, "payments": 1, "support_messages": 1},
    ),
    Scenario(
        "mobile_app",
        seed_mobile_app,
        erase=pk.Subject.of("customer", user_id=3),
        export=pk.Subject.of("customer", user_id=1),
        minimum_export={"learners": 1, "lessons": 2, "app_sessions": 1, "ad_impressions": 2},
    ),
    Scenario(
        "marketplace",
        seed_marketplace,
        erase=pk.Subject.of("customer", user_id=2),
        export=pk.Subject.of("customer", email="sana@mail.example"),
        minimum_export={"members": 1, "shops": 1, "orders": 2},
    ),
)


def load(scenario: Scenario) -> tuple[pk.Policy, pk.DataMap]:
    policy = pk.load_policy(scenario.folder / "policy.yaml")
    return policy, pk.load_datamap(scenario.folder / "datamap.yaml", policy=policy)


def test_every_example_folder_is_in_the_corpus() -> None:
    folders = {p.name for p in EXAMPLES.iterdir() if p.is_dir()} - {"scheduling_service"}
    assert folders == {s.name for s in SCENARIOS}
    for scenario in SCENARIOS:
        assert {"policy.yaml", "datamap.yaml", "schema.sql"} <= {
            p.name for p in scenario.folder.iterdir()
        }


# == validation and notices ========================================================================
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_validates_with_no_findings(scenario: Scenario) -> None:
    policy, datamap = load(scenario)
    report = pk.check(policy, datamap)
    assert [str(f) for f in report.findings] == []  # not even an informational one
    assert report.ok


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_renders_a_notice_in_each_of_its_languages(scenario: Scenario) -> None:
    policy, _ = load(scenario)
    for lang in policy.languages:
        text = pk.render_notice(policy, lang=lang)
        assert policy.title.get_text(lang) in text
        for rule in policy.retention:
            assert " ".join(rule.description.get_text(lang).split()[:4]) in text


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_notice_carries_no_word_of_the_reference_domain(scenario: Scenario) -> None:
    policy, _ = load(scenario)
    for lang in policy.languages:
        text = pk.render_notice(policy, lang=lang).lower()
        for word in ("meeting", "booking", "invitee", "appointment", "calendar"):
            assert word not in text, word


# == the databases =================================================================================
def ddl(scenario: Scenario) -> list[str]:
    text = "\n".join(
        line
        for line in (scenario.folder / "schema.sql").read_text().splitlines()
        if not line.lstrip().startswith("--")
    )
    return [s.strip() for s in text.split(";") if s.strip()]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[Scenario], Any]]:
    """A factory: the scenario's tables created from schema.sql, as an adapter."""
    made: list[Callable[[], None]] = []

    def sqlite(scenario: Scenario) -> Any:
        adapter = SQLiteAdapter(tmp_path / f"{scenario.name}.db")
        for statement in ddl(scenario):
            adapter.connection.execute(statement)
        adapter.connection.commit()
        made.append(adapter.close)
        return adapter

    def postgres(scenario: Scenario) -> Any:
        sa = pytest.importorskip("sqlalchemy")
        from privacy_kit.adapters import SQLAlchemyAdapter

        engine = request.getfixturevalue("postgres_engine")
        schema = f"i14ex_{scenario.name}_{uuid.uuid4().hex[:8]}"
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            conn.execute(sa.text(f'SET LOCAL search_path TO "{schema}"'))
            for statement in ddl(scenario):
                conn.execute(sa.text(statement))

        def drop() -> None:
            with engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))

        made.append(drop)
        return SQLAlchemyAdapter(engine, schema=schema)

    yield sqlite if request.param == "sqlite" else postgres
    for undo in reversed(made):
        undo()


def snapshot(adapter: Any, datamap: pk.DataMap) -> dict[str, dict[Any, Row]]:
    out: dict[str, dict[Any, Row]] = {}
    for rt in datamap.record_types:
        rows: dict[Any, Row] = {}
        for batch in adapter.iter_records(rt, All()):
            for record in batch:
                rows[record[rt.primary_key]] = dict(record)
        out[rt.name] = rows
    return out


# == the oracles ===================================================================================
def covers(held: tuple[str, ...], named: tuple[str, ...]) -> bool:
    """Whether a category held is one named, or below one (``user.contact.email`` in ``user.contact``)."""
    return any(c == k or c.startswith(k + ".") for c in held for k in named)


def trigger_time(
    rt: pk.RecordType,
    row: Row,
    choice: RuleChoice,
    state: Mapping[str, Mapping[Any, Row]],
    datamap: pk.DataMap,
) -> dt.datetime | None:
    trigger = choice.rule.trigger
    own = choice.trigger_field or rt.time_field(trigger)
    if own is not None:
        value: dt.datetime | None = row[own]
        return value
    assert trigger in (Trigger.ACCOUNT_CLOSED, Trigger.ACCOUNT_DEACTIVATED), (rt.name, trigger)
    assert rt.account is not None, rt.name
    account_rt = datamap.record_type(rt.account.record_type)
    account = state[account_rt.name].get(row[rt.account.field])
    if account is None:
        return None
    field = account_rt.time_field(trigger)
    assert field is not None
    return account[field]


def blinded_fields(rt: pk.RecordType, rule: pk.RetentionRule) -> set[str]:
    """The fields a blind rule clears in ``rt`` (every one NULL-anonymised in the examples)."""
    fields = {f.name for f in rt.fields if covers(f.categories, rule.blind)}
    assert all(rt.field(f).anonymize is None for f in fields), "the oracle knows NULL only"
    return fields


def expired(
    engine: pk.Engine, state: Mapping[str, Mapping[Any, Row]]
) -> dict[str, dict[Any, set[str] | None]]:
    """Per record type, the records a sweep at NOW changes: key -> None (deleted) or the fields
    it blinds. Each record follows the rule of its own state; a rule kept forever changes
    nothing; a record already blinded is not changed again."""
    out: dict[str, dict[Any, set[str] | None]] = {}
    for rt in engine.datamap.record_types:
        out[rt.name] = {}
        for key, row in state[rt.name].items():
            choice = rule_for_record(engine.policy, rt, row)
            assert choice is not None, (rt.name, key)
            rule = choice.rule
            assert rule.override is None, "the oracle knows no overrides"
            if rule.indefinite:
                continue
            start = trigger_time(rt, row, choice, state, engine.datamap)
            if start is None:
                continue
            end = rule.duration.after(start) if rule.duration is not None else start
            if end > NOW:
                continue
            if rule.action is pk.RetentionAction.DELETE:
                out[rt.name][key] = None
            else:
                assert rule.action is pk.RetentionAction.BLIND, "the oracle knows delete and blind"
                fields = blinded_fields(rt, rule)
                if any(row[f] is not None for f in fields):
                    out[rt.name][key] = fields
    return out


def kept_forever(engine: pk.Engine, rt: pk.RecordType) -> bool:
    """Whether every rule of ``rt`` keeps its records forever (then no sweep changes any)."""
    return all(c.rule.indefinite for c in retention_choices(engine.policy, rt))


def same(held: Any, value: Any) -> bool:
    if held is None or value is None:
        return False
    if isinstance(held, str) and isinstance(value, str):
        return held.lower() == value.lower()
    return bool(held == value)


def links_of(
    subject: pk.Subject,
    rt: pk.RecordType,
    row: Row,
    datamap: pk.DataMap,
    identities: Mapping[str, Any],
) -> list[pk.SubjectLink]:
    """The links of ``rt`` by which ``row`` concerns the subject known by ``identities``."""
    found = []
    for link in rt.subjects:
        if link.kind != subject.kind and link.identity not in datamap.person_identities:
            continue
        pairs = [(link.identity, link.field), *link.extra_identities.items()]
        if any(same(row.get(field), identities.get(name)) for name, field in pairs):
            found.append(link)
    return found


def identities_of(
    subject: pk.Subject, datamap: pk.DataMap, state: Mapping[str, Mapping[Any, Row]]
) -> dict[str, Any]:
    """The subject's identities, with those their own records add (``extra_identities``)."""
    known = dict(subject.identities)
    for rt in datamap.record_types:
        for link in rt.subjects:
            if link.kind != subject.kind or not link.extra_identities:
                continue
            for row in state[rt.name].values():
                pairs = [(link.identity, link.field), *link.extra_identities.items()]
                if any(same(row.get(field), known.get(name)) for name, field in pairs):
                    for name, field in pairs:
                        if row.get(field) is not None:
                            known.setdefault(name, row[field])
    return known


# == the promises ==================================================================================
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_retention_erasure_and_export_keep_every_promise(
    scenario: Scenario, backend: Callable[[Scenario], Any], tmp_path: Path
) -> None:
    policy, datamap = load(scenario)
    adapter = backend(scenario)
    seed = scenario.seed()
    assert set(seed) == {rt.table_name for rt in datamap.record_types}
    for rt in datamap.record_types:
        adapter.insert(rt, seed[rt.table_name])
    engine = pk.Engine(policy, datamap, adapter, secret=b"corpus-secret-0123456789abcdef")

    # 1. retention: exactly the expired records go (or lose their blinded fields); nothing else
    #    changes; a second sweep selects, changes and counts nothing
    before = snapshot(adapter, datamap)
    due = expired(engine, before)
    plan = engine.plan_retention(now=NOW)
    assert plan.total_orphans == 0
    report = engine.apply(plan)
    after = snapshot(adapter, datamap)
    for rt in datamap.record_types:
        changes = due[rt.name]
        gone = set(before[rt.name]) - set(after[rt.name])
        assert gone == {k for k, v in changes.items() if v is None}, rt.name
        assert changes or kept_forever(engine, rt), f"the seed expires nothing in {rt.name}"
        assert after[rt.name], f"the seed keeps nothing in {rt.name}"
        for key, row in after[rt.name].items():
            blinded = changes.get(key) or set()
            expected = {**before[rt.name][key], **dict.fromkeys(blinded, None)}
            assert row == expected, (rt.name, key)
    assert report.total == sum(len(c) for c in due.values())
    again = engine.plan_retention(now=NOW)
    assert again.total == 0
    assert engine.apply(again).total == 0
    assert snapshot(adapter, datamap) == after

    # 2. erasure of one subject
    before = after
    who = identities_of(scenario.erase, datamap, before)
    erasure = engine.plan_erasure(scenario.erase, now=NOW)
    assert not erasure.nothing_held
    engine.apply(erasure)
    after = snapshot(adapter, datamap)
    touched = 0
    for rt in datamap.record_types:
        assert set(after[rt.name]) <= set(before[rt.name]), rt.name  # nothing added
        for key, row in before[rt.name].items():
            rule = engine.rule_for(rt, row)  # with rules by state: the row's state's rule
            keeps = [e for e in (rule.exceptions if rule else ()) if e.duration is not None]
            kept_fields = {
                f.name
                for e in keeps
                for f in rt.fields
                if rule is not None and covers(f.categories, e.categories or rule.categories)
            }
            links = links_of(scenario.erase, rt, row, datamap, who)
            if not links:
                assert after[rt.name].get(key) == row, (rt.name, key)  # others untouched
                continue
            touched += 1
            owned = any(link.owner for link in links) or len(rt.subjects) == 1
            if owned and not kept_fields:
                assert key not in after[rt.name], (rt.name, key)
            elif owned:
                now_row = after[rt.name][key]
                for name in kept_fields:
                    assert now_row[name] == row[name], (rt.name, key, name)
            else:  # another party's record: only the subject's own fields change
                now_row = after[rt.name][key]
                roles = {link.role for link in links}
                mine = {f.name for f in rt.fields if f.party in roles} | {
                    link.field for link in links
                }
                for field in rt.fields:
                    if field.name in mine:
                        if row[field.name] is not None:
                            assert now_row[field.name] != row[field.name], (
                                rt.name,
                                key,
                                field.name,
                            )
                    else:
                        assert now_row[field.name] == row[field.name], (rt.name, key, field.name)
    assert touched, "the erased subject held nothing"

    # 3. export of another subject: exactly their records
    state = after
    who = identities_of(scenario.export, datamap, state)
    result = engine.export(scenario.export, tmp_path / "export", format="folder", now=NOW)
    assert not result.nothing_held
    exported: dict[str, set[Any]] = {}
    for entry in result.counts:
        name = entry.split(".")[0]
        rt = datamap.record_type(name)
        records = json.loads((result.path / "records" / f"{entry}.json").read_text())
        assert len(records) == result.counts[entry]
        exported.setdefault(name, set()).update(r[rt.primary_key] for r in records)
    for rt in datamap.record_types:
        expected = {
            key
            for key, row in state[rt.name].items()
            if links_of(scenario.export, rt, row, datamap, who)
        }
        assert exported.get(rt.name, set()) == expected, rt.name
    for name, least in scenario.minimum_export.items():
        assert len(exported.get(name, ())) >= least, name


# == the issue-14 promises, one by one =============================================================
def scenario_named(name: str) -> Scenario:
    return next(s for s in SCENARIOS if s.name == name)


def seeded(name: str, backend: Callable[[Scenario], Any]) -> tuple[pk.Engine, Any, pk.DataMap]:
    scenario = scenario_named(name)
    policy, datamap = load(scenario)
    adapter = backend(scenario)
    seed = scenario.seed()
    for rt in datamap.record_types:
        adapter.insert(rt, seed[rt.table_name])
    engine = pk.Engine(policy, datamap, adapter, secret=b"corpus-secret-0123456789abcdef")
    return engine, adapter, datamap


def test_project_management_sign_up_ip_is_kept_forever_and_said_so(
    backend: Callable[[Scenario], Any],
) -> None:
    engine, adapter, datamap = seeded("project_management", backend)
    signups = datamap.record_type("signups")
    before = snapshot(adapter, datamap)["signups"]
    plan = engine.plan_retention(now=NOW)
    assert [k.rule for k in plan.kept_indefinitely] == ["signup_ip"]
    assert "spam sign-ups" in plan.kept_indefinitely[0].describe()
    report = engine.apply(plan)
    assert [k.rule for k in report.kept_indefinitely] == ["signup_ip"]
    # Ben's account closed long ago: his sign-ins are gone, his sign-up address is not
    after = snapshot(adapter, datamap)
    assert after["signups"] == before
    assert not [r for r in after["sign_ins"].values() if r["person_id"] == 2]
    fate = engine.fate(signups, 502, now=NOW)
    assert fate.kept_indefinitely is not None
    assert fate.expires_at is None
    assert "kept indefinitely" in fate.sentence
    assert "spam sign-ups" in fate.sentence
    assert fate.gone_from_backups_by is None
    # ten years on, still there
    later = engine.plan_retention(now=NOW.replace(year=2036))
    assert not [e for e in later.entries if e.record_type == "signups"]


def test_project_management_trash_follows_its_own_rule_and_a_restore_wins(
    backend: Callable[[Scenario], Any],
) -> None:
    engine, adapter, datamap = seeded("project_management", backend)
    items = datamap.record_type("items")
    before = snapshot(adapter, datamap)["items"]
    # the outer bound of a trashed item: 30 days in the trash + 30 to purge + 30 of backups
    trashed = before[101]
    assert trashed["trashed_at"] == at(2025, 12, 1)
    fate = engine.fate(items, trashed, now=NOW)
    assert fate.rule == "trashed_items"
    assert fate.expired
    assert fate.expires_at == at(2025, 12, 31)
    assert fate.gone_from_live_by == at(2026, 1, 30)
    assert fate.gone_from_backups_by == at(2026, 3, 1)
    # a live item of an open account follows the account: no date yet
    live = engine.fate(items, before[100], now=NOW)
    assert live.rule == "project_content"
    assert live.expires_at is None
    # a live item of an account closed on 2026-01-01: 30 days, then 30 days of backups
    cleo = engine.fate(items, before[300], now=NOW)
    assert cleo.rule == "project_content"
    assert cleo.expires_at == at(2026, 1, 31)
    assert cleo.gone_from_backups_by == at(2026, 3, 2)
    plan = engine.plan_retention(now=NOW)
    trash_entries = [
        e for e in plan.entries if e.record_type == "items" and e.rule == "trashed_items"
    ]
    assert trash_entries
    assert all(e.gone_from_backups_by is not None for e in trash_entries)
    # Ada restores her trashed item after the plan was made: the sweep must not delete it
    assert adapter.update_by_key(items, [(101, {"trashed_at": None})]) == 1
    engine.apply(plan)
    after = snapshot(adapter, datamap)["items"]
    assert after[101] == {**trashed, "trashed_at": None}
    # every other trashed item went by the trash rule, though its account is open
    assert {k for k in before if k % 100 == 1} - set(after) == {201, 301, 401}
    # live items follow their account: Ben's (closed 2025-11-01) gone, the others kept
    assert {k for k in before if k % 100 == 0} - set(after) == {200}


@pytest.mark.parametrize(
    ("name", "record_type", "kept", "cleared"),
    [
        (
            "project_management",
            "page_views",
            ("page", "referrer", "browser", "viewed_at"),
            ("visitor_id", "ip_address"),
        ),
        (
            "mobile_app",
            "ad_impressions",
            ("network", "placement", "clicked", "shown_at"),
            ("learner_id", "advertising_id"),
        ),
    ],
)
def test_blinded_rows_keep_what_is_not_personal_and_a_second_sweep_counts_nothing(
    backend: Callable[[Scenario], Any],
    name: str,
    record_type: str,
    kept: tuple[str, ...],
    cleared: tuple[str, ...],
) -> None:
    engine, adapter, datamap = seeded(name, backend)
    before = snapshot(adapter, datamap)[record_type]
    report = engine.apply(engine.plan_retention(now=NOW))
    after = snapshot(adapter, datamap)[record_type]
    assert set(after) == set(before)  # blinded, never deleted
    rt = datamap.record_type(record_type)
    rule = rule_for_record(engine.policy, rt, next(iter(before.values())))
    assert rule is not None
    old = {
        k
        for k, r in before.items()
        if rule.rule.duration.after(r[rt.time_field(Trigger.CREATED)]) <= NOW
    }
    assert old
    assert old != set(before)
    for key, row in after.items():
        for f in kept:
            assert row[f] == before[key][f], (key, f)
        for f in cleared:
            assert (row[f] is None) == (key in old), (key, f)
    assert report.counts()[rule.rule.key] == {"anonymize": len(old)}
    second = engine.apply(engine.plan_retention(now=NOW))
    assert second.total == 0
    assert snapshot(adapter, datamap)[record_type] == after


def test_mobile_app_subscribers_connection_records_are_kept_longer(
    backend: Callable[[Scenario], Any],
) -> None:
    engine, adapter, datamap = seeded("mobile_app", backend)
    sessions = datamap.record_type("app_sessions")
    before = snapshot(adapter, datamap)["app_sessions"]
    assert engine.fate(sessions, before[100], now=NOW).rule == "subscriber_connections"
    assert engine.fate(sessions, before[200], now=NOW).rule == "connection_records"
    engine.apply(engine.plan_retention(now=NOW))
    after = snapshot(adapter, datamap)["app_sessions"]
    assert 100 in after  # Mia subscribes: her November session stays for a year
    assert 200 not in after
    assert 300 not in after


# -- identity rules and disclosure conditions (the request workflow and the disclosure log) --
T = dt.datetime(2026, 1, 15, 12, tzinfo=UTC)


def test_project_management_identity_needs_two_pieces_with_the_email_and_signed_agent_proof() -> (
    None
):
    policy, _ = load(scenario_named("project_management"))

    def request(by_agent: bool = False) -> pk.DataSubjectRequest:
        return pk.DataSubjectRequest.for_policy(
            policy,
            "erasure",
            "customer",
            {"email": "ada@worklane.example"},
            country="JP",
            received_at=T,
            by_agent=by_agent,
        )

    r = request()
    assert r.has_deadline
    assert r.deadline is not None
    with pytest.raises(pk.RequestError, match="at least 2"):
        r.verify(now=T, pieces=["email"])
    with pytest.raises(pk.RequestError, match="email"):
        r.verify(now=T, pieces=["name", "billing_address"])
    assert r.verify(now=T, pieces=["email", "name"]).identity_check is not None
    agent = request(by_agent=True)
    with pytest.raises(pk.RequestError, match="signed_permission"):
        agent.verify(now=T, pieces=["email", "name"], proofs=["written_permission"])
    done = agent.verify(
        now=T, pieces=["email", "name"], proofs=["written_permission", "signed_permission"]
    )
    assert done.identity_check is not None


def test_email_service_agents_are_not_provided_for() -> None:
    policy, _ = load(scenario_named("email_service"))
    r = pk.DataSubjectRequest.for_policy(
        policy,
        "access",
        "customer",
        {"email": "amal@postvault.example"},
        country="CH",
        received_at=T,
        by_agent=True,
    )
    with pytest.raises(pk.RequestError):
        r.verify(now=T, pieces=["email"], proofs=["written_permission"])


@pytest.mark.parametrize(
    ("name", "process"),
    [
        ("project_management", "warrant"),
        ("email_service", "court_order"),
        ("marketplace", "subpoena"),
    ],
)
def test_authorities_receive_data_only_under_legal_process_and_the_person_is_told(
    name: str, process: str
) -> None:
    policy, _ = load(scenario_named(name))
    log = pk.DisclosureLog(policy)
    police = {
        "recipient": "authorities",
        "subject_ref": "subj_1",
        "subject_kind": "customer",
        "categories": ["user.device.ip_address" if name != "marketplace" else "user.contact.email"],
        "purpose": "legal.obligation",
        "at": T,
    }
    with pytest.raises(pk.DisclosureError, match="legal process"):
        log.record(**police)
    with pytest.raises(pk.ConfigurationError, match="unknown legal process"):
        log.record(**police, legal_process="informal_request")
    if name == "email_service":  # only a court order will do
        with pytest.raises(pk.DisclosureError):
            log.record(**police, legal_process="subpoena")
    d = log.record(**police, legal_process=process)
    assert d.notification == "pending"
    assert [e.seq for e in log.pending_notifications()] == [d.seq]
    log.record_notification(d.seq, at=T, prohibited="a court order forbids telling them for now")
    assert log.pending_notifications() == ()


@pytest.mark.parametrize("name", ["project_management", "marketplace"])
def test_a_business_transfer_needs_the_notice_sent_first(name: str) -> None:
    policy, _ = load(scenario_named(name))
    log = pk.DisclosureLog(policy)
    transfer = {
        "recipient": "acquirer",
        "subject_kind": "customer",
        "categories": ["user.contact.email"],
        "purpose": "legal.obligation",
        "at": T,
    }
    with pytest.raises(pk.DisclosureError):
        log.record(**transfer)
    with pytest.raises(pk.DisclosureError):
        log.record(**transfer, transfer_notice_sent_at=T + dt.timedelta(days=1))
    assert log.record(**transfer, transfer_notice_sent_at=T - dt.timedelta(days=60))


# -- the notices say exactly what is declared --
@pytest.mark.parametrize(
    ("name", "says", "never"),
    [
        (
            "project_management",
            [
                "Do Not Track",
                "We do not act on Do Not Track",
                "What we do not collect",
                "at most 90 days after",
                "at least 2 pieces of information",
                "signed permission",
                "a warrant, a subpoena or a court order",
                "unless the law forbids us",
                "We tell you before your data is transferred",
                "Worklane Chat",
                "everyone, wherever they live",
                "We reply within 30 days",
            ],
            [
                "Global Privacy Control",
                "If your data is exposed",
                "## Children",
                "deleted when",
                "archiving",
            ],
        ),
        (
            "email_service",
            [
                "only when we receive a court order",
                "unless the law forbids us",
                "everyone, wherever they live",
            ],
            [
                "Do Not Track",
                "Global Privacy Control",
                "If your data is exposed",
                "What we do not collect",
            ],
        ),
        (
            "mobile_app",
            [
                "Global Privacy Control",
                "In California",
                "## Children",
                "Ad records that no longer name anyone are kept indefinitely",
            ],
            ["Do Not Track", "If your data is exposed", "everyone, wherever they live"],
        ),
        (
            "marketplace",
            [
                "a subpoena, a court order or a warrant",
                "We tell you before your data is transferred",
                "a person reviews every order",
                "## Children",
            ],
            ["Do Not Track", "Global Privacy Control", "If your data is exposed"],
        ),
    ],
)
def test_each_notice_states_exactly_its_promises(
    name: str, says: list[str], never: list[str]
) -> None:
    policy, _ = load(scenario_named(name))
    text = pk.render_notice(policy, lang="en")
    for phrase in says:
        assert phrase in text, phrase
    for phrase in never:
        assert phrase not in text, phrase


def test_the_sign_up_ip_is_stated_kept_indefinitely_once_with_no_removal_bound() -> None:
    policy, _ = load(scenario_named("project_management"))
    text = pk.render_notice(policy, lang="en")
    section = text.split("The IP address an account was created from", 1)[1].split("###", 1)[0]
    assert "**Kept**: indefinitely" in section
    assert "spam sign-ups" in section
    assert "Removal" not in section
    assert "at most" not in section
    assert "deleted" not in section
    # the records of processing name one rule per category: without the sign-in rule, the IP
    # address's rule is the sign-up one, stated with no outer bound either
    data = policy.model_dump(mode="json", exclude_none=True)
    data["retention"] = [r for r in data["retention"] if r["key"] != "login_records"]
    ropa = pk.records_of_processing(pk.load_policy(data))
    lines = {ln for a in ropa.activities for ln in a.erasure_time_limits}
    forever = [ln for ln in lines if ln.startswith("signup_ip")]
    assert forever == [
        "signup_ip: kept indefinitely (We use it to recognise and stop spam sign-ups.)"
    ]
