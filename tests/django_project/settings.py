"""Settings of the test project: SQLite always, PostgreSQL as the ``postgres`` alias.

The SQLite file and the PostgreSQL database name come from the environment
(``PRIVACY_KIT_DJANGO_SQLITE``, ``PRIVACY_KIT_DJANGO_PG_DB``) so that each test run, and each
helper running tests in parallel, has its own; tests/test_django.py sets them before
``django.setup()`` and creates (and drops) the PostgreSQL database.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = "test-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "Europe/Berlin"  # not UTC, so nothing passes by accident of the server's zone
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.admin",
    "django.contrib.messages",
    "django.contrib.sessions",
    "privacy_kit.contrib.django",
    "django_project.lending",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
ROOT_URLCONF = "django_project.urls"

_pg = urlsplit(
    os.environ.get("PRIVACY_KIT_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
)
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get(
            "PRIVACY_KIT_DJANGO_SQLITE",
            os.path.join(tempfile.gettempdir(), "privacy_kit_django.db"),
        ),
    },
    "postgres": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("PRIVACY_KIT_DJANGO_PG_DB", "privacy_kit_django"),
        "USER": _pg.username or "postgres",
        "PASSWORD": _pg.password or "",
        "HOST": _pg.hostname or "127.0.0.1",
        "PORT": str(_pg.port or 5432),
    },
}

PRIVACY_KIT = {
    "POLICY": BASE_DIR / "privacy" / "policy.yaml",
    "DATAMAP": BASE_DIR / "privacy" / "datamap.yaml",
    "STATE": os.environ.get(
        "PRIVACY_KIT_DJANGO_STATE",
        os.path.join(tempfile.gettempdir(), "privacy_kit_django_state.db"),
    ),
    "DATABASE": "default",
}
