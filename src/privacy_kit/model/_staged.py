"""Staged deletion: how long after a rule's end its data is gone from live systems and backups.

A rule's action is due ``duration`` after its trigger; ``purge_within`` more may pass before it is
carried out on live systems, and backups keep copies until they roll off (the longest ``expiry`` of
the backup locations holding the stores of the rule's record types). :func:`staged_bound` adds
these up into the rule's promised outer bound.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs

from .._types import Duration

if TYPE_CHECKING:
    from ._datamap import DataMap
    from ._policy import Policy
    from ._policy_collection import StorageLocation
    from ._policy_retention import RetentionRule

__all__ = ["StagedBound", "add_durations", "staged_bound"]

_UNITS = ("years", "months", "weeks", "days", "hours", "minutes", "seconds")


def add_durations(*durations: Duration | None) -> Duration:
    """The sum of ``durations`` (``None`` counts as nothing), part by part.

    Example:
        >>> str(add_durations(Duration(days=30), None, Duration(days=30), Duration(months=1)))
        'P1M60D'
    """
    parts = dict.fromkeys(_UNITS, 0)
    for d in durations:
        if d is not None:
            for unit in _UNITS:
                parts[unit] += getattr(d, unit)
    return Duration(**parts)


@attrs.frozen
class StagedBound:
    """When a rule's data is gone, stage by stage.

    Attributes:
        rule: the rule's key.
        duration: the rule's duration (``None``: at the trigger).
        purge_within: the live purge allowance after the action is due (``None``: none declared).
        backup_expiry: the longest expiry of the backups holding the data (``None``: no backup).
        backups: the keys of those backup locations.
    """

    rule: str
    duration: Duration | None
    purge_within: Duration | None
    backup_expiry: Duration | None
    backups: tuple[str, ...] = ()

    @property
    def staged(self) -> bool:
        """Whether anything is added to the rule's duration (a purge window or backups)."""
        return self.purge_within is not None or self.backup_expiry is not None

    @property
    def total(self) -> Duration:
        """The outer bound from the trigger: duration + purge_within + backup expiry."""
        return add_durations(self.duration, self.purge_within, self.backup_expiry)

    def live_by(self, due: dt.datetime) -> dt.datetime:
        """When data whose action is due at ``due`` is gone from live systems."""
        return due if self.purge_within is None else self.purge_within.after(due)

    def backups_by(self, due: dt.datetime) -> dt.datetime:
        """When data whose action is due at ``due`` is gone from backups too."""
        live = self.live_by(due)
        return live if self.backup_expiry is None else self.backup_expiry.after(live)


def backup_locations(policy: Policy, stores: frozenset[str] | None) -> tuple[StorageLocation, ...]:
    """The backup locations holding any of ``stores`` (``None``: unknown, so every backup)."""
    return tuple(
        loc
        for loc in policy.storage.locations
        if loc.kind == "backup"
        and (stores is None or not loc.stores or any(s in stores for s in loc.stores))
    )


def staged_bound(
    policy: Policy, rule: RetentionRule, datamap: DataMap | None = None
) -> StagedBound:
    """The stages and outer bound of ``rule`` (with ``datamap``: only the backups of its stores).

    Without a data map every backup location counts, so the bound is never understated.

    Example:
        >>> import privacy_kit as pk
        >>> policy = pk.load_policy(pk.example_path())
        >>> staged_bound(policy, policy.retention[0]).staged
        False
    """
    stores: frozenset[str] | None = None
    if datamap is not None:
        from ._check_retention import retention_choices  # noqa: PLC0415 - light, model-level

        stores = frozenset(
            rt.store
            for rt in datamap.record_types
            if any(c.rule.key == rule.key for c in retention_choices(policy, rt))
        )
    found = backup_locations(policy, stores)
    expiries = [loc.expiry for loc in found if loc.expiry is not None]
    return StagedBound(
        rule=rule.key,
        duration=rule.duration,
        purge_within=rule.purge_within,
        backup_expiry=max(expiries) if expiries else None,
        backups=tuple(loc.key for loc in found),
    )
