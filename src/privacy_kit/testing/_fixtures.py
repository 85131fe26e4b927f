"""The conformance suite's data: a small data map and records that probe every edge an adapter meets.

Two record types: ``people`` (every field type, NULLs, unicode, quotes, an SQL-injection string,
case and trailing-space near-duplicates, the same instant written in different UTC offsets) and
``events`` (enough rows to batch). Table names take a prefix so that parallel runs against one
database server never collide.
"""

# ruff: noqa: FBT003, PLR0917 - fixture rows read best as positional tuples of field values

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from ..adapters import (
    After,
    All,
    And,
    Before,
    Eq,
    In,
    IsNull,
    Not,
    Or,
    Record,
    Selection,
)
from ..model._datamap import DataMap

__all__ = ["SELECTION_CASES", "SelectionCase", "conformance_datamap", "conformance_records"]

UTC = dt.UTC
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))  # India
NPT = dt.timezone(dt.timedelta(hours=5, minutes=45))  # Nepal
PST = dt.timezone(dt.timedelta(hours=-8))
INJECTION = '"; DROP TABLE people; --'


def conformance_datamap(prefix: str = "") -> DataMap:
    """The suite's data map; table names are ``prefix + "people"`` and ``prefix + "events"``.

    Example:
        >>> dm = conformance_datamap("t1_")
        >>> dm.record_type("people").table_name
        't1_people'
    """
    return DataMap.model_validate(
        {
            "record_types": [
                {
                    "name": "people",
                    "table": f"{prefix}people",
                    "subjects": [{"kind": "customer", "field": "id", "owner": True}],
                    "timestamps": {"created": "created_at", "closed": "closed_at"},
                    "fields": [
                        {"name": "id", "type": "integer", "personal": False},
                        {"name": "name", "categories": ["user.account.name"]},
                        {"name": "email", "categories": ["user.contact.email"]},
                        {"name": "age", "type": "integer"},
                        {"name": "score", "type": "real"},
                        {"name": "active", "type": "boolean"},
                        {"name": "created_at", "type": "timestamp", "personal": False},
                        {"name": "closed_at", "type": "timestamp", "personal": False},
                        {"name": "born", "type": "date"},
                        {"name": "tags", "type": "json"},
                    ],
                },
                {
                    "name": "events",
                    "table": f"{prefix}events",
                    "subjects": [{"kind": "customer", "field": "person_id", "owner": True}],
                    "timestamps": {"event": "occurred_at"},
                    "fields": [
                        {"name": "id", "type": "integer", "personal": False},
                        {"name": "person_id", "type": "integer"},
                        {"name": "kind"},
                        {"name": "occurred_at", "type": "timestamp"},
                    ],
                },
            ]
        }
    )


def _person(
    id: int,  # noqa: A002 - the field's name
    name: str | None,
    email: str | None,
    age: int | None,
    score: float | None,
    active: bool | None,
    created_at: dt.datetime | None,
    closed_at: dt.datetime | None = None,
    born: dt.date | None = None,
    tags: Any = None,
) -> Record:
    return {
        "id": id,
        "name": name,
        "email": email,
        "age": age,
        "score": score,
        "active": active,
        "created_at": created_at,
        "closed_at": closed_at,
        "born": born,
        "tags": tags,
    }


def conformance_records() -> dict[str, list[Record]]:
    """Fresh copies of the suite's records, keyed by record type name.

    Example:
        >>> records = conformance_records()
        >>> len(records["people"]), len(records["events"])
        (12, 30)
    """
    t = dt.datetime
    people = [
        _person(1, "Ann", "ann@example.com", 34, 1.5, True, t(2020, 1, 1, tzinfo=UTC), None,
                dt.date(1990, 1, 2), {"plan": "pro", "seats": 3}),
        # The same instant as Ann's created_at, written in India's offset.
        _person(2, "Bob", None, None, None, False, t(2020, 1, 1, 5, 30, tzinfo=IST),
                t(2023, 6, 30, 23, 59, 59, 999999, tzinfo=PST)),
        _person(3, "Zoë Ünïcødé", "zoe@exämple.com", 27, -0.25, None,
                t(2021, 3, 4, 12, 0, tzinfo=NPT), None, None, ["a", "b"]),
        _person(4, "山田太郎", "taro@example.jp", 34, 0.0, True,
                t(2019, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), t(2022, 1, 1, tzinfo=PST)),
        _person(5, "مريم", "maryam@example.com", 61, 2.75, False, t(2022, 7, 1, tzinfo=UTC)),
        _person(6, "O'Brien; \"quoted\" \\ back", "ob@example.com", 45, 3.0, True,
                t(2018, 5, 6, 7, 8, 9, 123456, tzinfo=PST), t(2024, 2, 29, 12, 0, tzinfo=IST)),
        _person(7, INJECTION, "' OR '1'='1", 18, 0.5, True, t(2023, 1, 1, tzinfo=UTC)),
        _person(8, "emoji 🙂👍🏽", None, 29, None, None, None),
        _person(9, "", "empty-name@example.com", 0, 1.0, False, t(2021, 1, 1, tzinfo=IST)),
        _person(10, None, "noname@example.com", None, 4.25, True, t(2024, 6, 1, tzinfo=UTC),
                t(2024, 6, 2, tzinfo=UTC)),
        _person(11, "ann", "ANN@example.com", 34, 1.5, None, t(2020, 1, 1, tzinfo=UTC)),
        _person(12, "Ann ", "ann.trailing@example.com", None, -7.5, False,
                t(2017, 1, 1, tzinfo=NPT), None, dt.date(2000, 2, 29)),
    ]  # fmt: skip
    offsets = [UTC, IST, PST, NPT]
    events = [
        {
            "id": 100 + i,
            "person_id": None if i % 10 == 9 else i % 7 + 1,
            "kind": ["login", "export", "booking"][i % 3],
            "occurred_at": t(2022, 1, 1, tzinfo=UTC).astimezone(offsets[i % 4])
            + dt.timedelta(days=11 * i, seconds=i),
        }
        for i in range(30)
    ]
    return {"people": people, "events": events}


@attrs.frozen
class SelectionCase:
    """One selection the suite checks: a readable id, the record type and the selection."""

    id: str
    record_type: str
    selection: Selection


_P = "people"
_T = dt.datetime
SELECTION_CASES: tuple[SelectionCase, ...] = (
    SelectionCase("all", _P, All()),
    SelectionCase("eq_int", _P, Eq("age", 34)),
    SelectionCase("eq_text_exact_case_and_spaces", _P, Eq("name", "Ann")),
    SelectionCase("eq_text_lower", _P, Eq("name", "ann")),
    SelectionCase("eq_unicode", _P, Eq("name", "山田太郎")),
    SelectionCase("eq_unicode_combining", _P, Eq("email", "zoe@exämple.com")),
    SelectionCase("eq_quotes", _P, Eq("name", 'O\'Brien; "quoted" \\ back')),
    SelectionCase("eq_injection", _P, Eq("name", INJECTION)),
    SelectionCase("eq_injection_or_true", _P, Eq("email", "' OR '1'='1")),
    SelectionCase("eq_injection_no_match", _P, Eq("name", "x' OR 1=1; --")),
    SelectionCase("eq_empty_string", _P, Eq("name", "")),
    SelectionCase("eq_null_is_unknown", _P, Eq("email", None)),
    SelectionCase("not_eq_null_is_unknown", _P, Not(Eq("email", None))),
    SelectionCase("eq_true", _P, Eq("active", True)),
    SelectionCase("eq_false", _P, Eq("active", False)),
    SelectionCase("eq_real", _P, Eq("score", 2.75)),
    SelectionCase("eq_negative_real", _P, Eq("score", -0.25)),
    SelectionCase(
        "eq_timestamp_other_offset", _P, Eq("created_at", _T(2020, 1, 1, 5, 30, tzinfo=IST))
    ),
    SelectionCase("not_eq_skips_nulls", _P, Not(Eq("age", 34))),
    SelectionCase("in_ints", _P, In("age", (27, 61, 99))),
    SelectionCase("in_empty", _P, In("age", ())),
    SelectionCase("not_in_empty_is_everything", _P, Not(In("age", ()))),
    SelectionCase("in_with_null", _P, In("age", (34, None))),
    SelectionCase("not_in_skips_nulls", _P, Not(In("age", (34, 27)))),
    SelectionCase("not_in_with_null_is_unknown", _P, Not(In("age", (34, None)))),
    SelectionCase("in_unicode", _P, In("name", ("Zoë Ünïcødé", "مريم", "nobody"))),
    SelectionCase("in_many_keys", _P, In("id", tuple(range(-300, 300)))),
    SelectionCase("not_in_many_keys", _P, Not(In("id", tuple(range(3, 600))))),
    SelectionCase("before", _P, Before("created_at", _T(2020, 6, 1, tzinfo=UTC))),
    SelectionCase("before_strict_boundary", _P, Before("created_at", _T(2020, 1, 1, tzinfo=UTC))),
    SelectionCase(
        "before_inclusive_other_offset",
        _P,
        Before("created_at", _T(2019, 12, 31, 16, 0, tzinfo=PST), inclusive=True),
    ),
    SelectionCase("after", _P, After("closed_at", _T(2022, 6, 1, tzinfo=PST))),
    SelectionCase(
        "after_inclusive_boundary",
        _P,
        After("created_at", _T(2021, 3, 4, 6, 15, tzinfo=UTC), inclusive=True),
    ),
    SelectionCase(
        "after_strict_boundary", _P, After("created_at", _T(2021, 3, 4, 6, 15, tzinfo=UTC))
    ),
    SelectionCase(
        "microsecond_boundary",
        _P,
        After("created_at", _T(2019, 12, 31, 23, 59, 59, 999998, tzinfo=UTC)),
    ),
    SelectionCase("is_null", _P, IsNull("email")),
    SelectionCase("not_null", _P, Not(IsNull("email"))),
    SelectionCase(
        "and", _P, And((Eq("active", True), After("created_at", _T(2020, 1, 1, tzinfo=UTC))))
    ),
    SelectionCase("or", _P, Or((Eq("age", 34), IsNull("age")))),
    SelectionCase("and_empty_is_everything", _P, And(())),
    SelectionCase("or_empty_is_nothing", _P, Or(())),
    SelectionCase("not_or_empty", _P, Not(Or(()))),
    SelectionCase("or_with_unknown", _P, Or((Eq("age", None), Eq("id", 1)))),
    SelectionCase("not_and_with_nulls", _P, Not(And((Eq("age", 34), Eq("active", True))))),
    SelectionCase(
        "not_or_with_nulls", _P, Not(Or((Eq("email", "ann@example.com"), Eq("age", 34))))
    ),
    SelectionCase("double_not", _P, Not(Not(Eq("active", False)))),
    SelectionCase(
        "nested",
        _P,
        Or(
            (
                And((In("age", (34, 45, 61)), Not(IsNull("closed_at")))),
                And((Before("created_at", _T(2021, 6, 1, tzinfo=NPT)), Not(Eq("active", True)))),
            )
        ),
    ),
    SelectionCase("events_by_subject", "events", Eq("person_id", 3)),
    SelectionCase("events_not_subject_skips_nulls", "events", Not(Eq("person_id", 3))),
    SelectionCase(
        "events_window",
        "events",
        And(
            (
                After("occurred_at", _T(2022, 3, 1, tzinfo=IST), inclusive=True),
                Before("occurred_at", _T(2022, 9, 1, tzinfo=PST)),
                Not(Eq("kind", "export")),
            )
        ),
    ),
)
