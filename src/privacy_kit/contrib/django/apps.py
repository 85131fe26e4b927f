"""The Django app of privacy_kit: ``INSTALLED_APPS = [..., "privacy_kit.contrib.django"]``."""

from __future__ import annotations

from django.apps import AppConfig


class PrivacyKitConfig(AppConfig):  # type: ignore[misc] # Django ships no type information
    """Registers the management commands, the system checks and the models of the state store.

    The models (:mod:`privacy_kit.contrib.django.models`) are the tables of
    :class:`~privacy_kit.contrib.django.DjangoStateStore` (``PRIVACY_KIT["STATE"] = "django"``);
    ``python manage.py migrate`` creates them. A project that keeps its state elsewhere gets the
    empty tables all the same.
    """

    name = "privacy_kit.contrib.django"
    label = "privacy_kit"
    verbose_name = "privacy_kit"
    # The migrations say BigAutoField: the host's DEFAULT_AUTO_FIELD must not change them.
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import _checks  # noqa: F401, PLC0415 - registers the system checks
