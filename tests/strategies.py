"""Shared test data and hypothesis strategies for privacy_kit's models.

- ``example_policy_data()`` / ``example_datamap_data()``: fresh, mutable copies of the reference
  example as plain data (vary them to build malformed or crafted documents).
- ``minimal_policy_data()`` / ``minimal_datamap_data()``: the smallest valid documents.
- ``durations()``, ``duration_texts()``, ``localized_texts()``: value strategies.
- ``policy_data()`` / ``policies()`` and ``datamap_data()`` / ``datamaps()``: valid documents built
  by varying the example (its collection, recipients, retention rules, durations) and adding
  generated categories and purposes.
- ``partition_layouts()``: range partitions of a time field (month bounds, gaps, unbounded ends,
  a default partition or none), a sweep's instant near a bound, and the times of the rows.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import itertools
from typing import Any

import yaml
from hypothesis import strategies as st

import privacy_kit as pk

__all__ = [
    "datamap_data",
    "datamaps",
    "duration_texts",
    "durations",
    "example_datamap_data",
    "example_policy_data",
    "keys",
    "localized_texts",
    "minimal_datamap_data",
    "minimal_policy_data",
    "partition_layouts",
    "policies",
    "policy_data",
]


@functools.cache
def _example(name: str) -> str:
    return pk.example_path(name).read_text(encoding="utf-8")


def example_policy_data() -> dict[str, Any]:
    """The reference policy as plain data (a fresh copy each call)."""
    return yaml.safe_load(_example("policy.yaml"))  # type: ignore[no-any-return]


def example_datamap_data() -> dict[str, Any]:
    """The reference data map as plain data (a fresh copy each call)."""
    return yaml.safe_load(_example("datamap.yaml"))  # type: ignore[no-any-return]


def minimal_policy_data() -> dict[str, Any]:
    """The smallest valid policy: one subject kind, one category, one purpose, one rule."""
    return {
        "title": "Minimal notice",
        "version": "1",
        "effective": "2024-01-01",
        "controller": {"name": "Acme", "contacts": [{"kind": "email", "value": "p@acme.test"}]},
        "jurisdictions": ["gdpr"],
        "subjects": [{"kind": "customer", "description": "Customers"}],
        "collection": [
            {"category": "user.contact.email", "source": "provided", "purposes": ["support"]}
        ],
        "storage": {"locations": [{"key": "eu", "provider": "Acme", "country": "DE"}]},
        "retention": [
            {
                "key": "contact",
                "description": "Kept for a year",
                "categories": ["user.contact"],
                "trigger": "created",
                "duration": "P1Y",
            }
        ],
        "requests": {"channels": [{"key": "email", "kind": "email", "description": "Write"}]},
        "breach": {"notify_within": "PT72H", "description": "Within 72 hours"},
        "children": {"minimum_age": 16, "description": "Not for children"},
        "changes": {"description": "We post changes"},
    }


def minimal_datamap_data() -> dict[str, Any]:
    """The smallest valid data map matching :func:`minimal_policy_data` (no finding at all)."""
    return {
        "record_types": [
            {
                "name": "users",
                "subjects": [{"kind": "customer", "field": "id"}],
                "timestamps": {"created": "created_at"},
                "fields": [
                    {"name": "id", "type": "integer", "personal": False},
                    {"name": "email", "categories": ["user.contact.email"]},
                    {"name": "created_at", "type": "timestamp", "personal": False},
                ],
            }
        ]
    }


# --- value strategies -------------------------------------------------------------------------

_UNITS = ("years", "months", "weeks", "days", "hours", "minutes", "seconds")
_BOUNDS = {"years": 50, "months": 600, "weeks": 500, "days": 5000, "hours": 10**5}


@st.composite
def durations(draw: st.DrawFn, *, positive: bool = False) -> pk.Duration:
    """A ``Duration`` with a random mix of units (optionally never zero)."""
    parts = {unit: draw(st.integers(0, _BOUNDS.get(unit, 10**6)) | st.just(0)) for unit in _UNITS}
    if positive and not any(parts.values()):
        parts[draw(st.sampled_from(_UNITS))] = draw(st.integers(1, 30))
    return pk.Duration(**parts)


def duration_texts() -> st.SearchStrategy[str]:
    """Duration text in either accepted form: ISO 8601 or words."""
    return durations(positive=True).flatmap(
        lambda d: st.sampled_from([str(d), str(d).lower(), d.describe()])
    )


_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)
_SENTENCE = st.text(
    alphabet=st.characters(categories=("L", "N", "Zs", "P"), exclude_characters="\x85\u2028\u2029"),
    min_size=1,
    max_size=40,
).filter(lambda s: s.strip() == s and s != "")


def keys() -> st.SearchStrategy[str]:
    """A key that matches ``^[a-z][a-z0-9_]*$``."""
    return st.from_regex(r"\A[a-z][a-z0-9_]{0,10}\Z")


def localized_texts() -> st.SearchStrategy[dict[str, str]]:
    """``{en: ..., ar: ...}`` (sometimes more languages), as plain data."""
    return st.fixed_dictionaries(
        {"en": _SENTENCE, "ar": _SENTENCE},
        optional={"fr": _SENTENCE, "pt-BR": _SENTENCE},
    )


# --- documents --------------------------------------------------------------------------------

_SOURCES = ("provided", "automatic", "third_party")
_TRIGGERS = ("created", "event", "account_closed", "account_deactivated", "last_activity")


@st.composite
def policy_data(draw: st.DrawFn) -> dict[str, Any]:
    """A valid policy as plain data: the example, varied.

    Varies texts, the collection (a subset, with generated custom categories and purposes added),
    the recipients, and the retention rules (triggers, durations, legal minimums, overrides).
    """
    data = example_policy_data()
    data["version"] = draw(st.from_regex(r"\A[0-9]{1,4}(\.[0-9]{1,2})?\Z"))
    data["title"] = draw(localized_texts())
    data["children"]["minimum_age"] = draw(st.integers(0, 21))
    data["breach"]["notify_within"] = str(draw(durations(positive=True)))

    # custom vocabulary under a fresh root, so it never collides with the default taxonomy
    root = "custom_" + draw(_WORD)
    n = draw(st.integers(0, 3))
    leaves = draw(st.lists(_WORD, min_size=n, max_size=n, unique=True))
    categories = [{"key": root, "name": draw(localized_texts())}]
    categories += [
        {"key": f"{root}.{leaf}", "name": draw(localized_texts()), "special": draw(st.booleans())}
        for leaf in leaves
    ]
    purpose_key = f"{root}.purpose"
    data["taxonomy"] = {
        "base": "default",
        "categories": categories,
        "purposes": [
            {
                "key": purpose_key,
                "name": draw(localized_texts()),
                "legal_basis": draw(st.sampled_from([b.value for b in pk.LegalBasis])),
            }
        ],
    }
    # keep a subset of the example's collection (at least one entry), add the custom categories
    kept = draw(
        st.lists(
            st.sampled_from(range(len(data["collection"]))),
            min_size=1,
            max_size=len(data["collection"]),
            unique=True,
        )
    )
    data["collection"] = [data["collection"][i] for i in sorted(kept)]
    for c in categories:
        data["collection"].append(
            {
                "category": c["key"],
                "source": draw(st.sampled_from(_SOURCES)),
                "purposes": [purpose_key],
                "description": draw(localized_texts()),
            }
        )
    # recipients: any subset of the example's
    data["recipients"] = draw(
        st.lists(st.sampled_from(data["recipients"]), unique_by=lambda r: r["key"], max_size=5)
    )
    # retention: the example's rules with varied timing, plus one rule for the custom root
    for rule in data["retention"]:
        rule["trigger"] = draw(st.sampled_from(_TRIGGERS))
        duration = draw(st.none() | durations(positive=True))
        rule["duration"] = None if duration is None else str(duration)
        rule.pop("legal_minimum", None)
        if duration is not None and draw(st.booleans()):
            rule["legal_minimum"] = str(duration)  # equal to the legal minimum is allowed
        if rule.get("override") is not None:
            low = draw(durations(positive=True))
            high = draw(durations(positive=True))
            low, high = (low, high) if low <= high else (high, low)
            rule["override"]["minimum"], rule["override"]["maximum"] = str(low), str(high)
        if rule["duration"] is None:
            del rule["duration"]
    data["retention"].append(
        {
            "key": "custom_rule",
            "description": draw(localized_texts()),
            "categories": [root],
            "trigger": draw(st.sampled_from(_TRIGGERS)),
            "duration": draw(duration_texts()),
            "action": draw(st.sampled_from(["delete", "anonymize"])),
        }
    )
    return data


def policies() -> st.SearchStrategy[pk.Policy]:
    """Valid ``Policy`` models (see :func:`policy_data`)."""
    return policy_data().map(pk.load_policy)


@st.composite
def datamap_data(draw: st.DrawFn) -> dict[str, Any]:
    """A valid data map as plain data: a subset of the example's record types, varied."""
    data = example_datamap_data()
    by_name = {r["name"]: r for r in data["record_types"]}
    chosen = draw(st.lists(st.sampled_from(sorted(by_name)), unique=True, min_size=1))
    if any("account" in by_name[n] for n in chosen) and "users" not in chosen:
        chosen.append("users")  # account links must resolve
    record_types = []
    for name in chosen:
        rt = by_name[name]
        rt["store"] = draw(st.sampled_from(["main", "default", "archive"]))
        if draw(st.booleans()):
            rt["table"] = draw(st.from_regex(r"\A[a-z][a-z0-9_]{0,15}\Z"))
        for f in rt["fields"]:
            if f.get("categories") and draw(st.booleans()):
                f["description"] = draw(localized_texts())
        record_types.append(rt)
    data["record_types"] = record_types
    return data


def datamaps() -> st.SearchStrategy[pk.DataMap]:
    """Valid ``DataMap`` models (see :func:`datamap_data`)."""
    return datamap_data().map(pk.load_datamap)


def deep_copy(data: dict[str, Any]) -> dict[str, Any]:
    """A deep copy (for tests that mutate shared data)."""
    return copy.deepcopy(data)


_MONTHS = [dt.datetime(2022 + m // 12, m % 12 + 1, 1, tzinfo=dt.UTC) for m in range(60)]
_MICRO = dt.timedelta(microseconds=1)


@st.composite
def partition_layouts(draw: st.DrawFn) -> dict[str, Any]:
    """A range-partitioned time field: partitions, a default partition or not, ``now`` and rows.

    Returns ``{"partitions": [(lower, upper), ...], "default": bool, "now": datetime,
    "times": [datetime | None, ...]}``: bounds are month starts between 2022 and 2026 (``None``:
    MINVALUE below, MAXVALUE above), with gaps between some partitions; ``now`` is a bound plus
    one year, moved by one or two microseconds, hours or days, so a sweep deleting one year after the
    time has its cutoff on, just before or just after a bound; the times fall on and around the
    bounds and the cutoff, or anywhere (and NULL, which only a default partition holds). Without
    a default partition, every time lies inside a partition.
    """
    bounds = sorted(draw(st.sets(st.sampled_from(range(48)), min_size=2, max_size=9)))
    partitions: list[tuple[dt.datetime | None, dt.datetime | None]] = [
        (_MONTHS[a], _MONTHS[b])
        for a, b in itertools.pairwise(bounds)
        if draw(st.booleans()) or a == bounds[0]
    ]
    if draw(st.booleans()):
        partitions.insert(0, (None, _MONTHS[bounds[0]]))
    if draw(st.booleans()):
        partitions.append((_MONTHS[bounds[-1]], None))
    default = draw(st.booleans())
    anchor = _MONTHS[draw(st.sampled_from(bounds))]
    shift = draw(
        st.sampled_from(
            [
                -2 * _MICRO,
                -_MICRO,
                dt.timedelta(0),
                _MICRO,
                dt.timedelta(hours=7),
                -dt.timedelta(days=3),
            ]
        )
    )
    now = anchor.replace(year=anchor.year + 1) + shift
    edges = [t for lo, hi in partitions for t in (lo, hi) if t is not None]
    near = [t + d for t in [*edges, anchor + shift] for d in (-_MICRO, dt.timedelta(0), _MICRO)]
    anywhere = st.datetimes(
        min_value=dt.datetime(2021, 6, 1),
        max_value=dt.datetime(2027, 6, 1),
        timezones=st.just(dt.UTC),
    )
    options = st.sampled_from(near) | anywhere | (st.none() if default else st.nothing())
    times = draw(st.lists(options, min_size=1, max_size=60))

    def placed(t: dt.datetime | None) -> bool:
        return t is not None and any(
            (lo is None or lo <= t) and (hi is None or t < hi) for lo, hi in partitions
        )

    if not default:
        times = [t for t in times if placed(t)]
    return {"partitions": partitions, "default": default, "now": now, "times": times}
