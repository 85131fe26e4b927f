"""``Stores.by_adapter``: record types grouped by the adapter that holds them (one group per
adapter, whatever the number of stores it serves)."""

from __future__ import annotations

import privacy_kit as pk
from privacy_kit._scope import Stores
from privacy_kit.adapters import InMemoryAdapter


def _datamap_with_two_stores() -> pk.DataMap:
    data = pk.load_datamap(pk.example_path("datamap.yaml")).model_dump(mode="json")
    for rt in data["record_types"]:
        if rt["name"] in ("sessions", "usage_events"):
            rt["store"] = "events"
    return pk.DataMap.model_validate(data)


def test_one_group_per_adapter_each_record_type_once_in_order() -> None:
    dm = _datamap_with_two_stores()
    main, events = InMemoryAdapter(), InMemoryAdapter()
    stores = Stores.of(dm, {"main": main, "events": events})
    groups = stores.by_adapter(["sessions", "users", dm.record_type("usage_events"), "sessions"])
    assert [(adapter, [rt.name for rt in types]) for adapter, types in groups] == [
        (events, ["sessions", "usage_events"]),
        (main, ["users"]),
    ]


def test_one_adapter_serving_two_stores_is_one_group() -> None:
    dm = _datamap_with_two_stores()
    shared = InMemoryAdapter()
    stores = Stores.of(dm, {"main": shared, "events": shared})
    groups = stores.by_adapter(["users", "sessions", "bookings"])
    assert len(groups) == 1
    assert groups[0][0] is shared
    assert [rt.name for rt in groups[0][1]] == ["users", "sessions", "bookings"]
    assert stores.by_adapter([]) == []
