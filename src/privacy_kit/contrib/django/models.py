"""The tables of :class:`~privacy_kit.contrib.django.DjangoStateStore`: privacy_kit's shared
state (holds, preferences, verification challenges, journals, the deployment secret) in the
host's own database, created by ``python manage.py migrate``.

Django's app registry loads this module (``INSTALLED_APPS = [..., "privacy_kit.contrib.django"]``);
``import privacy_kit.contrib.django`` does not. The tables hold what the other database stores
hold (see docs/state.md), under names of their own, so that a database that also holds the
tables of :class:`~privacy_kit.audit.SQLAlchemyStateStore` (``privacy_kit_state``, ...) keeps both:

- ``privacy_kit_statedocument``: documents by ``(collection, key)``, with their version;
- ``privacy_kit_statelogentry``: the entries of the append-only logs, by ``(collection, seq)``;
- ``privacy_kit_statesequence``: each log's last sequence number (the row an append locks);
- ``privacy_kit_statesecret``: the named secrets (hex).

Documents are JSON text, not ``JSONField``: PostgreSQL's ``jsonb`` refuses a NUL character in a
string and reorders keys, and a state document must come back exactly as it was stored.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from ...audit._state import MAX_KEY_BYTES

__all__ = ["StateDocument", "StateKeyField", "StateLogEntry", "StateSecret", "StateSequence"]

_NAME_LENGTH = 128  # collection and secret names (privacy_kit.audit checks them)


class StateKeyField(models.CharField):  # type: ignore[misc] # Django ships no type information
    """A document key compared and sorted by code point, as every state store sorts its keys.

    On PostgreSQL the column has the ``"C"`` collation (the database's default collation would
    sort ``"a" < "B"`` and make prefix scans follow it); SQLite's default ``BINARY`` collation
    already compares UTF-8 bytes, which is code point order.
    """

    def db_parameters(self, connection: Any) -> dict[str, Any]:
        params: dict[str, Any] = super().db_parameters(connection)
        if connection.vendor == "postgresql":
            params["collation"] = "C"
        return params


class StateDocument(models.Model):  # type: ignore[misc] # Django ships no type information
    """One document of a state collection (see :meth:`~privacy_kit.audit.StateStore.get`)."""

    collection = models.CharField(max_length=_NAME_LENGTH)
    key = StateKeyField(max_length=MAX_KEY_BYTES)
    version = models.BigIntegerField()
    document = models.TextField()

    class Meta:
        db_table = "privacy_kit_statedocument"
        default_permissions = ()  # never edited by hand: no admin, no permissions
        constraints = (
            models.UniqueConstraint(
                fields=("collection", "key"), name="privacy_kit_statedocument_key"
            ),
        )

    def __str__(self) -> str:
        return f"{self.collection}/{self.key!r} v{self.version}"


class StateLogEntry(models.Model):  # type: ignore[misc] # Django ships no type information
    """One entry of an append-only state log (see :meth:`~privacy_kit.audit.StateStore.append`)."""

    collection = models.CharField(max_length=_NAME_LENGTH)
    seq = models.BigIntegerField()
    document = models.TextField()

    class Meta:
        db_table = "privacy_kit_statelogentry"
        default_permissions = ()
        constraints = (
            models.UniqueConstraint(
                fields=("collection", "seq"), name="privacy_kit_statelogentry_seq"
            ),
        )

    def __str__(self) -> str:
        return f"{self.collection}#{self.seq}"


class StateSequence(models.Model):  # type: ignore[misc] # Django ships no type information
    """A log's last sequence number: the row an append locks, so numbers have no gaps."""

    collection = models.CharField(max_length=_NAME_LENGTH, primary_key=True)
    last_seq = models.BigIntegerField()

    class Meta:
        db_table = "privacy_kit_statesequence"
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.collection}: {self.last_seq}"


class StateSecret(models.Model):  # type: ignore[misc] # Django ships no type information
    """A named deployment secret (32 random bytes as hex), created once by its first reader."""

    name = models.CharField(max_length=_NAME_LENGTH, primary_key=True)
    value = models.CharField(max_length=128)

    class Meta:
        db_table = "privacy_kit_statesecret"
        default_permissions = ()

    def __str__(self) -> str:
        return str(self.name)  # never the value
