"""The Django test project, set up once per test process, and its two databases.

``tests/django_project`` is a real Django project (settings, the ``lending`` app with its
migration, the admin). :func:`setup` points its SQLite file and state store at a temporary folder
and its PostgreSQL database at a name unique to this process, then calls ``django.setup()``.
The PostgreSQL database is created on first use and dropped at exit.
"""

from __future__ import annotations

import atexit
import os
import socket
import tempfile
import uuid
from typing import Any

import pytest

SQLITE = "default"
POSTGRES = "postgres"

_ready: dict[str, bool] = {}


def setup() -> None:
    """Configure and set up Django for ``django_project`` (once per process)."""
    import django
    from django.conf import settings

    if settings.configured:
        return
    folder = tempfile.mkdtemp(prefix="privacy_kit_django_")
    os.environ["PRIVACY_KIT_DJANGO_SQLITE"] = os.path.join(folder, "library.db")
    os.environ["PRIVACY_KIT_DJANGO_STATE"] = os.path.join(folder, "state.db")
    os.environ["PRIVACY_KIT_DJANGO_PG_DB"] = f"pk_django_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "django_project.settings"
    django.setup()


def join() -> None:
    """Set up Django in a process a test started, on that test process's databases.

    :func:`setup` put their names in the environment, which the child inherited; calling
    :func:`setup` here would make up new ones.
    """
    import django
    from django.conf import settings

    if settings.configured:
        return
    if "PRIVACY_KIT_DJANGO_PG_DB" not in os.environ:
        raise RuntimeError("join() is for a process started by one that called setup()")
    os.environ["DJANGO_SETTINGS_MODULE"] = "django_project.settings"
    django.setup()


def database(alias: str) -> str:
    """``alias``, migrated; PostgreSQL created first (or the test skipped, saying why)."""
    setup()
    if alias in _ready:
        return alias
    from django.core.management import call_command

    if alias == POSTGRES:
        _create_postgres()
    call_command("migrate", database=alias, verbosity=0)
    _ready[alias] = True
    return alias


def _create_postgres() -> None:
    from django.conf import settings

    psycopg = pytest.importorskip("psycopg", reason="the psycopg driver is not installed")
    config: dict[str, Any] = settings.DATABASES[POSTGRES]
    host, port = config["HOST"], int(config["PORT"])
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError as exc:
        pytest.skip(f"no PostgreSQL server at {host}:{port} ({exc})")
    admin = {"host": host, "port": port, "user": config["USER"], "dbname": "postgres"}
    if config["PASSWORD"]:
        admin["password"] = config["PASSWORD"]
    name = config["NAME"]
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        from django.db import connections

        connections[POSTGRES].close()
        with psycopg.connect(**admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    atexit.register(drop)
