"""privacy_kit for Django: an ORM adapter, a state store in the project's database, settings,
management commands and admin helpers.

Add ``"privacy_kit.contrib.django"`` to ``INSTALLED_APPS`` (for the management commands
``privacy_kit_check``, ``privacy_kit_sweep``, ``privacy_kit_export`` and ``privacy_kit_erase``,
and the tables of :class:`DjangoStateStore`, created by ``python manage.py migrate``), describe
the policy and data map in ``settings.PRIVACY_KIT``, and use :func:`get_engine`::

    PRIVACY_KIT = {
        "POLICY": BASE_DIR / "privacy" / "policy.yaml",
        "DATAMAP": BASE_DIR / "privacy" / "datamap.yaml",
        "STATE": "django",      # holds, journals, the secret... in the "default" database
    }

The data map's record types are served by the models whose ``db_table`` is their table (or by
the models named in ``PRIVACY_KIT["MODELS"]``). Needs the ``django`` extra
(``pip install 'privacy-kit[django]'``); ``import privacy_kit`` never imports Django, and this
package imports it only when one of its names is used.

Example:
    >>> import privacy_kit.contrib.django as pk_django
    >>> sorted(pk_django.__all__)[:2]
    ['DjangoAdapter', 'DjangoStateStore']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._lazy import attach

_NAMES: dict[str, str] = {
    "DjangoAdapter": "._adapter",
    "DjangoStateStore": "._state",
    "PrivacyKitSettings": "._settings",
    "PrivacyKitSettingsError": "._settings",
    "export_personal_data": "._admin",
    "get_engine": "._settings",
    "privacy_kit_settings": "._settings",
    "reset_engine": "._settings",
}

__all__ = [
    "DjangoAdapter",
    "DjangoStateStore",
    "PrivacyKitSettings",
    "PrivacyKitSettingsError",
    "export_personal_data",
    "get_engine",
    "privacy_kit_settings",
    "reset_engine",
]

__getattr__, __dir__ = attach(__name__, _NAMES, __all__)

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from ._adapter import DjangoAdapter
    from ._admin import export_personal_data
    from ._settings import (
        PrivacyKitSettings,
        PrivacyKitSettingsError,
        get_engine,
        privacy_kit_settings,
        reset_engine,
    )
    from ._state import DjangoStateStore
