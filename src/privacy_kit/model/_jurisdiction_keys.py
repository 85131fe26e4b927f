"""The keys of the built-in jurisdictions, apart from their tables in :mod:`._jurisdictions`.

Validating a policy checks the keys it lists against these; the tables (two attrs classes and the
figures of each law, a fiftieth of a first use) are made when something first reads a law's
figures. A test keeps :data:`LAWS` equal to the keys of
:func:`~privacy_kit.model.jurisdictions`, in order.
"""

from __future__ import annotations

__all__ = ["GLOBAL", "LAWS"]

GLOBAL = "global"
"""The pseudo-jurisdiction "the same rights for everyone, wherever they live"."""

LAWS = ("gdpr", "uk_gdpr", "ccpa", "lgpd", "pipeda")
"""The keys of the built-in laws, in the order :func:`~privacy_kit.model.jurisdictions` lists
them."""
