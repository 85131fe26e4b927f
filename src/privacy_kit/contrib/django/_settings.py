"""``settings.PRIVACY_KIT`` read into one lazily built :class:`~privacy_kit.Engine` per process.

The setting is a dict::

    PRIVACY_KIT = {
        "POLICY": BASE_DIR / "privacy" / "policy.yaml",     # required
        "DATAMAP": BASE_DIR / "privacy" / "datamap.yaml",   # required
        "STATE": "django",                                  # see below
        "SECRET": None,                                     # or bytes/str (default: the state's)
        "DATABASE": "default",                              # the alias the ORM adapter uses
        "MODELS": {"members": "lending.Member"},            # optional: record type -> model
    }

``STATE`` is ``"django"`` (the state in the ``default`` database, in the app's tables:
:class:`DjangoStateStore`), ``"django:<alias>"`` (another database of ``settings.DATABASES``), a
file path (:class:`~privacy_kit.audit.SqliteStateStore`), a database URL
(:class:`~privacy_kit.audit.SQLAlchemyStateStore`) or any :class:`~privacy_kit.audit.StateStore`.

``get_engine()`` builds the engine on first use and keeps it; a change of the setting (Django's
``setting_changed`` signal, as ``override_settings`` sends) or :func:`reset_engine` drops it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import django.conf
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from ..._errors import ConfigurationError
from ...audit._state import StateError, StateStore, StateValueError
from ...engine import Engine
from ...model import DataMap, Policy, load_datamap, load_policy
from ._adapter import DjangoAdapter
from ._state import DjangoStateStore, state_alias

__all__ = [
    "PrivacyKitSettings",
    "PrivacyKitSettingsError",
    "get_engine",
    "privacy_kit_settings",
    "reset_engine",
]

_KEYS = ("POLICY", "DATAMAP", "STATE", "SECRET", "DATABASE", "MODELS")


class PrivacyKitSettingsError(ConfigurationError, ImproperlyConfigured):  # type: ignore[misc]
    """``settings.PRIVACY_KIT`` is missing or wrong (a :class:`~privacy_kit.ConfigurationError`
    and Django's ``ImproperlyConfigured``); the message names the key and what it expects.

    Example:
        >>> issubclass(PrivacyKitSettingsError, ImproperlyConfigured)   # doctest: +SKIP
        True
    """


@attrs.frozen
class PrivacyKitSettings:
    """The validated ``PRIVACY_KIT`` setting.

    Attributes:
        policy: the policy file.
        datamap: the data map file.
        state: the state store (``None``: none; then ``secret`` is required).
        secret: the secret for references and pseudonyms (``None``: the state store's).
        database: the database alias of the ORM adapter.
        models: record type name -> model (``"app_label.Model"`` or a class); others by table.
    """

    policy: Path
    datamap: Path
    state: StateStore | None
    secret: bytes | None
    database: str
    models: Mapping[str, Any]

    def load(self) -> tuple[Policy, DataMap]:
        """The policy and data map, loaded from their files."""
        return load_policy(self.policy), load_datamap(self.datamap)

    def adapter(self) -> DjangoAdapter:
        """The ORM adapter these settings describe."""
        return DjangoAdapter(self.models or None, using=self.database)


def _path(config: Mapping[str, Any], key: str) -> Path:
    value = config.get(key)
    if not isinstance(value, str | os.PathLike) or not os.fspath(value):
        raise PrivacyKitSettingsError(
            f"PRIVACY_KIT[{key!r}] must be the path of the {key.lower()} file, got {value!r}"
        )
    return Path(value)


def _django_store(value: str, alias: str) -> DjangoStateStore:
    """The Django state store ``PRIVACY_KIT["STATE"] = value`` selects (no database access)."""
    try:
        return DjangoStateStore(alias)
    except (StateError, StateValueError) as exc:
        raise PrivacyKitSettingsError(f"PRIVACY_KIT['STATE'] = {value!r}: {exc}") from exc


def _state(value: Any) -> StateStore | None:
    if value is None:
        return None
    alias = state_alias(value)
    if alias is not None:
        store = _django_store(value, alias)
        missing = store.missing_tables()
        if missing:
            database = "" if alias == "default" else f" --database {alias}"
            raise PrivacyKitSettingsError(
                f"PRIVACY_KIT['STATE'] = {value!r}: the state store's tables are missing on "
                f"database {alias!r} ({', '.join(missing)}): run "
                f"python manage.py migrate privacy_kit{database}"
            )
        return store
    if isinstance(value, str | os.PathLike):
        text = os.fspath(value)
        if "://" not in text:
            from ...audit import SqliteStateStore  # noqa: PLC0415 - only when configured

            return SqliteStateStore(text)
        if text.startswith("sqlite:///"):
            from ...audit import SqliteStateStore  # noqa: PLC0415

            return SqliteStateStore(text.removeprefix("sqlite:///"))
        from ...audit import SQLAlchemyStateStore  # noqa: PLC0415 - needs the sqlalchemy extra

        return SQLAlchemyStateStore(text)
    if isinstance(value, StateStore):
        return value
    raise PrivacyKitSettingsError(
        'PRIVACY_KIT[\'STATE\'] must be "django" or "django:<alias>" (the state in a database '
        "of settings.DATABASES), a file path (SQLite), a database URL "
        f"(postgresql+psycopg://...) or a privacy_kit StateStore, got {value!r}"
    )


def privacy_kit_settings() -> PrivacyKitSettings:
    """Read and check ``settings.PRIVACY_KIT``.

    Raises:
        PrivacyKitSettingsError: the setting is missing, has an unknown key, lacks a file path,
            or has neither ``STATE`` nor ``SECRET`` (each process would then make up its own
            secret, and subject references would differ between a web worker and a command).

    Example:
        >>> privacy_kit_settings().database   # doctest: +SKIP
        'default'
    """
    config = getattr(django.conf.settings, "PRIVACY_KIT", None)
    if not isinstance(config, Mapping):
        raise PrivacyKitSettingsError(
            "settings.PRIVACY_KIT is not set: give it a dict with at least 'POLICY' and "
            "'DATAMAP' (file paths) and 'STATE' or 'SECRET'"
        )
    unknown = sorted(set(config) - set(_KEYS))
    if unknown:
        raise PrivacyKitSettingsError(
            f"PRIVACY_KIT has unknown key(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(_KEYS)}"
        )
    secret = config.get("SECRET")
    if isinstance(secret, str):
        secret = secret.encode()
    if secret is not None and not isinstance(secret, bytes):
        raise PrivacyKitSettingsError(f"PRIVACY_KIT['SECRET'] must be bytes or str, got {secret!r}")
    state = _state(config.get("STATE"))
    if state is None and secret is None:
        raise PrivacyKitSettingsError(
            "PRIVACY_KIT needs 'STATE' (a state store every process shares: recommended) or "
            "'SECRET': without either, each process would use a random secret and subject "
            "references would differ between processes"
        )
    database = config.get("DATABASE", "default")
    if not isinstance(database, str) or database not in django.conf.settings.DATABASES:
        raise PrivacyKitSettingsError(
            f"PRIVACY_KIT['DATABASE'] must be an alias of django.conf.settings.DATABASES "
            f"({', '.join(sorted(django.conf.settings.DATABASES))}), got {database!r}"
        )
    models = config.get("MODELS", {})
    if not isinstance(models, Mapping):
        raise PrivacyKitSettingsError(
            f"PRIVACY_KIT['MODELS'] must map record type names to models, got {models!r}"
        )
    return PrivacyKitSettings(
        policy=_path(config, "POLICY"),
        datamap=_path(config, "DATAMAP"),
        state=state,
        secret=secret,
        database=database,
        models=dict(models),
    )


class _Cache:
    """The process's engine, built once under a lock (web servers start threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.engine: Engine | None = None


_cache = _Cache()


def get_engine() -> Engine:
    """The :class:`~privacy_kit.Engine` of ``settings.PRIVACY_KIT``, built on first use.

    The engine verifies the models against the data map when it is built (a
    :class:`~privacy_kit.SchemaMismatchError` names every missing table or field: run ``migrate``
    or map the record type in ``MODELS``).

    Example:
        >>> from privacy_kit.contrib.django import get_engine   # doctest: +SKIP
        >>> get_engine().export(subject, "bundle.zip", now=timezone.now())   # doctest: +SKIP
    """
    engine = _cache.engine
    if engine is not None:
        return engine
    with _cache.lock:
        if _cache.engine is None:
            config = privacy_kit_settings()
            policy, datamap = config.load()
            _cache.engine = Engine(
                policy, datamap, config.adapter(), secret=config.secret, state=config.state
            )
        return _cache.engine


def reset_engine() -> None:
    """Forget the built engine; the next :func:`get_engine` reads the settings again.

    Example:
        >>> reset_engine()   # doctest: +SKIP
    """
    with _cache.lock:
        _cache.engine = None


def _on_setting_changed(*, setting: str, **_: Any) -> None:
    if setting in {"PRIVACY_KIT", "DATABASES", "INSTALLED_APPS"}:
        reset_engine()


setting_changed.connect(_on_setting_changed, dispatch_uid="privacy_kit.contrib.django.settings")
