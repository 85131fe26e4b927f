"""Process bodies for tests/test_state_store.py's multi-process tests.

They live in an importable module (not the test module) because the tests start processes with
``spawn``: a child imports this module by name from the parent's ``sys.path``. Each body opens its
own store from a spec, waits at the barrier so that all of them act at once, and puts its result
on the queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from privacy_kit.audit import SqliteStateStore

if TYPE_CHECKING:
    from privacy_kit.audit import SQLAlchemyStateStore
    from privacy_kit.contrib.django import DjangoStateStore

Spec = tuple[str, str, str]  # (kind, path or url or Django alias, table prefix)


def open_store(spec: Spec) -> SqliteStateStore | SQLAlchemyStateStore | DjangoStateStore:
    kind, where, prefix = spec
    if kind == "sqlite":
        return SqliteStateStore(where, prefix=prefix)
    if kind == "django":  # the test project's databases, which the parent process set up
        import django_setup

        django_setup.join()
        from privacy_kit.contrib.django import DjangoStateStore as Django

        return Django(where)
    from privacy_kit.audit import SQLAlchemyStateStore as Store  # only where a server is used

    return Store(where, prefix=prefix)


def _report(queue: Any, body: Any) -> None:
    try:
        queue.put(("ok", body()))
    except BaseException as exc:  # the parent asserts on it, with the child's message
        queue.put(("error", f"{type(exc).__name__}: {exc}"))
        raise


def put(spec: Spec, collection: str, key: str, document: dict[str, Any], queue: Any) -> None:
    def body() -> int:
        with open_store(spec) as store:
            return store.put(collection, key, document).version

    _report(queue, body)


def get(spec: Spec, collection: str, key: str, queue: Any) -> None:
    def body() -> dict[str, Any] | None:
        with open_store(spec) as store:
            found = store.get(collection, key)
            return None if found is None else found.document

    _report(queue, body)


def together(spec: Spec, barrier: Any, worker: int, count: int, queue: Any) -> None:
    """Every race at once, each step started by all processes together (see the test module).

    Opens a store that no process has created yet (the migration race; the Django store's tables
    are made before, by migrate), consumes one code, reads the secret, appends ``count`` entries
    and increments one counter ``count`` times.
    """

    def body() -> dict[str, Any]:
        barrier.wait(timeout=120)
        with open_store(spec) as store:
            # the Django store's tables are made by manage.py migrate, before the processes
            migration = getattr(store, "migration", None)
            found: dict[str, Any] = {"migrated_from": migration and migration.from_version}
            store.update("codes", "challenge_1", lambda d: d or {"subject": "subj_1"})
            barrier.wait(timeout=120)
            taken = store.consume("codes", "challenge_1")
            found["consumed"] = None if taken is None else taken.document
            barrier.wait(timeout=120)
            found["secret"] = store.secret().hex()
            barrier.wait(timeout=120)
            found["appended"] = [
                store.append("journal", {"worker": worker, "i": i}) for i in range(count)
            ]
            barrier.wait(timeout=120)
            for _ in range(count):
                store.update("counters", "n", lambda d: {"n": (d or {"n": 0})["n"] + 1})
            return found

    _report(queue, body)
