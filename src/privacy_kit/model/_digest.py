"""A data map's fingerprint: the SHA-256 of its canonical JSON.

Plans that travel between processes (:meth:`~privacy_kit.RetentionPlan.to_json`) carry the digest
of the data map they were made under, so a process whose data map differs (another release of
the host, a record type added or renamed) refuses to apply them instead of touching the wrong
records. The digest depends only on the data map's content, not on the file it was read from,
its key order or the process (no hash randomisation).

A data map is frozen, so its digest is computed once per data map object and remembered (by
identity, for as long as the object lives): planning and applying each check it, and serialising
the whole model costs about as much as a small plan's statements.
"""

from __future__ import annotations

import hashlib
import weakref

import orjson

from ._datamap import DataMap

__all__ = ["datamap_digest"]

_KNOWN: dict[int, tuple[weakref.ref[DataMap], str]] = {}
"""``id(datamap)`` -> (a weak reference to it, its digest); an entry leaves with its data map."""


def datamap_digest(datamap: DataMap) -> str:
    """The SHA-256 (64 hex digits) of ``datamap``'s canonical JSON (keys sorted, defaults included).

    Two data maps with the same content have the same digest, wherever and however they were
    loaded; any change to a record type, field, link or strategy changes it.

    Example:
        >>> import privacy_kit as pk
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> digest = pk.datamap_digest(dm)
        >>> len(digest), digest == pk.datamap_digest(pk.load_datamap(pk.example_path("datamap.yaml")))
        (64, True)
    """
    key = id(datamap)
    known = _KNOWN.get(key)
    if known is not None and known[0]() is datamap:
        return known[1]
    canonical = orjson.dumps(datamap.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256(canonical).hexdigest()
    _KNOWN[key] = (weakref.ref(datamap, lambda _gone: _KNOWN.pop(key, None)), digest)
    return digest
