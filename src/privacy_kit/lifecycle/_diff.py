"""What changed between two policy versions and which of it is material: :func:`diff` runs every
change rule over two versions into a :class:`PolicyDiff`, and marks each change material by the
documented rule (by default the kinds the **new** policy lists in ``changes.material``; pass
``material=``, a set of :class:`~privacy_kit.ChangeKind` or a callable, see :data:`Materiality`,
to decide otherwise); the diff yields one :class:`~privacy_kit.ChangeNotification` per material
change."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import attrs

from .._errors import ConfigurationError
from .._html import data_frame, html_table, records
from .._types import closest
from ..model._policy import Policy
from ..model._policy_rights import ChangeKind
from ._change import PolicyChange
from ._change_notice import ChangeNotification, _date_after, _notice_text
from ._diff_data import _collection_changes, _recipient_changes, _retention_changes
from ._diff_promises import _promise_changes
from ._diff_terms import (
    _breach_changes,
    _children_changes,
    _controller_changes,
    _right_changes,
    _security_changes,
    _storage_changes,
    _text_changes,
)
from ._views import DIFF_COLUMNS

__all__ = ["Materiality", "PolicyDiff", "diff"]

Materiality = Callable[["PolicyChange"], bool] | Iterable[ChangeKind | str] | None
"""How :func:`diff` decides materiality: ``None`` (the new policy's ``changes.material``), a set
of change kinds, or a callable taking a :class:`PolicyChange` and returning ``True`` if material."""


@attrs.frozen
class PolicyDiff:
    """Everything that changed from ``old`` to ``new``, and which of it is material.

    Attributes:
        old: the earlier policy.
        new: the later policy.
        changes: every change, in policy order.

    Example:
        >>> import privacy_kit as pk
        >>> old = pk.load_policy(pk.example_path())
        >>> new = old.replace(version="2025.1", children={**old.children.model_dump(), "minimum_age": 18})
        >>> d = diff(old, new)
        >>> [c.kind.value for c in d.changes], d.is_material
        (['minimum_age_changed'], True)
    """

    old: Policy
    new: Policy
    changes: tuple[PolicyChange, ...]

    @property
    def material(self) -> tuple[PolicyChange, ...]:
        """The material changes."""
        return tuple(c for c in self.changes if c.material)

    @property
    def is_material(self) -> bool:
        """Whether any change is material."""
        return any(c.material for c in self.changes)

    def of_kind(self, kind: ChangeKind | str) -> tuple[PolicyChange, ...]:
        """The changes of ``kind``."""
        wanted = ChangeKind(kind)
        return tuple(c for c in self.changes if c.kind is wanted)

    def __bool__(self) -> bool:
        return bool(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    def __repr__(self) -> str:
        return diff_repr(self)

    def _repr_html_(self) -> str:
        return diff_html(self)

    def to_records(self) -> list[dict[str, object]]:
        """One flat row per change, the same columns in every row (for a data frame).

        Columns: ``old_version, new_version, kind, key, location, side, material,
        subject_kinds, description`` (``subject_kinds`` joined with ``"; "``), so the diffs of
        several versions stack into one table.
        """
        return diff_records(self)

    def to_pandas(self) -> Any:
        """:meth:`to_records` as a ``pandas.DataFrame`` (same columns, even with no rows).

        Raises:
            ConfigurationError: if pandas is not installed (``pip install pandas``).
        """
        return data_frame(DIFF_COLUMNS, self.to_records(), of="PolicyDiff")

    def notifications(self) -> tuple[ChangeNotification, ...]:
        """One :class:`ChangeNotification` per material change (none if nothing is material).

        The notice must go out by the new version's effective date; the change takes effect
        then, or ``changes.notice_period`` later if the new policy sets one.
        """
        policy = self.new.changes
        notify_by = self.new.effective
        takes_effect = notify_by
        if policy.notice_period is not None:
            takes_effect = _date_after(notify_by, policy.notice_period)
        return tuple(
            ChangeNotification(
                change=change,
                channels=tuple(policy.notify_channels),
                subject_kinds=change.subject_kinds,
                notify_by=notify_by,
                takes_effect=takes_effect,
                text=_notice_text(self.new, change, takes_effect),
            )
            for change in self.material
        )


# -- diff -------------------------------------------------------------------------------------
def diff(old: Policy, new: Policy, *, material: Materiality = None) -> PolicyDiff:
    """List what changed from ``old`` to ``new`` in user terms, and mark the material changes.

    The materiality rule: by default a change is material when its kind is listed in the **new**
    policy's ``changes.material`` (the promise that applies from now on). Pass ``material`` as a
    set of kinds, or as a callable ``PolicyChange -> bool``, to decide otherwise.

    A right that is narrowed (a new refusal reason, fewer subjects, channels or jurisdictions) is
    reported as ``right_removed``, since part of it is taken away; widening as ``right_added``.
    A transfer whose mechanism changes is reported as one removed and one added.

    Args:
        old: the earlier version.
        new: the later version.
        material: the materiality rule (see above).

    Returns:
        A :class:`PolicyDiff`.

    Raises:
        ConfigurationError: ``material`` names an unknown change kind.

    Example:
        >>> import privacy_kit as pk
        >>> old = pk.load_policy(pk.example_path())
        >>> new = old.replace(version="2", breach={**old.breach.model_dump(), "notify_within": "P7D"})
        >>> d = diff(old, new)
        >>> print(d.changes[0])
        breach_promise_changed at breach: breach promise changed: notify within 7 days (was 72 hours)
        >>> d.is_material, diff(old, new, material={"breach_promise_changed"}).is_material
        (False, True)
    """
    rule = _materiality(material, new)
    changes = [*_changes(old, new)]
    return PolicyDiff(old, new, tuple(attrs.evolve(c, material=rule(c)) for c in changes))


def _materiality(material: Materiality, new: Policy) -> Callable[[PolicyChange], bool]:
    if material is None:
        kinds = frozenset(new.changes.material)
        return lambda change: change.kind in kinds
    if callable(material):
        return material
    chosen: set[ChangeKind] = set()
    for item in material:
        try:
            chosen.add(ChangeKind(item))
        except ValueError:
            names = [k.value for k in ChangeKind]
            hint = closest(str(item), names)
            suffix = f"; did you mean {hint!r}?" if hint else f"; known kinds: {names}"
            raise ConfigurationError(f"unknown change kind {item!r} in material{suffix}") from None
    frozen = frozenset(chosen)
    return lambda change: change.kind in frozen


def _changes(old: Policy, new: Policy) -> Iterator[PolicyChange]:
    yield from _collection_changes(old, new)
    yield from _recipient_changes(old, new)
    yield from _retention_changes(old, new)
    yield from _right_changes(old, new)
    yield from _storage_changes(old, new)
    yield from _promise_changes(old, new)
    yield from _security_changes(old, new)
    yield from _breach_changes(old, new)
    yield from _children_changes(old, new)
    yield from _controller_changes(old, new)
    yield from _text_changes(old, new)


# -- notebook views --------------------------------------------------------------------------


def diff_repr(d: PolicyDiff) -> str:
    return (
        f"PolicyDiff(old={d.old.version!r}, new={d.new.version!r}, changes={len(d.changes)}, "
        f"material={len(d.material)})"
    )


def diff_records(d: PolicyDiff) -> list[dict[str, object]]:
    return records(
        DIFF_COLUMNS,
        (
            {
                "old_version": d.old.version,
                "new_version": d.new.version,
                "kind": c.kind,
                "key": c.key,
                "location": c.location,
                "side": c.side,
                "material": c.material,
                "subject_kinds": c.subject_kinds,
                "description": c.description,
            }
            for c in d.changes
        ),
    )


def diff_html(d: PolicyDiff) -> str:
    title = (
        f"Policy {d.old.version} → {d.new.version}: {len(d.changes)} change(s), "
        f"{len(d.material)} material"
    )
    columns = ["material", "kind", "key", "location", "subject kinds", "description"]
    rows = [
        (
            c.material,
            c.kind.value,
            c.key,
            f"{c.location} ({c.side})",
            c.subject_kinds,
            c.description,
        )
        for c in d.changes
    ]
    caption = None if rows else "the two versions make the same promises: nothing changed"
    return html_table(title, columns, rows, caption=caption)
