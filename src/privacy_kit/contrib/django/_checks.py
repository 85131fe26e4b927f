"""The app's system checks (``python manage.py check``), registered when the app is ready.

``privacy_kit.E001``: ``PRIVACY_KIT["STATE"]`` selects the Django state store (``"django"``,
``"django:<alias>"``) but it cannot be used (an unknown alias, an unsupported database). The check
reads the settings only; that the store's tables exist is checked when the settings are read for
use (:func:`~privacy_kit.contrib.django.privacy_kit_settings`, so ``get_engine()`` and every
management command), which says to run ``python manage.py migrate`` if they do not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import django.conf
from django.core import checks

from ._settings import PrivacyKitSettingsError, _django_store
from ._state import state_alias

__all__ = ["check_state_setting"]


def check_state_setting(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``privacy_kit.E001`` if ``PRIVACY_KIT["STATE"]`` names a Django state store that cannot be."""
    config = getattr(django.conf.settings, "PRIVACY_KIT", None)
    value = config.get("STATE") if isinstance(config, Mapping) else None
    alias = state_alias(value)
    if alias is None:
        return []
    try:
        _django_store(str(value), alias)
    except PrivacyKitSettingsError as exc:
        return [
            checks.Error(
                str(exc),
                hint="name an alias of settings.DATABASES on SQLite or PostgreSQL "
                '("django" is "django:default")',
                id="privacy_kit.E001",
            )
        ]
    return []


checks.register(check_state_setting, "privacy_kit")
