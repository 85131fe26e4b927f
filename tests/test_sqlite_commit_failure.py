"""A COMMIT that fails (here: a deferred foreign key) rolls the SQLite adapter's transaction back.

Before, the failed transaction stayed open on the connection, so the next statement's commit kept
the work the failed operation had reported as not done.
"""

from __future__ import annotations

import sqlite3

import pytest

import privacy_kit as pk
from privacy_kit.adapters import Eq, SQLiteAdapter

DATAMAP = pk.load_datamap(
    {
        "record_types": [
            {
                "name": "parents",
                "fields": [{"name": "id", "type": "integer", "personal": False}],
            },
            {
                "name": "children",
                "fields": [
                    {"name": "id", "type": "integer", "personal": False},
                    {"name": "parent_id", "type": "integer", "personal": False},
                ],
            },
        ]
    }
)


@pytest.fixture
def adapter() -> SQLiteAdapter:
    conn = sqlite3.connect(":memory:")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.executescript(
        """
        CREATE TABLE parents (id INTEGER PRIMARY KEY);
        CREATE TABLE children (
            id INTEGER PRIMARY KEY,
            parent_id INTEGER REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED
        );
        INSERT INTO parents VALUES (1), (2);
        INSERT INTO children VALUES (10, 1);
        """
    )
    return SQLiteAdapter(conn)


def test_a_failed_commit_rolls_back_and_a_later_write_does_not_keep_it(
    adapter: SQLiteAdapter,
) -> None:
    parents, children = DATAMAP.record_type("parents"), DATAMAP.record_type("children")
    with pytest.raises(pk.PrivacyKitError) as caught:
        adapter.delete(parents, Eq("id", 1))  # child 10 still points at it: COMMIT fails
    assert "FOREIGN KEY" in str(caught.value)
    assert not adapter.connection.in_transaction
    assert adapter.count(parents, Eq("id", 1)) == 1
    # A later, valid write commits only its own work: parent 1 is still there.
    assert adapter.delete(parents, Eq("id", 2)) == 1
    assert adapter.connection.execute("SELECT id FROM parents").fetchall() == [(1,)]
    assert adapter.count(children, Eq("parent_id", 1)) == 1
