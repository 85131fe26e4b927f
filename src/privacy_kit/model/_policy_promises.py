"""The policy's promises about what it does *not* do, about browser signals, and its products.

* ``not_collected``: categories the policy promises never to collect ("we do not collect race,
  religion or health data"). A category cannot be both collected and declared not collected;
  :func:`privacy_kit.check` then holds the data map to the promise, categorised or not.
* ``signals``: how the service answers a browser's privacy signals (Do Not Track, Global Privacy
  Control): honoured or not, where. A notice mentions a signal only when the policy declares it.
* ``products``: the products or services one policy covers; collection entries, recipients,
  retention rules and data-map record types can be scoped to some of them (empty means all).

This module holds the models and their cross-reference validation (called once from the policy).
"""

import enum
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from pydantic import Field, model_validator

from .._types import LocalizedText, Model, closest
from ._taxonomy import is_within

__all__ = ["NotCollected", "Product", "Signal", "SignalKind"]


class NotCollected(Model):
    """Categories the policy promises it does not collect, with the policy's own words.

    A plain category key is accepted as shorthand for ``{categories: [key]}``.

    Example:
        >>> NotCollected.model_validate("user.health").categories
        ('user.health',)
        >>> NotCollected(categories=["user.biometric", "user.genetic"]).categories
        ('user.biometric', 'user.genetic')
    """

    categories: tuple[str, ...] = Field(min_length=1)
    description: LocalizedText | None = None

    @model_validator(mode="before")
    @classmethod
    def _plain_key(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"categories": [data]}
        return data


class SignalKind(enum.StrEnum):
    """Privacy signals a browser can send with a request."""

    DNT = "dnt"
    """Do Not Track (the ``DNT: 1`` header)."""
    GPC = "gpc"
    """Global Privacy Control (the ``Sec-GPC: 1`` header)."""


class Signal(Model):
    """How the service answers one kind of browser signal.

    Example:
        >>> s = Signal(signal="dnt", honoured=False)
        >>> s.signal, s.honoured
        (<SignalKind.DNT: 'dnt'>, False)
    """

    signal: SignalKind
    honoured: bool
    scope: LocalizedText | None = Field(
        default=None, description="Where or for what the answer holds, in the policy's words"
    )
    description: LocalizedText | None = None


class Product(Model):
    """A product or service the policy covers.

    Example:
        >>> Product(key="mail", name="Mail").key
        'mail'
    """

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: LocalizedText
    description: LocalizedText | None = None


class _Refs(Protocol):
    """What the policy's reference collector offers (kept structural: the policy imports us)."""

    problems: list[Any]

    def add(self, location: str, message: str) -> None: ...
    def category(self, location: str, key: str) -> None: ...
    def unique(self, section: str, keys: Iterable[str], what: str) -> None: ...


class _Parts(Protocol):
    """The sections of a policy these promises refer to."""

    @property
    def not_collected(self) -> Sequence[NotCollected]: ...
    @property
    def signals(self) -> Sequence[Signal]: ...
    @property
    def products(self) -> Sequence[Product]: ...
    @property
    def collection(self) -> Sequence[Any]: ...
    @property
    def recipients(self) -> Sequence[Any]: ...
    @property
    def retention(self) -> Sequence[Any]: ...


def promises_problems(policy: _Parts, refs: _Refs) -> None:
    """Add the located problems of ``not_collected``, ``signals`` and ``products`` to ``refs``.

    A category declared not collected must exist and must not also be collected (or shared); a
    signal is declared once; product keys are unique and every ``products`` list names them.
    """
    for i, nc in enumerate(policy.not_collected):
        for j, key in enumerate(nc.categories):
            where = f"not_collected[{i}].categories[{j}]"
            before = len(refs.problems)
            refs.category(where, key)
            if len(refs.problems) > before:
                continue
            for m, c in enumerate(policy.collection):
                if is_within(c.category, key):
                    refs.add(
                        where,
                        f"{key!r} is declared not collected, but collection[{m}] collects "
                        f"{c.category!r}; remove one of the two",
                    )
            for m, r in enumerate(policy.recipients):
                for n, k in enumerate(r.categories):
                    if is_within(k, key):
                        refs.add(
                            where,
                            f"{key!r} is declared not collected, but recipients[{m}]"
                            f".categories[{n}] shares {k!r}; remove one of the two",
                        )
    refs.unique("signals", (s.signal.value for s in policy.signals), "signal")
    keys = [p.key for p in policy.products]
    refs.unique("products", keys, "product")

    def product(where: str, key: str) -> None:
        if key not in keys:
            if not keys:
                refs.add(where, f"unknown product {key!r}; the policy declares no 'products'")
            else:
                hint = closest(key, keys)
                refs.add(
                    where,
                    f"unknown product {key!r}" + (f"; did you mean {hint!r}?" if hint else ""),
                )

    sections: tuple[tuple[str, Sequence[Any]], ...] = (
        ("collection", policy.collection),
        ("recipients", policy.recipients),
        ("retention", policy.retention),
    )
    for section, items in sections:
        for i, item in enumerate(items):
            for j, key in enumerate(getattr(item, "products", ())):
                product(f"{section}[{i}].products[{j}]", key)
