"""One change between two policy versions in user terms (:class:`PolicyChange`: its kind, the
item, where it is in the policy, a readable description, the subject kinds it concerns and the
policy's own text for the item), and the small helpers every change rule shares (which subject
kinds a category is collected from, joining localisable texts, listing values)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import attrs

from .._types import LocalizedText
from ..model._policy import Policy
from ..model._policy_rights import ChangeKind
from ..model._taxonomy import is_within

__all__ = ["PolicyChange"]


@attrs.frozen
class PolicyChange:
    """One change between two policy versions, in user terms.

    Attributes:
        kind: what kind of change (see :class:`~privacy_kit.ChangeKind`).
        key: the item that changed (a category, a recipient key, a right, ...).
        location: where it is, e.g. ``recipients[5]``, in the new policy (``side="new"``) or, for
            a removal, in the old one (``side="old"``).
        description: a readable English sentence saying what changed.
        subject_kinds: the kinds of data subject the change concerns.
        text: the policy's own localisable text for the changed item, if it has one.
        side: which version ``location`` points into.
        material: whether the materiality rule of the diff counts it as material.

    Example:
        >>> c = PolicyChange(ChangeKind.RIGHT_ADDED, "restriction", "rights[7]",
        ...                  "right 'restriction' is now offered", ("customer",))
        >>> print(c)
        right_added at rights[7]: right 'restriction' is now offered
    """

    kind: ChangeKind
    key: str
    location: str
    description: str
    subject_kinds: tuple[str, ...] = ()
    text: LocalizedText | None = None
    side: Literal["old", "new"] = "new"
    material: bool = False

    def __str__(self) -> str:
        return f"{self.kind.value} at {self.location}: {self.description}"


def _overlaps(a: str, b: str) -> bool:
    return is_within(a, b) or is_within(b, a)


def _all_kinds(policy: Policy) -> tuple[str, ...]:
    return tuple(s.kind for s in policy.subjects)


def _kinds_for(policy: Policy, categories: Iterable[str]) -> tuple[str, ...]:
    """The subject kinds from whom any of ``categories`` is collected."""
    keys = tuple(categories)
    found: set[str] = set()
    for c in policy.collection:
        if any(_overlaps(c.category, k) for k in keys):
            found.update(c.subjects or _all_kinds(policy))
    return tuple(k for k in _all_kinds(policy) if k in found)


def _within_kinds(policy: Policy, kinds: tuple[str, ...], limit: Iterable[str]) -> tuple[str, ...]:
    allowed = tuple(limit) or _all_kinds(policy)
    return tuple(k for k in kinds if k in allowed)


def _join(*texts: LocalizedText | None, sep: str = ": ") -> LocalizedText | None:
    present = [t for t in texts if t is not None]
    if not present:
        return None
    languages = sorted({lang for t in present for lang in t})
    return LocalizedText({lang: sep.join(t.get_text(lang) for t in present) for lang in languages})


def _listed(values: Iterable[str]) -> str:
    return ", ".join(values)
