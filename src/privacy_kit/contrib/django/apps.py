"""The Django app of privacy_kit: ``INSTALLED_APPS = [..., "privacy_kit.contrib.django"]``."""

from __future__ import annotations

from django.apps import AppConfig


class PrivacyKitConfig(AppConfig):  # type: ignore[misc] # Django ships no type information
    """Registers the management commands; it has no models and no migrations."""

    name = "privacy_kit.contrib.django"
    label = "privacy_kit"
    verbose_name = "privacy_kit"
