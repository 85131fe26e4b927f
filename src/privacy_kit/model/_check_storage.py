"""check() findings on where data is stored: locations outside the policy's legal area without a
declared transfer, and data-map stores no storage location holds.

``storage-without-transfer`` (error): a location's country lies outside the area of one of the
policy's jurisdictions that restrict transfers (the EU/EEA for ``gdpr``, GB for ``uk_gdpr``, BR
for ``lgpd``; adequacy findings privacy_kit encodes count, e.g. the UK for ``gdpr``) and no ``storage.transfers`` entry names it as ``to_country`` (adequacy counts as a
mechanism). ``store-without-location``
(warning): once some location lists the ``stores`` it holds, a data-map store that none holds is
stored somewhere the policy does not say. A location naming a store the data map lacks is an
``unknown-reference`` error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .._errors import UnknownNameError
from .._types import closest
from ._jurisdictions import get_jurisdiction

if TYPE_CHECKING:
    from ._datamap import DataMap
    from ._policy import Policy

__all__: list[str] = []


def storage_findings(policy: Policy) -> Iterator[tuple[str, str, str, str]]:
    """``(code, severity, location, message)`` for the policy's storage locations."""
    laws = []
    for key in policy.jurisdictions:
        try:
            found = get_jurisdiction(key)
        except UnknownNameError:  # refused when the policy loads; nothing to cover here
            continue
        if found.restricts_transfers:
            laws.append(found)
    destinations = {t.to_country for t in policy.storage.transfers}
    for i, loc in enumerate(policy.storage.locations):
        if loc.country in destinations:
            continue
        outside = [j.key for j in laws if not j.allows_storage_in(loc.country)]
        if not outside:
            continue
        yield (
            "storage-without-transfer",
            "error",
            f"policy:storage.locations[{i}].country",
            (
                f"location {loc.key!r} stores data in {loc.country}, outside the area of "
                f"{', '.join(outside)}, which restrict{'s' if len(outside) == 1 else ''} "
                f"transfers, and no storage.transfers entry has to_country: {loc.country}; "
                "declare the transfer and its mechanism (adequacy counts)"
            ),
        )


def store_findings(policy: Policy, datamap: DataMap) -> Iterator[tuple[str, str, str, str]]:
    """``(code, severity, location, message)`` tying storage locations to data-map stores."""
    stores = datamap.stores
    listing = False
    held: set[str] = set()
    for i, loc in enumerate(policy.storage.locations):
        if not loc.stores:
            if loc.kind == "live":
                held.update(stores)
            continue
        listing = True
        for j, store in enumerate(loc.stores):
            if store in stores:
                held.add(store)
                continue
            hint = closest(store, stores)
            yield (
                "unknown-reference",
                "error",
                f"policy:storage.locations[{i}].stores[{j}]",
                f"location {loc.key!r} holds store {store!r}, which the data map does not have"
                + (f"; did you mean {hint!r}?" if hint else f"; its stores are {list(stores)}"),
            )
    if not listing:
        return
    for store in stores:
        if store in held:
            continue
        i = next(k for k, rt in enumerate(datamap.record_types) if rt.store == store)
        yield (
            "store-without-location",
            "warning",
            f"datamap:record_types[{i}].store",
            (
                f"store {store!r} is held by no live storage location: list it under a location's "
                "'stores' so the policy says where it is"
            ),
        )
