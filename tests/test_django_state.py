"""The Django state store: the state store conformance class on the test project's SQLite and
PostgreSQL databases, processes that each set up Django racing on one PostgreSQL database, the
app's migration, the ``PRIVACY_KIT["STATE"]`` setting and its check, and how the store behaves
inside the host's own transactions."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "django", reason="Django is not installed (extra [django]): the Django integration is untested"
)

import django_setup
import privacy_kit as pk
import state_workers
import test_state_store as shared
from privacy_kit.audit import SqliteStateStore, StateError, StateValueError
from privacy_kit.audit._state_base import BaseStateStore
from test_state_store import StateStoreConformance

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
PROJECT = Path(__file__).resolve().parent / "django_project"
TABLES = (
    "privacy_kit_statedocument",
    "privacy_kit_statelogentry",
    "privacy_kit_statesequence",
    "privacy_kit_statesecret",
)


@pytest.fixture(params=[django_setup.SQLITE, django_setup.POSTGRES], ids=["sqlite", "postgres"])
def alias(request: pytest.FixtureRequest) -> str:
    if request.param == django_setup.POSTGRES:
        request.applymarker(pytest.mark.postgres)
    return django_setup.database(request.param)


def postgres() -> str:
    return django_setup.database(django_setup.POSTGRES)


def clear(alias: str) -> None:
    """Empty the store's tables on ``alias`` (the test project's databases are shared)."""
    from privacy_kit.contrib.django import models

    for model in (
        models.StateDocument,
        models.StateLogEntry,
        models.StateSequence,
        models.StateSecret,
    ):
        model.objects.using(alias).all().delete()


def open_store(alias: str) -> Any:
    from privacy_kit.contrib.django import DjangoStateStore

    return DjangoStateStore(alias)


# -- the conformance class ----------------------------------------------------------------------
class TestDjangoStateStore(StateStoreConformance):
    @pytest.fixture
    def store(self, alias: str) -> Iterator[BaseStateStore]:
        clear(alias)
        yield open_store(alias)
        clear(alias)

    def test_another_store_sees_everything_and_names_itself(
        self, store: BaseStateStore, alias: str
    ) -> None:
        store.put("holds", "h1", {"reason": "case 12"})
        store.append("journal", {"step": 1})
        other = open_store(alias)
        found = other.get("holds", "h1")
        assert found is not None
        assert found.document == {"reason": "case 12"}
        assert other.append("journal", {"step": 2}) == 2
        assert other.secret() == store.secret()
        assert repr(other).startswith(f"<DjangoStateStore({alias!r}) vendor=")

    def test_concurrent_updates_from_threads_are_atomic(
        self, store: BaseStateStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The shared test, each thread closing its Django connections when it ends (Django
        opens one per thread and closes only those of its requests: a thread you start closes
        its own)."""
        from django.db import connections

        run = threading.Thread.run

        def run_then_close(thread: threading.Thread) -> None:
            try:
                run(thread)
            finally:
                connections.close_all()

        monkeypatch.setattr(threading.Thread, "run", run_then_close)
        super().test_concurrent_updates_from_threads_are_atomic(store)


# -- processes sharing one database, each with Django set up ------------------------------------
_DATABASES = [
    pytest.param(django_setup.SQLITE, id="sqlite"),
    pytest.param(django_setup.POSTGRES, id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=_DATABASES)
def spec(request: pytest.FixtureRequest) -> state_workers.Spec:
    alias = django_setup.database(request.param)
    clear(alias)
    return ("django", alias, "")


@pytest.fixture(scope="module", params=_DATABASES)
def raced(request: pytest.FixtureRequest) -> Iterator[shared.Raced]:
    """Processes that each set up Django and raced on the store in one database."""
    alias = django_setup.database(request.param)
    clear(alias)
    spec = ("django", alias, "")
    yield spec, shared._run_together(spec)
    clear(alias)


# The shared multi-process tests, run here with the fixtures above (the migration race is not
# the store's: manage.py migrate makes its tables before any process starts).
test_a_document_put_in_one_process_is_read_in_another = (
    shared.test_a_document_put_in_one_process_is_read_in_another
)
test_consume_from_many_processes_succeeds_exactly_once = (
    shared.test_consume_from_many_processes_succeeds_exactly_once
)
test_the_secret_created_by_many_processes_at_once_is_one = (
    shared.test_the_secret_created_by_many_processes_at_once_is_one
)
test_appends_from_many_processes_have_no_gaps = shared.test_appends_from_many_processes_have_no_gaps
test_updates_from_many_processes_lose_nothing = shared.test_updates_from_many_processes_lose_nothing


def test_the_processes_used_the_migrated_tables(raced: shared.Raced) -> None:
    _spec, results = raced
    assert [r["migrated_from"] for r in results] == [None] * shared._PROCESSES


@pytest.mark.postgres
def test_an_insert_that_lost_a_race_runs_again() -> None:
    """Another transaction inserts the key first and commits while this update waits on the
    unique index: the update fails with a unique violation, runs again and sees that row."""
    psycopg = pytest.importorskip("psycopg", reason="the psycopg driver is not installed")
    from django.db import connections

    alias = postgres()
    clear(alias)
    store = open_store(alias)
    params = connections[alias].get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    calls: list[Any] = []
    results: list[Any] = []

    def bump(d: dict[str, Any] | None) -> dict[str, Any]:
        calls.append(d)
        return {"n": (d or {"n": 0})["n"] + 1}

    with psycopg.connect(**params) as other:
        other.execute(
            "INSERT INTO privacy_kit_statedocument (collection, key, version, document) "
            "VALUES ('counters', 'n', 1, '{\"n\":10}')"
        )

        def update() -> None:
            try:
                results.append(store.update("counters", "n", bump))
            finally:
                connections.close_all()  # this thread's own

        worker = threading.Thread(target=update)
        worker.start()
        time.sleep(0.5)  # the update is now waiting for the uncommitted row's unique key
        assert worker.is_alive()
        other.commit()
        worker.join(timeout=30)
    assert calls == [None, {"n": 10}]
    assert [(r.document, r.version) for r in results] == [({"n": 11}, 2)]


def test_retries_only_what_can_succeed_again() -> None:
    psycopg = pytest.importorskip("psycopg", reason="the psycopg driver is not installed")
    from django.db import IntegrityError, OperationalError

    from privacy_kit.contrib.django._state import _retryable

    def wrapped(cls: type[Exception], cause: BaseException, text: str = "") -> Exception:
        exc = cls(text or str(cause))
        exc.__cause__ = cause
        return exc

    unique = wrapped(IntegrityError, psycopg.errors.UniqueViolation("duplicate key"))
    deadlock = wrapped(OperationalError, psycopg.errors.DeadlockDetected("deadlock detected"))
    serial = wrapped(OperationalError, psycopg.errors.SerializationFailure("could not serialize"))
    other = wrapped(OperationalError, psycopg.errors.UndefinedTable("no relation"))
    for nested in (False, True):
        assert _retryable(unique, "postgresql", nested)
        assert _retryable(deadlock, "postgresql", nested)
        assert not _retryable(other, "postgresql", nested)
    assert _retryable(serial, "postgresql", nested=False)
    assert not _retryable(serial, "postgresql", nested=True)
    locked = OperationalError("database is locked")
    assert _retryable(locked, "sqlite", nested=False)
    assert not _retryable(locked, "sqlite", nested=True)
    assert _retryable(IntegrityError("UNIQUE constraint failed: x.y"), "sqlite", nested=True)
    assert not _retryable(IntegrityError("NOT NULL constraint failed: x.y"), "sqlite", False)
    assert not _retryable(OperationalError("disk I/O error"), "sqlite", nested=False)


# -- inside the host's transactions -------------------------------------------------------------
def test_inside_a_host_transaction_the_store_commits_and_rolls_back_with_it(alias: str) -> None:
    from django.db import transaction

    clear(alias)
    store = open_store(alias)
    store.put("holds", "kept", {"n": 1})

    def view() -> None:
        with transaction.atomic(using=alias):
            store.put("holds", "h1", {"n": 1})
            store.update("holds", "kept", lambda d: {"n": 2})
            assert store.append("journal", {"step": 1}) == 1
            assert store.consume("holds", "kept") is not None
            raise RuntimeError("the view failed")

    with pytest.raises(RuntimeError, match="the view failed"):
        view()
    assert store.get("holds", "h1") is None
    kept = store.get("holds", "kept")
    assert kept is not None
    assert (kept.document, kept.version) == ({"n": 1}, 1)
    assert store.entries("journal") == ()
    with transaction.atomic(using=alias):
        store.put("holds", "h2", {"n": 1})
    assert store.get("holds", "h2") is not None


@pytest.mark.postgres
def test_a_secret_made_inside_a_rolled_back_transaction_is_kept() -> None:
    """A process may use the secret before the host's transaction ends: it must outlive it."""
    from django.db import transaction

    alias = postgres()
    clear(alias)
    store = open_store(alias)
    secrets: list[bytes] = []

    def view() -> None:
        with transaction.atomic(using=alias):
            store.put("holds", "h1", {"n": 1})
            secrets.extend([store.secret(), store.secret()])
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError, match="rolled back"):
        view()
    assert store.get("holds", "h1") is None
    assert secrets == [store.secret(create=False)] * 2
    # a second creator on a connection of its own meets the first one's row and reads it
    first = store._create_secret_apart("tokens")
    assert store._create_secret_apart("tokens") == first == store.secret("tokens", create=False)


def test_on_sqlite_a_secret_made_inside_a_transaction_is_part_of_it() -> None:
    """SQLite allows one writer: a second connection would wait for the host's transaction."""
    from django.db import transaction

    alias = django_setup.database(django_setup.SQLITE)
    clear(alias)
    store = open_store(alias)

    def view() -> None:
        with transaction.atomic(using=alias):
            store.secret()
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError, match="rolled back"):
        view()
    with pytest.raises(StateError, match="no secret 'default'"):
        store.secret(create=False)


# -- the app: models, migration, tables ---------------------------------------------------------
def test_the_migration_matches_the_models() -> None:
    from django.core.management import call_command

    django_setup.setup()
    call_command("makemigrations", "privacy_kit", check=True, dry_run=True, verbosity=0)


def test_the_tables_and_postgresql_key_order(alias: str) -> None:
    from django.db import connections

    connection = connections[alias]
    with connection.cursor() as cursor:
        names = set(connection.introspection.table_names(cursor))
    assert set(TABLES) <= names
    assert not set(TABLES) & set(shared._TABLES), "a name of the other stores' tables"
    assert open_store(alias).missing_tables() == ()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT collation_name FROM information_schema.columns "
                "WHERE table_name = 'privacy_kit_statedocument' AND column_name = 'key'"
            )
            assert cursor.fetchall() == [("C",)]


def test_the_other_stores_tables_live_beside_them() -> None:
    """A database that already holds SqliteStateStore's tables keeps them, and each store its
    own state."""
    from django.conf import settings

    alias = django_setup.database(django_setup.SQLITE)
    clear(alias)
    path = settings.DATABASES[alias]["NAME"]
    with SqliteStateStore(path) as sqlite_store:
        sqlite_store.put("holds", "h1", {"store": "sqlite"})
        django_store = open_store(alias)
        django_store.put("holds", "h1", {"store": "django"})
        found = sqlite_store.get("holds", "h1")
        assert found is not None
        assert found.document == {"store": "sqlite"}
        assert sqlite_store.secret() != django_store.secret()
    import sqlite3

    with sqlite3.connect(path) as conn:
        for table in shared._TABLES:
            conn.execute(f'DROP TABLE "{table}"')


def test_missing_tables_are_named_with_the_migrate_command(alias: str) -> None:
    from django.conf import settings
    from django.core.management import call_command
    from django.test import override_settings

    from privacy_kit.contrib.django import PrivacyKitSettingsError, privacy_kit_settings

    store = open_store(alias)
    database = "" if alias == "default" else f" --database {alias}"
    call_command("migrate", "privacy_kit", "zero", database=alias, verbosity=0)
    try:
        assert store.missing_tables() == TABLES
        with pytest.raises(StateError) as info:
            store.get("holds", "h1")
        message = str(info.value)
        assert message.startswith(f"DjangoStateStore({alias!r}): get holds/'h1': ")
        assert message.endswith(f"run python manage.py migrate privacy_kit{database})")
        with pytest.raises(StateError, match=r"append journal: .* run python manage\.py migrate"):
            store.append("journal", {})
        config = {**settings.PRIVACY_KIT, "STATE": f"django:{alias}"}
        with (
            override_settings(PRIVACY_KIT=config),
            pytest.raises(PrivacyKitSettingsError) as caught,
        ):
            privacy_kit_settings()
        assert str(caught.value) == (
            f"PRIVACY_KIT['STATE'] = 'django:{alias}': the state store's tables are missing on "
            f"database {alias!r} ({', '.join(TABLES)}): run python manage.py migrate "
            f"privacy_kit{database}"
        )
    finally:
        call_command("migrate", "privacy_kit", database=alias, verbosity=0)
    assert store.missing_tables() == ()


# -- settings and checks ------------------------------------------------------------------------
def test_the_setting_selects_the_store(alias: str) -> None:
    from django.conf import settings
    from django.test import override_settings

    from privacy_kit.contrib.django import (
        DjangoStateStore,
        get_engine,
        privacy_kit_settings,
        reset_engine,
    )

    clear(alias)
    value = "django" if alias == "default" else f"django:{alias}"
    with override_settings(PRIVACY_KIT={**settings.PRIVACY_KIT, "STATE": value}):
        state = privacy_kit_settings().state
        assert isinstance(state, DjangoStateStore)
        assert state.using == alias
        engine = get_engine()
        assert engine.state is not None
        assert engine.secret == state.secret(create=False)
        placed = engine.holds.place(
            reason="case 12", placed_by="legal", now=NOW, record_type="members"
        )
        reset_engine()  # as another process would, build the engine again from the settings
        again = get_engine()
        assert again is not engine
        assert [h.id for h in again.holds.active(NOW)] == [placed.id]
        assert again.secret == engine.secret
    clear(alias)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "django:nope",
            (
                r"'django:nope': DjangoStateStore: 'nope' is not a database alias of "
                r"settings\.DATABASES \(default, postgres\)"
            ),
        ),
        ("django:", r"'django:': DjangoStateStore: '' is not a database alias"),
    ],
)
def test_an_unknown_alias_names_the_setting(value: str, message: str) -> None:
    from django.conf import settings
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError
    from django.test import override_settings

    from privacy_kit.contrib.django import PrivacyKitSettingsError, get_engine

    django_setup.setup()
    with override_settings(PRIVACY_KIT={**settings.PRIVACY_KIT, "STATE": value}):
        with pytest.raises(PrivacyKitSettingsError, match=r"PRIVACY_KIT\['STATE'\] = " + message):
            get_engine()
        with pytest.raises(SystemCheckError, match=r"privacy_kit\.E001.*" + message):
            call_command("check", tags=["privacy_kit"])
    call_command("check", tags=["privacy_kit"])  # the project's own setting passes


def test_a_store_that_cannot_be_made_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.conf import settings
    from django.db import connections
    from django.test import override_settings

    from privacy_kit.contrib.django import DjangoStateStore

    django_setup.setup()
    with pytest.raises(StateValueError, match="'replica' is not a database alias"):
        DjangoStateStore("replica")
    apps = [a for a in settings.INSTALLED_APPS if a != "privacy_kit.contrib.django"]
    with (
        override_settings(INSTALLED_APPS=apps),
        pytest.raises(StateError, match=r"add 'privacy_kit\.contrib\.django' to INSTALLED_APPS"),
    ):
        DjangoStateStore()
    monkeypatch.setattr(connections[django_setup.SQLITE], "vendor", "mysql")
    with pytest.raises(StateValueError, match=r"the mysql database is not supported.*SQLAlchemy"):
        DjangoStateStore()


def test_manage_py_in_another_process_makes_the_secret_this_one_reads() -> None:
    """``manage.py`` with ``STATE = "django"``: its engine creates the deployment secret in the
    project's database, where this process finds it."""
    alias = django_setup.database(django_setup.SQLITE)
    clear(alias)
    src = str(Path(pk.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": src,
        "DJANGO_SETTINGS_MODULE": "django_project.settings",
        "PRIVACY_KIT_DJANGO_STATE": "django",
    }
    result = subprocess.run(
        [sys.executable, str(PROJECT / "manage.py"), "privacy_kit_sweep", "--dry-run"],
        capture_output=True, text=True, env=env, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    made = open_store(alias).secret(create=False)
    assert len(made) == 32
