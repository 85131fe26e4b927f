"""The example's data map with some record types moved to a second store, ``analytics``: what
the tests of requests split by store (tests/test_export_parts.py, the Celery workers) run on."""

from __future__ import annotations

import privacy_kit as pk

ANALYTICS = ("support_tickets", "sessions", "usage_events")
"""The record types kept in the store ``analytics``."""


def two_stores(datamap: pk.DataMap) -> pk.DataMap:
    """``datamap`` with :data:`ANALYTICS` in the store ``analytics``."""
    data = datamap.model_dump(mode="json", by_alias=True, exclude_none=True)
    for rt in data["record_types"]:
        if rt["name"] in ANALYTICS:
            rt["store"] = "analytics"
    return pk.DataMap.model_validate(data)
