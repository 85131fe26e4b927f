"""Property: any selection over any rows selects the same records in memory and in SQLite.

The in-memory adapter evaluates selections in Python with SQL's three-valued logic; the SQLite
adapter compiles them to SQL. Random rows (with NULLs, unicode, timestamps in several offsets)
and random nested selections must agree on reads, counts and deletes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privacy_kit.adapters import (
    After,
    All,
    And,
    Before,
    Eq,
    In,
    InMemoryAdapter,
    IsNull,
    Not,
    Or,
    Selection,
    SQLiteAdapter,
)
from privacy_kit.model._datamap import DataMap

DATAMAP = DataMap.model_validate(
    {
        "record_types": [
            {
                "name": "rows",
                "fields": [
                    {"name": "id", "type": "integer"},
                    {"name": "n", "type": "integer"},
                    {"name": "s"},
                    {"name": "b", "type": "boolean"},
                    {"name": "t", "type": "timestamp"},
                ],
            }
        ]
    }
)
RT = DATAMAP.record_type("rows")

offsets = st.sampled_from(
    [dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.timezone(dt.timedelta(hours=-8))]
)
instants = st.builds(
    lambda minutes, tz: (
        dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=minutes)
    ).astimezone(tz),
    st.integers(0, 50),
    offsets,
)
ints = st.none() | st.integers(-3, 3)
texts = st.none() | st.sampled_from(
    ["", "a", "A", "a ", "é", "名前", "'", '"; DROP TABLE rows; --']
)
bools = st.none() | st.booleans()


@st.composite
def rows(draw: Any) -> list[dict[str, Any]]:
    n = draw(st.integers(0, 12))
    return [
        {
            "id": i,
            "n": draw(ints),
            "s": draw(texts),
            "b": draw(bools),
            "t": draw(st.none() | instants),
        }
        for i in range(n)
    ]


leaves = st.one_of(
    st.just(All()),
    st.builds(Eq, st.just("n"), ints),
    st.builds(Eq, st.just("s"), texts),
    st.builds(Eq, st.just("b"), bools),
    st.builds(Eq, st.just("t"), instants),
    st.builds(In, st.just("n"), st.lists(ints, max_size=4)),
    st.builds(In, st.just("s"), st.lists(texts, max_size=4)),
    st.builds(Before, st.just("t"), instants, st.booleans()),
    st.builds(After, st.just("t"), instants, st.booleans()),
    st.builds(IsNull, st.sampled_from(["n", "s", "b", "t"])),
)
selections: st.SearchStrategy[Selection] = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(And, st.lists(inner, max_size=3)),
        st.builds(Or, st.lists(inner, max_size=3)),
        st.builds(Not, inner),
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows(), selections)
def test_memory_and_sqlite_agree(data: list[dict[str, Any]], selection: Selection) -> None:
    expected = sorted(r["id"] for r in data if selection.matches(r))
    memory = InMemoryAdapter({"rows": data})
    with SQLiteAdapter() as db:
        db.create_schema(DATAMAP)
        db.insert(RT, data)
        for adapter in (memory, db):
            got = sorted(
                r["id"] for b in adapter.iter_records(RT, selection, batch_size=3) for r in b
            )
            assert got == expected, adapter.name
            assert adapter.count(RT, selection) == len(expected), adapter.name
            assert adapter.delete(RT, selection, batch_size=2) == len(expected), adapter.name
            assert adapter.count(RT, All()) == len(data) - len(expected), adapter.name
