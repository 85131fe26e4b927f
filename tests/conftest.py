"""Shared fixtures: the database servers the SQLAlchemy tests use, skipped with a reason if absent.

PostgreSQL and MariaDB run on this machine's loopback in CI (``.ci/run`` starts them); on a laptop
without them, or in the core test environment without SQLAlchemy, those tests skip and say why.
Override the URLs with ``PRIVACY_KIT_POSTGRES_URL`` / ``PRIVACY_KIT_MARIADB_URL``.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from importlib.metadata import entry_points
from typing import Any
from urllib.parse import urlsplit

import pytest

PLUGIN = "privacy_kit.testing.pytest_plugin"
PLUGIN_INSTALLED = any(ep.value == PLUGIN for ep in entry_points(group="pytest11"))
"""pytest loads the plugin by its entry point when privacy_kit is installed with its metadata (the
wheel nox tests); from a source checkout on PYTHONPATH, this conftest loads it."""

if not PLUGIN_INSTALLED:
    pytest_plugins = [PLUGIN]

POSTGRES_URL = os.environ.get(
    "PRIVACY_KIT_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MARIADB_URL = os.environ.get("PRIVACY_KIT_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")


def server_engine(url: str, driver: str) -> Iterator[Any]:
    """A SQLAlchemy engine for ``url``, or a skip naming what is missing (extra, driver, server)."""
    sa = pytest.importorskip(
        "sqlalchemy", reason="SQLAlchemy is not installed (extra [sqlalchemy])"
    )
    pytest.importorskip(driver, reason=f"the {driver} driver is not installed")
    parts = urlsplit(url)
    try:
        socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 0), timeout=1
        ).close()
    except OSError as exc:
        pytest.skip(f"no database server at {parts.hostname}:{parts.port} ({exc})")
    engine = sa.create_engine(url)
    try:
        with engine.connect():
            pass
    except sa.exc.SQLAlchemyError as exc:
        engine.dispose()
        pytest.skip(f"cannot connect to {parts.scheme}://{parts.hostname}:{parts.port}: {exc}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Any]:
    """The PostgreSQL server's engine (database ``test``)."""
    yield from server_engine(POSTGRES_URL, "psycopg")


@pytest.fixture(scope="session")
def mariadb_engine() -> Iterator[Any]:
    """The MariaDB server's engine (database ``test``)."""
    yield from server_engine(MARIADB_URL, "pymysql")


def create_database(server: Any, name: str) -> None:
    """``CREATE DATABASE name`` through ``server`` (an autocommit SQLAlchemy engine), retried a
    few times while another session is copying the template (other test sessions share the
    server); any other failure is raised."""
    import sqlalchemy as sa

    for attempt in range(5):
        try:
            with server.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            return
        except sa.exc.SQLAlchemyError as exc:
            if attempt == 4 or "being accessed by other users" not in str(exc):
                raise
            time.sleep(2)
